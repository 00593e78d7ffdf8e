// Benchmark 6: the drift statistics the model-server recomputes once per second, as a share of one
// core. Measured three ways: the three public functions called separately (each sorts its inputs),
// driftStats (one sort per sample, what the monitor calls) and the monitor's own compute() (window
// copy + statistics + gauge updates).
import client from 'prom-client';
import { DriftMonitor } from '../src/pipeline/model-server/drift.ts';
import type { ModelArtifact } from '../src/pipeline/schema.ts';
import { driftStats, jensenShannon, ks2, psi, SortedSample } from '../src/stats/drift.ts';
import { median } from './lib.ts';

/** Deterministic normal-ish values (sum of uniforms from an LCG), so runs are comparable. */
function sample(n: number, seed: number, shift: number, scale: number): number[] {
  let s = seed >>> 0 || 1;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Array.from({ length: n }, () => shift + scale * (u() + u() + u() + u() - 2));
}

function timeIt(iterations: number, fn: () => void): { medianMs: number; p90Ms: number } {
  for (let i = 0; i < Math.min(20, iterations); i++) fn(); // JIT warm-up
  const t: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const a = performance.now();
    fn();
    t.push(performance.now() - a);
  }
  t.sort((x, y) => x - y);
  return { medianMs: median(t)!, p90Ms: t[Math.floor(0.9 * (t.length - 1))] };
}

export async function benchDrift(o: {
  features: number;
  window: number;
  reference: number;
  iterations: number;
}) {
  const names = Array.from({ length: o.features }, (_, i) => `f${i}`);
  const refs = names.map((_, i) => sample(o.reference, 100 + i, 0, 1));
  const wins = names.map((_, i) => sample(o.window, 200 + i, 0.3, 1.2));
  const sortedRefs = refs.map((r) => SortedSample.of(r));

  const separate = timeIt(o.iterations, () => {
    for (let i = 0; i < o.features; i++) {
      psi(sortedRefs[i], wins[i]);
      ks2(sortedRefs[i], wins[i]);
      jensenShannon(sortedRefs[i], wins[i]);
    }
  });
  const combined = timeIt(o.iterations, () => {
    for (let i = 0; i < o.features; i++) driftStats(sortedRefs[i], wins[i]);
  });

  const monitor = new DriftMonitor({ windowSize: o.window, features: names, metrics: new client.Registry() });
  const artifact = {
    reference: Object.fromEntries(names.map((n, i) => [n, { values: refs[i] }])),
  } as unknown as ModelArtifact;
  monitor.setReference(artifact, 'bench');
  names.forEach((n, i) => {
    for (const v of wins[i]) monitor.push(n, v);
  });
  const monitorCompute = timeIt(o.iterations, () => monitor.compute());
  monitor.stop();

  // Once per second per model-server replica: ms of CPU per 1000 ms = share of one core.
  const share = (ms: number) => ms / 1000;
  return {
    features: o.features,
    window: o.window,
    reference: o.reference,
    iterations: o.iterations,
    separate: { ...separate, coreShare: share(separate.medianMs) },
    driftStats: { ...combined, coreShare: share(combined.medianMs) },
    monitorCompute: { ...monitorCompute, coreShare: share(monitorCompute.medianMs) },
  };
}
