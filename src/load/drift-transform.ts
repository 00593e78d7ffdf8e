// Synthetic data drift applied to the payloads the load sends (the `drift` fault installs it with
// driver.setTransform). Drifted values are clamped to the Transaction schema so the traffic stays
// valid input: the point is to move the distribution, not to send garbage (that is
// feature-corruption's job).
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { Transaction, TX_TYPES } from '../pipeline/schema.ts';
import type { PayloadTransform } from './driver.ts';

export type DriftProfile =
  | { kind: 'step' }
  /** Intensity grows linearly from 0 at `startMs` to 1 at `startMs + durationMs`. */
  | { kind: 'ramp'; durationMs: number };

interface DriftBase {
  /** Epoch ms (same clock as tIntended) at which drift begins; intensity is 0 before. */
  startMs: number;
  profile?: DriftProfile;
}

export type DriftSpec =
  | (DriftBase & { kind: 'shift'; feature: string; delta: number })
  | (DriftBase & { kind: 'scale'; feature: string; factor: number })
  | (DriftBase & {
      kind: 'category-swap';
      feature: string;
      /** Category → replacement, e.g. { PAYMENT: 'TRANSFER' }. */
      mapping: Record<string, string>;
      /** Share of matching payloads swapped at full intensity (default 1). */
      fraction?: number;
      /** Seeds which payloads get swapped (default 1). */
      seed?: number;
    });

interface NumericRange {
  min: number;
  max: number;
  integer: boolean;
}

/** Valid ranges of the Transaction's numeric fields, read from the zod schema so they cannot diverge. */
export function transactionNumericRanges(): Record<string, NumericRange> {
  const out: Record<string, NumericRange> = {};
  for (const [name, field] of Object.entries(Transaction.shape)) {
    const f = field as unknown as {
      def?: { type?: string };
      minValue?: number | null;
      maxValue?: number | null;
      isInt?: boolean;
    };
    if (f.def?.type !== 'number') continue;
    out[name] = {
      min: f.minValue ?? Number.NEGATIVE_INFINITY,
      max: f.maxValue ?? Number.POSITIVE_INFINITY,
      integer: f.isInt === true,
    };
  }
  return out;
}

const CATEGORICAL: Record<string, readonly string[]> = { type: TX_TYPES };

export class DriftTransform {
  readonly spec: DriftSpec;
  private readonly range: NumericRange | undefined;
  private readonly rng: ReturnType<typeof xoroshiro128plus> | undefined;

  constructor(spec: DriftSpec) {
    this.spec = spec;
    if (spec.profile?.kind === 'ramp' && !(spec.profile.durationMs > 0))
      throw new Error('drift ramp durationMs must be > 0');
    if (spec.kind === 'category-swap') {
      const allowed = CATEGORICAL[spec.feature];
      if (!allowed)
        throw new Error(
          `drift category-swap: ${spec.feature} is not a categorical Transaction field (${Object.keys(CATEGORICAL).join(', ')})`,
        );
      for (const [from, to] of Object.entries(spec.mapping)) {
        if (!allowed.includes(from) || !allowed.includes(to))
          throw new Error(
            `drift category-swap: ${from} → ${to} is not within ${spec.feature} ∈ {${allowed.join(', ')}}`,
          );
      }
      const fr = spec.fraction ?? 1;
      if (!(fr >= 0 && fr <= 1)) throw new Error(`drift category-swap fraction must be in [0, 1], got ${fr}`);
      this.rng = xoroshiro128plus(spec.seed ?? 1);
    } else {
      this.range = transactionNumericRanges()[spec.feature];
      if (!this.range)
        throw new Error(
          `drift ${spec.kind}: ${spec.feature} is not a numeric Transaction field (${Object.keys(transactionNumericRanges()).join(', ')})`,
        );
      const v = spec.kind === 'shift' ? spec.delta : spec.factor;
      if (!Number.isFinite(v))
        throw new Error(`drift ${spec.kind}: ${spec.kind === 'shift' ? 'delta' : 'factor'} must be finite`);
    }
  }

  /** 0 before start, 1 at full effect. */
  intensityAt(tMs: number): number {
    const { startMs, profile } = this.spec;
    if (tMs < startMs) return 0;
    if (!profile || profile.kind === 'step') return 1;
    return Math.min(1, (tMs - startMs) / profile.durationMs);
  }

  /** The PayloadTransform to hand to the load driver. Returns a new object; the input is not mutated. */
  readonly apply: PayloadTransform = (payload, tIntendedMs) => {
    const s = this.intensityAt(tIntendedMs);
    const spec = this.spec;
    if (spec.kind === 'category-swap') {
      // Draw for every payload (not only matching ones) so the swap pattern depends on seq alone.
      const u = uniformFloat64(this.rng!);
      const cur = payload[spec.feature];
      if (s === 0 || typeof cur !== 'string' || !(cur in spec.mapping)) return payload;
      if (u >= s * (spec.fraction ?? 1)) return payload;
      return { ...payload, [spec.feature]: spec.mapping[cur] };
    }
    const cur = payload[spec.feature];
    if (s === 0 || typeof cur !== 'number') return payload;
    let v = spec.kind === 'shift' ? cur + s * spec.delta : cur * (1 + s * (spec.factor - 1));
    const r = this.range!;
    if (r.integer) v = Math.round(v);
    v = Math.min(r.max, Math.max(r.min, v));
    return { ...payload, [spec.feature]: v };
  };
}

/** Applies several transforms in order (e.g. one drift per feature). */
export function composeTransforms(...ts: (PayloadTransform | undefined)[]): PayloadTransform {
  const list = ts.filter((t): t is PayloadTransform => t !== undefined);
  return (payload, t) => list.reduce((p, f) => f(p, t), payload);
}

/** A payload transform as plain data: what crosses to a load worker thread (closures cannot). */
export type TransformSpec = DriftSpec;

/**
 * The active transforms by id, composed in installation order (re-installing an id keeps its
 * place; removing drops it). Each spec is built into its DriftTransform once, so a seeded
 * category swap keeps drawing from one sequence while it is active.
 */
/** The first payload a transform changed: its intended time and the feature before → after. */
export interface FirstChange {
  id: string;
  tIntended: number;
  feature: string;
  before: unknown;
  after: unknown;
}

/** First-change reports by transform id, for whoever awaits them (before or after they arrive). */
export class FirstChanges {
  private readonly seen = new Map<string, FirstChange>();
  private readonly waiting = new Map<string, ((c: FirstChange | undefined) => void)[]>();
  private closed = false;

  report(c: FirstChange): void {
    this.seen.set(c.id, c);
    for (const resolve of this.waiting.get(c.id) ?? []) resolve(c);
    this.waiting.delete(c.id);
  }

  wait(id: string): Promise<FirstChange | undefined> {
    const c = this.seen.get(id);
    if (c || this.closed) return Promise.resolve(c);
    return new Promise((resolve) => this.waiting.set(id, [...(this.waiting.get(id) ?? []), resolve]));
  }

  /** The load is over: no further payload will change; pending waits resolve undefined. */
  close(): void {
    this.closed = true;
    for (const list of this.waiting.values()) for (const resolve of list) resolve(undefined);
    this.waiting.clear();
  }
}

export class TransformSet {
  private readonly active = new Map<string, PayloadTransform>();
  private readonly onFirstChange: ((c: FirstChange) => void) | undefined;

  /** `onFirstChange` hears, once per installed transform, about the first payload it changed. */
  constructor(onFirstChange?: (c: FirstChange) => void) {
    this.onFirstChange = onFirstChange;
  }

  /** Installs (or with undefined removes) `id`; returns the composed transform (undefined if none). */
  set(id: string, spec: TransformSpec | undefined): PayloadTransform | undefined {
    if (spec) this.active.set(id, this.watched(id, new DriftTransform(spec)));
    else this.active.delete(id);
    const list = [...this.active.values()];
    if (list.length === 0) return undefined;
    return list.length === 1 ? list[0] : composeTransforms(...list);
  }

  // Fault start for drift is the first payload actually changed (a ramp or a partial swap leaves the
  // first ones alone), which only the thread building payloads can see.
  private watched(id: string, d: DriftTransform): PayloadTransform {
    const report = this.onFirstChange;
    if (!report) return d.apply;
    const feature = d.spec.feature;
    let seen = false;
    return (payload, tIntended) => {
      const out = d.apply(payload, tIntended);
      if (!seen && !Object.is(out[feature], payload[feature])) {
        seen = true;
        report({ id, tIntended, feature, before: payload[feature], after: out[feature] });
      }
      return out;
    };
  }
}
