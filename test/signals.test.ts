import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../src/journal/journal.ts';
import type { RequestRecord } from '../src/load/driver.ts';
import { type EvaluationInput, measure, type RunbookTargets } from '../src/runner/evaluate.ts';
import { extractSignals, JournalIndex } from '../src/runner/signals.ts';

// Detection signals come from what the pipeline and its monitoring emitted (scraped metrics,
// controller events), never from the harness's own request records: these journals and records are
// built so that the two disagree, and the answer must follow the pipeline.
const T = 1_800_000_000_000;

const scrape = (
  t: number,
  service: string,
  replica: string,
  samples: Record<string, number>,
): JournalEntry => ({
  ts_ms: t,
  type: 'scrape',
  service,
  replica,
  up: true,
  samples,
});

function records(from: number, to: number, f: (t: number) => Partial<RequestRecord> = () => ({})) {
  const out: RequestRecord[] = [];
  for (let t = from, seq = 0; t < to; t += 10)
    out.push({
      seq: seq++,
      tIntended: t,
      tSent: t,
      tDone: t + 10,
      latencyMs: 10,
      status: 200,
      outcome: 'ok',
      ...f(t),
    });
  return out;
}

const runbook = (signal: string): RunbookTargets => ({
  id: 'rb',
  detection: { signal, withinMs: 30_000 },
  mitigation: { automated: 'none', withinMs: 30_000 },
  mttrTargetMs: 60_000,
  slos: [],
});

const input = (
  recs: RequestRecord[],
  entries: JournalEntry[],
  extra: Partial<EvaluationInput> = {},
): EvaluationInput => ({
  records: recs,
  index: new JournalIndex(entries),
  phases: {
    steady: { from: T - 10_000, to: T },
    fault: { from: T, to: T + 20_000 },
    recovery: { from: T + 20_000, to: T + 30_000 },
    whole: { from: T - 10_000, to: T + 30_000 },
  },
  t0: T,
  t0s: [T],
  killedServices: [],
  stableForMs: 5000,
  endMs: T + 30_000,
  ...extra,
});

describe('detection signals from the pipeline', () => {
  it('error-rate is the gateway’s non-2xx share between scrapes, not the harness’s records', () => {
    // The harness saw errors from T+1 s, but the gateway's counters show none until T+4 s.
    const recs = records(T - 10_000, T + 10_000, (t) =>
      t >= T + 1000 && t < T + 6000 ? { outcome: 'error', status: 0 } : {},
    );
    const gw = (t: number, ok: number, bad: number) =>
      scrape(t, 'gateway', '0', {
        'gateway_requests_total{code="200",fallback="false"}': ok,
        ...(bad ? { 'gateway_requests_total{code="503",fallback="false"}': bad } : {}),
      });
    const entries = [
      gw(T - 1000, 1000, 0),
      gw(T + 1000, 1200, 0),
      gw(T + 3000, 1400, 0),
      gw(T + 4000, 1450, 50),
    ];
    const m = measure(input(recs, entries, { runbook: runbook('error-rate') }));
    expect(m.mttd).toMatchObject({ detected: true, ms: 4000, signal: 'error-rate' });
    // The report says what emitted it.
    expect(m.mttd?.source).toMatch(/^gateway metrics: 50 of 100 requests non-2xx/);
    // No gateway scrapes: nothing the pipeline emitted, so nothing detected (the records do not count).
    expect(measure(input(recs, [], { runbook: runbook('error-rate') })).mttd).toMatchObject({
      detected: false,
    });
  });

  it('fallback-engaged reads the model-server fallback counter, including a series that first appears', () => {
    const entries = [
      scrape(T - 500, 'model-server', '1', { 'model_server_predictions_total{decision="approve"}': 10 }),
      // prom-client creates the labelled series at its first increment: absent before means 0.
      scrape(T + 2500, 'model-server', '1', { 'model_server_fallback_total{reason="features_invalid"}': 3 }),
    ];
    const sig = extractSignals(new JournalIndex(entries));
    expect(sig.filter((s) => s.name === 'fallback-engaged')).toEqual([
      expect.objectContaining({ t: T + 2500, reason: 'features_invalid' }),
    ]);
    // Fallback answers in the records alone are no signal.
    const recs = records(T, T + 5000, () => ({ fallback: 'features_invalid' }));
    expect(measure(input(recs, [], { runbook: runbook('fallback-engaged') })).mttd?.detected).toBe(false);
  });

  it('drift detection uses the drifted feature’s gauge, PSI or KS alert', () => {
    const recs = records(T - 10_000, T + 20_000);
    const entries = [
      // Another feature's PSI flickers over the threshold 2 s after the drift started…
      scrape(T + 2000, 'model-server', '0', {
        'model_server_feature_drift_psi{feature="merchant_risk"}': 0.25,
        'model_server_feature_drift_psi{feature="amount"}': 0.05,
        'model_server_feature_drift_ks_alert{feature="amount"}': 0,
      }),
      // …while the drifted feature (amount) is flagged by KS at 6 s, its PSI still low.
      scrape(T + 6000, 'model-server', '0', {
        'model_server_feature_drift_psi{feature="amount"}': 0.08,
        'model_server_feature_drift_ks_alert{feature="amount"}': 1,
      }),
    ];
    const m = measure(input(recs, entries, { runbook: runbook('drift-gauge'), driftFeature: 'amount' }));
    expect(m.driftDetection).toMatchObject({ ms: 6000, feature: 'amount' });
    expect(m.mttd).toMatchObject({ detected: true, ms: 6000, signal: 'drift-gauge:amount' });
    expect(m.mttd?.source).toContain('KS alert for amount');
  });
});

describe('alert signals (a platform with its own monitoring)', () => {
  it('an alert journaled pending or firing is signal alert:<Name> at the moment it was read', () => {
    const alert = (t: number, name: string, state: string): JournalEntry => ({
      ts_ms: t,
      type: 'alert',
      name,
      state,
      source: 'http://127.0.0.1:9090',
    });
    const ix = new JournalIndex([
      alert(T + 1000, 'ModelServerReplicaDown', 'pending'),
      alert(T + 31_000, 'ModelServerReplicaDown', 'firing'),
      alert(T + 40_000, 'ModelServerReplicaDown', 'inactive'),
      alert(T + 2000, 'FeatureStoreDown', 'inactive'),
    ]);
    const got = extractSignals(ix).filter((s) => s.name.startsWith('alert:'));
    expect(got.map((s) => [s.t - T, s.name, s.state])).toEqual([
      [1000, 'alert:ModelServerReplicaDown', 'pending'],
      [31_000, 'alert:ModelServerReplicaDown', 'firing'],
    ]);
    expect(got[0].source).toBe('Prometheus alert ModelServerReplicaDown pending');
  });
});
