import { nowMs } from '../load/clock.ts';
import { type DriftSpec, DriftTransform } from '../load/drift-transform.ts';
import { parseRelativeChange } from '../scenario/units.ts';
import type { Fault } from './fault.ts';

function relativeChange(s: string): number {
  const r = parseRelativeChange(s);
  if (!r.ok) throw new Error(`drift amount: ${r.error}`);
  return r.value;
}

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
export const drift: Fault<'drift', DriftFaultSpec> = {
  type: 'drift',
  fromScenario(f) {
    const common = {
      feature: f.feature,
      mapping: f.kind === 'category-swap' && f.from && f.to ? { [f.from]: f.to } : undefined,
      fraction: f.fraction,
      profile: f.profile,
      rampDurationMs: f.rampDuration,
    };
    if (typeof f.amount !== 'string') return { ...common, kind: f.kind, amount: f.amount };
    // A relative amount (`+50%`) is a scale by 1 + the change, whether written as a shift or a scale.
    return { ...common, kind: f.kind === 'shift' ? 'scale' : f.kind, amount: 1 + relativeChange(f.amount) };
  },
  async prepare(spec, ctx) {
    const id = `drift-${++counter}`;
    const profile =
      spec.profile === 'ramp'
        ? { kind: 'ramp' as const, durationMs: spec.rampDurationMs ?? 10_000 }
        : { kind: 'step' as const };
    const build = (startMs: number): DriftSpec =>
      spec.kind === 'category-swap'
        ? {
            kind: 'category-swap',
            feature: spec.feature,
            mapping: spec.mapping ?? {},
            fraction: spec.fraction,
            startMs,
            profile,
            seed: Math.floor(ctx.random() * 2 ** 31),
          }
        : spec.kind === 'shift'
          ? { kind: 'shift', feature: spec.feature, delta: spec.amount ?? 0, startMs, profile }
          : { kind: 'scale', feature: spec.feature, factor: spec.amount ?? 1, startMs, profile };
    new DriftTransform(build(nowMs())); // validates the spec before anything is journaled as injected
    return {
      undo: { kind: 'load-transform', id },
      plan: { feature: spec.feature, kind: spec.kind, amount: spec.amount, mapping: spec.mapping, profile },
      inject: async () => {
        // The generator (its own thread) builds the transform from the spec. Fault start is the intended
        // time of the first payload it actually changed (a ramp or a partial category swap leaves the
        // first ones untouched), which the generator reports back.
        const startMs = await ctx.load.setTransform(id, build(nowMs()));
        const first = await ctx.load.firstChange(id);
        return {
          t0: first?.tIntended ?? startMs ?? nowMs(),
          details: {
            startMs,
            ...(first
              ? { first_drifted: { [first.feature]: [first.before, first.after] } }
              : { first_drifted: null, note: 'the load ended before the transform changed a payload' }),
          },
        };
      },
    };
  },
};
