// One interface for every fault. A fault first says how it will be undone (an UndoRecord, journaled
// before anything changes), then injects; revert uses only the UndoRecord, so a later
// `faultline cleanup` can undo it from the journal after the runner itself was killed.
import type { FirstChange, TransformSpec } from '../load/drift-transform.ts';
import type { PipelineEndpoints, StartedPlatform } from '../platforms/platform.ts';
import type { FaultOf, FaultType } from '../scenario/schema.ts';

// Undo records name services and links, never addresses or tokens: a port-forward or a port dies
// with the runner, and the journal must not hold credentials. Whoever reverts (the runner, or
// `faultline cleanup` through the platform's attach) resolves them against the live pipeline.
export type UndoRecord =
  | { kind: 'none'; reason: string }
  | { kind: 'feature-rows'; rows: StoredRow[]; absent: string[] }
  | { kind: 'toxic'; link: string; toxic: string }
  | { kind: 'link-enabled'; link: string }
  | { kind: 'service-stopped'; service: string }
  | { kind: 'alias'; model: string; alias: string; previous: string; injected: string }
  | { kind: 'load-transform'; id: string }
  | { kind: 'many'; undos: UndoRecord[] };

export interface StoredRow {
  user_id: string;
  event_timestamp: string;
  features: Record<string, unknown>;
}

export interface LoadHooks {
  /**
   * Installs (or with undefined removes) the payload transform `id`, applied to every request the
   * load sends. Plain data, not a closure: the generator runs in its own worker thread. Resolves
   * with the instant (epoch ms) from which requests are transformed: the spec's startMs, or when the
   * generator installed it if later; undefined on removal or when no load runs.
   */
  setTransform(id: string, spec: TransformSpec | undefined): Promise<number | undefined>;
  /** The first payload transform `id` changed; undefined if the load ended before it changed one. */
  firstChange(id: string): Promise<FirstChange | undefined>;
}

export interface FaultContext {
  platform: StartedPlatform;
  endpoints: PipelineEndpoints;
  load: LoadHooks;
  /** Seeded: the same scenario seed picks the same victims and entities. */
  random: () => number;
  /** Entity ids the online store holds (for corruption). */
  entities: () => string[];
  /** Runs a trainer job (bad-model-rollout); returns its parsed JSON result line. */
  trainer: (mode: string) => Promise<Record<string, unknown>>;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/** What an injection reports back: when the fault started acting, and what it did. */
export interface Injected {
  /**
   * Fault start (nowMs clock), per kind in docs/measurements.md: the instant the fault starts acting
   * on the system (signal sent, stop initiated, toxic added, rows written, first drifted payload,
   * alias moved). Stamped just before the acting call is issued, so nothing the fault caused precedes it.
   */
  t0: number;
  details?: Record<string, unknown>;
}

export interface Prepared {
  undo: UndoRecord;
  /** What will be done, for the journal and the report. */
  plan: Record<string, unknown>;
  inject: () => Promise<Injected>;
}

/**
 * One fault kind. `T` is its `type` in the scenario format, `S` its driver's own spec (plain units:
 * ms, fractions) that tests and other callers can build without a scenario file.
 */
export interface Fault<T extends FaultType, S> {
  readonly type: T;
  /** The validated scenario fault (units already parsed by the schema) → this driver's spec. */
  fromScenario(f: FaultOf<T>): S;
  /** Links this fault acts on, which the platform must put a fault proxy on before the run starts. */
  links?(f: FaultOf<T>): string[];
  /** Reads whatever the revert will need; changes nothing. */
  prepare(spec: S, ctx: FaultContext): Promise<Prepared>;
}

export async function http(method: string, url: string, body?: unknown, token?: string): Promise<unknown> {
  const res = await fetch(url, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → HTTP ${res.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : {};
}
