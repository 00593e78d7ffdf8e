import { nowMs } from '../load/clock.ts';
import { STORE_FEATURES } from '../pipeline/schema.ts';
import { type Fault, http, type StoredRow } from './fault.ts';

export type CorruptionMode = 'nan' | 'null' | 'out-of-range' | 'wrong-type' | 'stale';

export interface CorruptionSpec {
  mode: CorruptionMode;
  /** Share of entities to corrupt, 0–1. */
  fraction: number;
  features?: string[];
  /** Age given to rows in `stale` mode; must exceed the store's freshness TTL (default 30 days). */
  staleBySeconds?: number;
}

const READ_CHUNK = 200;

function corrupt(value: unknown, feature: string, mode: CorruptionMode): unknown {
  const spec = STORE_FEATURES.find((f) => f.name === feature);
  switch (mode) {
    case 'nan':
      return 'NaN'; // the feature-server's wire encoding of a stored NaN
    case 'null':
      return null;
    case 'out-of-range':
      return spec ? spec.max * 10 + 1 : -1;
    case 'wrong-type':
      return `corrupted:${String(value)}`;
    case 'stale':
      return value;
  }
}

/** Overwrites a share of the online store's rows with bad values, remembering the exact originals. */
export const featureCorruption: Fault<'feature-corruption', CorruptionSpec> = {
  type: 'feature-corruption',
  fromScenario: (f) => ({ mode: f.mode, fraction: f.fraction, features: f.features }),
  async prepare(spec, ctx) {
    const { featureServer, adminToken } = ctx.endpoints;
    const all = ctx.entities();
    const unknown = (spec.features ?? []).filter((f) => !STORE_FEATURES.some((s) => s.name === f));
    if (unknown.length) throw new Error(`feature-corruption: unknown features ${unknown.join(', ')}`);
    const features = spec.features?.length ? spec.features : STORE_FEATURES.map((f) => f.name);
    const n = Math.round(Math.min(1, Math.max(0, spec.fraction)) * all.length);
    // Seeded partial Fisher–Yates: the same seed corrupts the same entities.
    const pool = [...all];
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(ctx.random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    const chosen = pool.slice(0, n);
    const prior: StoredRow[] = [];
    for (let i = 0; i < chosen.length; i += READ_CHUNK) {
      const q = chosen
        .slice(i, i + READ_CHUNK)
        .map((u) => `user_id=${encodeURIComponent(u)}`)
        .join('&');
      const got = (await http('GET', `${featureServer}/v1/admin/rows?${q}`, undefined, adminToken)) as {
        rows: StoredRow[];
      };
      prior.push(...got.rows);
    }
    const present = new Set(prior.map((r) => r.user_id));
    const absent = chosen.filter((u) => !present.has(u));
    const staleTs = new Date(Date.now() - (spec.staleBySeconds ?? 30 * 86_400) * 1000).toISOString();
    const corrupted: StoredRow[] = prior.map((r) => ({
      user_id: r.user_id,
      event_timestamp: spec.mode === 'stale' ? staleTs : r.event_timestamp,
      features: Object.fromEntries(
        Object.entries(r.features).map(([k, v]) => [k, features.includes(k) ? corrupt(v, k, spec.mode) : v]),
      ),
    }));
    return {
      undo: { kind: 'feature-rows', rows: prior, absent },
      plan: {
        mode: spec.mode,
        fraction: spec.fraction,
        features,
        entities: chosen.length,
        sample: chosen.slice(0, 5),
      },
      inject: async () => {
        // Rows written: the first batch can be read back before its PUT returns.
        const t0 = nowMs();
        for (let i = 0; i < corrupted.length; i += 500) {
          await http(
            'PUT',
            `${featureServer}/v1/admin/rows`,
            { rows: corrupted.slice(i, i + 500) },
            adminToken,
          );
        }
        return { t0, details: { corrupted_rows: corrupted.length } };
      },
    };
  },
};
