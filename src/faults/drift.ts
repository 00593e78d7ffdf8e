import { nowMs } from '../load/clock.ts';
import { DriftTransform } from '../load/drift-transform.ts';
import type { Fault } from './fault.ts';

export interface DriftFaultSpec {
  feature: string;
  kind: 'shift' | 'scale' | 'category-swap';
  /** shift: added in feature units; scale: multiplier. */
  amount?: number;
  mapping?: Record<string, string>;
  fraction?: number;
  profile?: 'step' | 'ramp';
  rampDurationMs?: number;
}

let counter = 0;

/** Synthetic data drift: reshapes the payloads the load sends, from the moment it is injected. */
export const drift: Fault<DriftFaultSpec> = {
  type: 'drift',
  async prepare(spec, ctx) {
    const id = `drift-${++counter}`;
    const profile =
      spec.profile === 'ramp'
        ? { kind: 'ramp' as const, durationMs: spec.rampDurationMs ?? 10_000 }
        : { kind: 'step' as const };
    const build = (startMs: number) =>
      spec.kind === 'category-swap'
        ? new DriftTransform({
            kind: 'category-swap',
            feature: spec.feature,
            mapping: spec.mapping ?? {},
            fraction: spec.fraction,
            startMs,
            profile,
            seed: Math.floor(ctx.random() * 2 ** 31),
          })
        : spec.kind === 'shift'
          ? new DriftTransform({
              kind: 'shift',
              feature: spec.feature,
              delta: spec.amount ?? 0,
              startMs,
              profile,
            })
          : new DriftTransform({
              kind: 'scale',
              feature: spec.feature,
              factor: spec.amount ?? 1,
              startMs,
              profile,
            });
    build(nowMs()); // validates the spec before anything is journaled as injected
    return {
      undo: { kind: 'load-transform', id },
      plan: { feature: spec.feature, kind: spec.kind, amount: spec.amount, mapping: spec.mapping, profile },
      inject: () => {
        // Fault start = the intended time of the first payload the transform actually changed (a ramp
        // or a partial category swap leaves the first ones untouched): the injection settles then.
        const { apply } = build(nowMs());
        return new Promise((resolve) => {
          let t0: number | undefined;
          ctx.load.setTransform(id, (payload, tIntended) => {
            const out = apply(payload, tIntended);
            if (t0 === undefined && !Object.is(out[spec.feature], payload[spec.feature])) {
              t0 = tIntended;
              resolve({
                t0,
                details: { first_drifted: { [spec.feature]: [payload[spec.feature], out[spec.feature]] } },
              });
            }
            return out;
          });
        });
      },
    };
  },
};
