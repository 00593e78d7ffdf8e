import { badModelRollout } from './bad-model-rollout.ts';
import { dependencyOutage } from './dependency-outage.ts';
import { drift } from './drift.ts';
import type { Fault } from './fault.ts';
import { featureCorruption } from './feature-corruption.ts';
import { latency } from './latency.ts';
import { podKill } from './pod-kill.ts';

// biome-ignore lint/suspicious/noExplicitAny: each fault validates its own spec shape
export const FAULTS: Record<string, Fault<any>> = Object.fromEntries(
  [podKill, featureCorruption, latency, drift, badModelRollout, dependencyOutage].map((f) => [f.type, f]),
);
