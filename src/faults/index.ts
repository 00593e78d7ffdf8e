// The fault registry: one line per fault kind. The mapped type makes a kind the scenario format
// declares but nobody registered a type error.
import type { ScheduledFault } from '../scenario/schedule.ts';
import type { FaultOf, FaultType } from '../scenario/schema.ts';
import { badModelRollout } from './bad-model-rollout.ts';
import { dependencyOutage } from './dependency-outage.ts';
import { drift } from './drift.ts';
import type { Fault, FaultContext, Prepared } from './fault.ts';
import { featureCorruption } from './feature-corruption.ts';
import { latency } from './latency.ts';
import { podKill } from './pod-kill.ts';

export const FAULTS: { [T in FaultType]: Fault<T, unknown> } = {
  'pod-kill': podKill,
  'feature-corruption': featureCorruption,
  latency,
  drift,
  'bad-model-rollout': badModelRollout,
  'dependency-outage': dependencyOutage,
};

/** A validated scenario fault, translated by its own kind into its driver's spec and prepared. */
export function prepareFault<T extends FaultType>(f: FaultOf<T>, ctx: FaultContext): Promise<Prepared> {
  const kind: Fault<T, unknown> = FAULTS[f.type as T];
  return kind.prepare(kind.fromScenario(f), ctx);
}

/**
 * The links a scenario's faults act on, so the platform proxies only those: a relay elsewhere would
 * only add latency and CPU to what is measured. In declaration order (the order the file names them).
 */
export function linksToProxy(schedule: readonly ScheduledFault[]): string[] {
  const links = <T extends FaultType>(f: FaultOf<T>) => (FAULTS[f.type as T].links?.(f) ?? []) as string[];
  const declared = [...schedule].sort((a, b) => a.entry - b.entry);
  return [...new Set(declared.flatMap((s) => links(s.fault)))];
}
