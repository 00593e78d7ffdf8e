import { describe, expect, it } from 'vitest';
import type { RequestRecord } from '../src/load/driver.ts';
import { type EvaluationInput, evaluate, measure } from '../src/runner/evaluate.ts';
import type { JournalEntry } from '../src/runner/journal.ts';
import { planInjections } from '../src/runner/schedule.ts';
import { extractSignals, JournalIndex, platformActions, signalMatches } from '../src/runner/signals.ts';
import { type Check, parseCheck } from '../src/scenario/checks.ts';
import { ScenarioSchema } from '../src/scenario/schema.ts';

// Synthetic journals and request records with known answers: the evaluation logic in isolation.
const T = 1_800_000_000_000;

function records(
  from: number,
  to: number,
  perSec: number,
  f: (t: number) => Partial<RequestRecord> = () => ({}),
): RequestRecord[] {
  const out: RequestRecord[] = [];
  const step = 1000 / perSec;
  let seq = 0;
  for (let t = from; t < to; t += step) {
    const extra = f(t);
    out.push({
      seq: seq++,
      tIntended: t,
      tSent: t,
      tDone: t + (extra.latencyMs ?? 10),
      latencyMs: 10,
      status: 200,
      outcome: 'ok',
      modelVersion: '2',
      ...extra,
    });
  }
  return out;
}

const check = (src: string): Check => {
  const r = parseCheck(src);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

function scrape(t: number, service: string, replica: string, samples: Record<string, number>): JournalEntry {
  return { ts_ms: t, type: 'scrape', service, replica, up: true, samples };
}

const runbook = {
  id: 'rb',
  detection: { signal: 'breaker-open', withinMs: 5000 },
  mitigation: { automated: 'fallback', withinMs: 10_000 },
  mttrTargetMs: 20_000,
  slos: [{ metric: 'availability' as const, op: '>=' as const, value: 0.99 }],
};

function input(
  recs: RequestRecord[],
  entries: JournalEntry[],
  extra: Partial<EvaluationInput> = {},
): EvaluationInput {
  return {
    records: recs,
    index: new JournalIndex(entries),
    phases: {
      steady: { from: T, to: T + 10_000 },
      fault: { from: T + 10_000, to: T + 20_000 },
      recovery: { from: T + 20_000, to: T + 40_000 },
      whole: { from: T, to: T + 40_000 },
    },
    t0: T + 10_000,
    killedServices: [],
    runbook,
    stableForMs: 5000,
    endMs: T + 40_000,
    ...extra,
  };
}

describe('journal index', () => {
  it('sums counter increases over a window and treats a drop as a restart (PromQL increase semantics)', () => {
    const ix = new JournalIndex([
      scrape(T, 'gateway', '0', { gateway_retries_total: 5 }),
      scrape(T + 1000, 'gateway', '0', { gateway_retries_total: 8 }),
      scrape(T + 2000, 'gateway', '0', { gateway_retries_total: 2 }), // restarted: 2 new retries
      scrape(T + 3000, 'gateway', '0', { gateway_retries_total: 6 }),
      scrape(T + 4000, 'gateway', '0', { gateway_retries_total: 9 }),
    ]);
    expect(ix.increase('gateway_retries_total', T + 500, T + 3500)).toBe(3 + 2 + 4);
    expect(ix.increase('gateway_retries_total', T + 3500, T + 10_000)).toBe(3);
  });

  it('extracts named detection signals with their first observable instant', () => {
    const ix = new JournalIndex([
      scrape(T + 1000, 'model-server', '0', { model_server_circuit_breaker_state: 0 }),
      scrape(T + 2000, 'model-server', '0', { model_server_circuit_breaker_state: 1 }),
      scrape(T + 2000, 'gateway', '0', { 'gateway_ejections_total{upstream="1"}': 0 }),
      scrape(T + 3000, 'gateway', '0', { 'gateway_ejections_total{upstream="1"}': 1 }),
      scrape(T + 4000, 'model-server', '1', { 'model_server_feature_drift_psi{feature="amount"}': 0.31 }),
      {
        ts_ms: T + 5000,
        type: 'controller.event',
        event: { seq: 1, type: 'rollback', reason: 'error_rate' },
      },
      {
        ts_ms: T + 6000,
        type: 'controller.event',
        event: { seq: 2, type: 'alert', details: { name: 'HighErrorRate' } },
      },
      {
        ts_ms: T + 7000,
        type: 'platform.event',
        kind: 'replica-restart-scheduled',
        service: 'model-server',
        name: 'model-server-0',
      },
    ]);
    const sig = extractSignals(ix);
    const first = (name: string) => sig.find((s) => s.name === name)?.t;
    expect(first('breaker-open')).toBe(T + 2000);
    expect(first('gateway-ejection')).toBe(T + 3000);
    expect(first('drift-gauge:amount')).toBe(T + 4000);
    expect(first('controller-rollback')).toBe(T + 5000);
    expect(first('controller-alert:HighErrorRate')).toBe(T + 6000);
    // The supervisor restarting the replica is the platform's action (restart mitigation), not detection.
    expect(first('replica-restart')).toBeUndefined();
    expect(platformActions(ix).find((s) => s.name === 'replica-restart')?.t).toBe(T + 7000);
    expect(signalMatches('controller-alert', { t: 0, name: 'controller-alert:HighErrorRate' })).toBe(true);
    expect(signalMatches('controller-alert:Other', { t: 0, name: 'controller-alert:HighErrorRate' })).toBe(
      false,
    );
    expect(signalMatches('drift-gauge:amount', { t: 0, name: 'drift-gauge:amount' })).toBe(true);
  });
});

describe('evaluation', () => {
  // 100 req/s for 40 s; from 10 s to 14 s half the requests fail, and fallback answers 10–20 s.
  const recs = records(T, T + 40_000, 100, (t) => {
    const failing = t >= T + 10_000 && t < T + 14_000 && Math.round((t - T) / 10) % 2 === 0;
    return failing
      ? { outcome: 'error', status: 503, latencyMs: 30 }
      : t >= T + 10_000 && t < T + 20_000
        ? { fallback: 'breaker_open' }
        : {};
  });
  const entries = [
    scrape(T + 9000, 'model-server', '0', { model_server_circuit_breaker_state: 0 }),
    scrape(T + 11_500, 'model-server', '0', { model_server_circuit_breaker_state: 1 }),
    // The model-server's own fallback counter: the fallback mitigation's evidence.
    scrape(T + 12_500, 'model-server', '0', {
      model_server_circuit_breaker_state: 1,
      'model_server_fallback_total{reason="breaker_open"}': 40,
    }),
  ];

  it('measures availability per phase, MTTD from the runbook signal and MTTR by the definition', () => {
    const m = measure(input(recs, entries));
    expect(m.summaries.steady.availability).toBe(1);
    expect(m.summaries.fault.availability).toBeCloseTo(0.8, 2);
    expect(m.mttd).toMatchObject({ detected: true, ms: 1500, signal: 'breaker-open' });
    // SLO availability ≥ 99% per 250 ms bucket: broken until T+14 s, then it holds for good.
    expect(m.mttr).toMatchObject({ recovered: true, ms: 4000, breached: true });
    expect(m.mitigation).toMatchObject({ name: 'fallback', observed: true });
  });

  it('turns checks into verdicts carrying measured value, target, phase and an explanation', () => {
    const res = evaluate(
      [
        'availability >= 99% during fault',
        'availability >= 99.9% during steady',
        'mttr <= runbook',
        'mttd <= 1s',
        'fallback.share > 0 during fault',
      ].map(check),
      input(recs, entries),
    );
    const by = Object.fromEntries(res.map((r) => [r.check, r]));
    expect(by['availability >= 99% during fault']).toMatchObject({
      passed: false,
      phase: 'fault',
      target: 0.99,
    });
    expect(by['availability >= 99% during fault'].measured).toBeCloseTo(0.8, 2);
    expect(by['availability >= 99% during fault'].explanation).toMatch(
      /of 1000 requests succeeded over the fault phase/,
    );
    expect(by['availability >= 99.9% during steady'].passed).toBe(true);
    expect(by['mttr <= runbook']).toMatchObject({
      passed: true,
      measured: 4000,
      target: 20_000,
      phase: 'event',
    });
    expect(by['mttr <= runbook'].targetText).toContain('runbook rb');
    expect(by['mttd <= 1s']).toMatchObject({ passed: false, measured: 1500 });
    expect(by['fallback.share > 0 during fault'].passed).toBe(true);
  });

  it('observes the restart mitigation when the replacement is ready, not when it is scheduled', () => {
    const restartRunbook = { ...runbook, mitigation: { automated: 'restart', withinMs: 30_000 } };
    const scheduled: JournalEntry = {
      ts_ms: T + 10_100,
      type: 'platform.event',
      kind: 'replica-restart-scheduled',
      service: 'model-server',
      name: 'model-server-0',
    };
    const ready: JournalEntry = {
      ts_ms: T + 10_900,
      type: 'platform.event',
      kind: 'replica-ready',
      service: 'model-server',
      name: 'model-server-0',
      details: { since_start_ms: 700 },
    };
    const opts = { runbook: restartRunbook, killedServices: ['model-server'] };
    expect(measure(input(recs, [scheduled, ready], opts)).mitigation).toMatchObject({
      name: 'restart',
      observed: true,
      t: T + 10_900,
      evidence:
        'supervisor replaced model-server-0; ready 800 ms after the restart was scheduled (700 ms after its process started)',
    });
    expect(measure(input(recs, [scheduled], opts)).mitigation).toMatchObject({
      observed: false,
      evidence: 'the supervisor scheduled a replacement for model-server-0, which never became ready',
    });
    // Another replica's readiness is not this replacement's.
    expect(
      measure(input(recs, [scheduled, { ...ready, name: 'model-server-1' }], opts)).mitigation,
    ).toMatchObject({
      observed: false,
    });
    expect(measure(input(recs, [], opts)).mitigation).toMatchObject({ observed: false });
  });

  it('fails MTTR when the SLOs never hold for stableFor before the end', () => {
    const broken = records(T, T + 40_000, 100, (t) =>
      t >= T + 10_000 && Math.round((t - T) / 10) % 3 === 0 ? { outcome: 'error', status: 502 } : {},
    );
    const [r] = evaluate([check('mttr <= runbook')], input(broken, entries));
    expect(r).toMatchObject({ passed: false, measured: null });
    expect(r.explanation).toMatch(/not recovered/);
  });

  it('measures every fault occurrence and reports the worst', () => {
    // Two outages: 10–12 s and 25–31 s; MTTR is the second, longer one.
    const twice = records(T, T + 40_000, 100, (t) =>
      (t >= T + 10_000 && t < T + 12_000) || (t >= T + 25_000 && t < T + 31_000)
        ? { outcome: 'error', status: 503 }
        : {},
    );
    const m = measure(input(twice, entries, { t0s: [T + 10_000, T + 25_000] }));
    expect(m.mttr).toMatchObject({ recovered: true, ms: 6000, occurrences: 2 });
    // The breaker signal was seen only after the first occurrence: the second went undetected.
    expect(m.mttd).toMatchObject({ detected: false, occurrences: 2 });
  });

  it('reports no fault instead of inventing a measurement', () => {
    const [r] = evaluate([check('mttd <= runbook')], input(recs, entries, { t0: undefined }));
    expect(r).toMatchObject({ passed: false, measured: null });
    expect(r.explanation).toMatch(/no fault took effect/);
  });
});

describe('fault schedule', () => {
  it('expands repeats and parallel groups into injections with their windows', () => {
    const scenario = ScenarioSchema.parse({
      apiVersion: 'faultline/v1',
      kind: 'Scenario',
      metadata: { name: 'x' },
      spec: {
        load: { rate: '10/s', duration: '60s' },
        faults: [
          {
            type: 'pod-kill',
            at: '10s',
            target: { service: 'model-server', count: 1 },
            repeat: { every: '15s', times: 3 },
          },
          {
            at: '20s',
            parallel: [
              { type: 'latency', link: 'model-server->feature-server', latency: '100ms', duration: '5s' },
              { type: 'dependency-outage', service: 'registry', duration: '8s' },
            ],
          },
        ],
      },
    });
    const plan = planInjections(scenario.spec.faults, 60_000);
    expect(plan.map((p) => [p.fault.type, p.atMs, p.revertAtMs, p.windowEndMs])).toEqual([
      ['pod-kill', 10_000, undefined, 20_000],
      ['latency', 20_000, 25_000, 25_000],
      ['dependency-outage', 20_000, 28_000, 28_000],
      ['pod-kill', 25_000, undefined, 35_000],
      ['pod-kill', 40_000, undefined, 50_000],
    ]);
  });
});
