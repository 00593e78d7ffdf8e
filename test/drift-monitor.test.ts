import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../src/journal/journal.ts';
import { DriftTransform } from '../src/load/drift-transform.ts';
import { parseMetrics } from '../src/pipeline/controller/scrape.ts';
import { DriftMonitor } from '../src/pipeline/model-server/drift.ts';
import type { ModelArtifact } from '../src/pipeline/schema.ts';
import { PayloadGenerator } from '../src/pipeline/trainer/data.ts';
import { extractSignals, JournalIndex } from '../src/runner/signals.ts';

// A heavy-tailed shift: `amount` × 4. PSI's equal-width bins (over the pooled range, which the
// longest tail sets) keep most values in the first bins, so PSI barely moves; the KS test sees the
// shifted distribution function. The monitor must flag it, and the runbook's drift-gauge signal
// must read that flag from the scraped metrics.

const N = 1000;
const amounts = (seed: number, drift?: DriftTransform) => {
  const gen = new PayloadGenerator(seed);
  return Array.from({ length: N }, () => {
    const p = gen.next() as unknown as Record<string, unknown>;
    return (drift ? drift.apply(p, 1) : p).amount as number;
  });
};

async function monitorOf(live: number[]) {
  const metrics = new client.Registry();
  const mon = new DriftMonitor({ windowSize: N, features: ['amount'], minSamples: 500, metrics });
  // The reference is a training-like sample, as the trainer stores it in the artifact.
  mon.setReference({ reference: { amount: { values: amounts(101) } } } as unknown as ModelArtifact, '1');
  for (const v of live) mon.push('amount', v);
  mon.compute();
  const samples: Record<string, number> = {};
  for (const s of parseMetrics(await metrics.metrics())) {
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    samples[labels ? `${s.name}{${labels}}` : s.name] = s.value;
  }
  return { report: mon.report().features.amount, samples };
}

const scrapeEntry = (samples: Record<string, number>): JournalEntry => ({
  ts_ms: 5000,
  type: 'scrape',
  service: 'model-server',
  replica: '0',
  up: true,
  samples,
});

describe('drift monitor: KS beside PSI', () => {
  it('flags amount × 4 by KS while PSI stays under its 0.2 threshold, and drift-gauge:amount fires', async () => {
    const scale4 = new DriftTransform({ kind: 'scale', feature: 'amount', factor: 4, startMs: 0 });
    const { report, samples } = await monitorOf(amounts(202, scale4));
    // What PSI alone would have said: no drift.
    expect(report.psi).not.toBeNull();
    expect(report.psi!).toBeLessThan(0.2);
    expect(report.ks_pvalue!).toBeLessThanOrEqual(0.05);
    expect(report.ks_statistic!).toBeGreaterThan(0.4);
    expect(samples['model_server_feature_drift_ks_alert{feature="amount"}']).toBe(1);
    const sig = extractSignals(new JournalIndex([scrapeEntry(samples)]));
    expect(sig.map((s) => s.name)).toContain('drift-gauge:amount');
  });

  it('does not flag a significant but small gap (the size live traffic shows against the reference undrifted)', async () => {
    // amount × 1.2: KS D ≈ 0.07 at p ≈ 0.02 — the range measured between undrifted live traffic and the
    // artifact's training reference (D 0.05–0.09), which p <= 0.05 alone would flag all the time.
    const small = new DriftTransform({ kind: 'scale', feature: 'amount', factor: 1.2, startMs: 0 });
    const { report, samples } = await monitorOf(amounts(202, small));
    expect(report.ks_pvalue!).toBeLessThanOrEqual(0.05);
    expect(report.ks_statistic!).toBeLessThan(0.15);
    expect(samples['model_server_feature_drift_ks_alert{feature="amount"}']).toBe(0);
  });

  it('does not flag undrifted traffic', async () => {
    const { report, samples } = await monitorOf(amounts(202));
    expect(report.ks_pvalue!).toBeGreaterThan(0.05);
    expect(samples['model_server_feature_drift_ks_alert{feature="amount"}']).toBe(0);
    expect(extractSignals(new JournalIndex([scrapeEntry(samples)]))).toEqual([]);
  });
});
