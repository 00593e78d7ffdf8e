// Synthetic data drift applied to the payloads the load sends. The transform itself (DriftSpec,
// DriftTransform) lives in the dependency-free portable.ts, which exported k6 scripts import too;
// this module adds what needs the project: the ranges read from the zod schema (the authority the
// portable copy is tested against), composition, and the per-id bookkeeping the drift fault uses.
import { Transaction } from '../pipeline/schema.ts';
import type { PayloadTransform } from './driver.ts';
import { type DriftSpec, DriftTransform } from './portable.ts';

export type { DriftProfile, DriftSpec } from './portable.ts';
export { DriftTransform } from './portable.ts';

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
