import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../src/journal/journal.ts';
import type { RequestRecord } from '../src/load/driver.ts';
import { type EvaluationInput, evaluate, measure } from '../src/runner/evaluate.ts';
import { extractSignals, JournalIndex, platformActions, signalMatches } from '../src/runner/signals.ts';
import { type Check, parseCheck } from '../src/scenario/checks.ts';
import { plannedInjections } from '../src/scenario/schedule.ts';
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
        kind: 'replacement-scheduled',
        service: 'model-server',
        name: 'model-server-0',
        details: { replaces: 'model-server-0' },
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
    // SLO availability ≥ 99% over windows of 100 requests: every other request fails until T+14 s
    // (last error at 13.98 s). The window anchored at 13.96 s holds two errors (the last violation),
    // the one at 13.98 s only one (99 %): recovery from the next request, 13.97 s, ± the 10 ms spacing.
    expect(m.mttr).toMatchObject({ recovered: true, ms: 3970, resolutionMs: 10, breached: true });
    expect(m.mttr).toMatchObject({ sloSource: 'runbook', slos: ['availability >= 99%'] });
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
      measured: 3970,
      measuredText: expect.stringMatching(/±/),
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
      kind: 'replacement-scheduled',
      service: 'model-server',
      name: 'model-server-0',
      details: { replaces: 'model-server-0', delayMs: 0 },
    };
    const ready: JournalEntry = {
      ts_ms: T + 10_900,
      type: 'platform.event',
      kind: 'replica-ready',
      service: 'model-server',
      name: 'model-server-0',
      details: { since_start_ms: 700, replaces: 'model-server-0' },
    };
    const opts = { runbook: restartRunbook, killedServices: ['model-server'] };
    expect(measure(input(recs, [scheduled, ready], opts)).mitigation).toMatchObject({
      name: 'restart',
      observed: true,
      t: T + 10_900,
      evidence:
        'the platform replaced model-server-0; ready 800 ms after the restart was scheduled (700 ms after its process started)',
    });
    expect(measure(input(recs, [scheduled], opts)).mitigation).toMatchObject({
      observed: false,
      evidence: 'the platform scheduled a replacement for model-server-0, which never became ready',
    });
    // Another replica's readiness is not this replacement's.
    expect(
      measure(
        input(
          recs,
          [
            scheduled,
            {
              ...ready,
              name: 'model-server-1',
              details: { since_start_ms: 700, replaces: 'model-server-1' },
            },
          ],
          opts,
        ),
      ).mitigation,
    ).toMatchObject({
      observed: false,
    });
    // A replacement with a new name (a Kubernetes pod) is matched by what it replaces.
    const podGone = {
      ...scheduled,
      name: 'model-server-7f9c-abcde',
      details: { replaces: 'model-server-7f9c-abcde' },
    };
    const podReady = {
      ...ready,
      name: 'model-server-7f9c-fghij',
      details: { since_start_ms: 700, replaces: 'model-server-7f9c-abcde' },
    };
    expect(measure(input(recs, [podGone, podReady], opts)).mitigation).toMatchObject({
      observed: true,
      t: T + 10_900,
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
    // Each outage ends at its last failed request (11.99 s, 30.99 s): 1.99 s and 5.99 s after its start.
    expect(m.mttr).toMatchObject({ recovered: true, ms: 5990, occurrences: 2 });
    // The breaker signal was seen only after the first occurrence: the second went undetected.
    expect(m.mttd).toMatchObject({ detected: false, occurrences: 2 });
  });

  it('fails MTTR when the system holds for stableFor after t0 and then breaks for good', () => {
    // Issue 9: this read "recovered, MTTR 0" (the first stable period after t0).
    const late = records(T, T + 40_000, 100, (t) =>
      t >= T + 16_000 ? { latencyMs: 900, tDone: t + 900 } : {},
    );
    const rb = {
      ...runbook,
      slos: [...runbook.slos, { metric: 'latency.p99' as const, op: '<=' as const, value: 500 }],
    };
    const [r] = evaluate([check('mttr <= runbook')], input(late, entries, { runbook: rb }));
    expect(r).toMatchObject({ passed: false, measured: null });
    expect(r.explanation).toMatch(/not recovered.*latency\.p99/);
  });

  it('says "no SLO breach" (not 0 ms) when the fault never breached an SLO, and passes', () => {
    const healthy = records(T, T + 40_000, 100);
    const m = measure(input(healthy, entries));
    expect(m.mttr).toMatchObject({ recovered: true, breached: false });
    expect(m.mttr?.ms).toBeUndefined();
    const [r] = evaluate([check('mttr <= runbook')], input(healthy, entries), m);
    expect(r).toMatchObject({ passed: true, measured: 0, measuredText: 'no SLO breach' });
    expect(r.explanation).toMatch(/^no SLO breach/);
  });

  it('without runbook SLOs, recovers to the steady-state checks that are SLI comparisons', () => {
    const steadyChecks = ['availability >= 99%', 'throughput >= 50/s', 'latency.p99 <= 200ms'].map((x) => {
      const r = parseCheck(x, { context: 'steady' });
      if (!r.ok) throw new Error(r.error);
      return r.value;
    });
    const res = evaluate([check('mttr <= 10s')], input(recs, entries, { runbook: undefined, steadyChecks }));
    expect(res[0]).toMatchObject({ passed: true, measured: 3970 });
    expect(res[0].explanation).toContain('steady-state checks that are SLI comparisons');
    expect(res[0].explanation).toContain('availability >= 99%, latency.p99 <= 200ms');
    expect(res[0].explanation).not.toContain('throughput');
    // Nothing to recover to: the check fails and says why.
    const none = evaluate(
      [check('mttr <= 10s')],
      input(recs, entries, { runbook: undefined, steadyChecks: [] }),
    );
    expect(none[0]).toMatchObject({ passed: false, measured: null });
    expect(none[0].explanation).toMatch(/no steady-state check is an SLI comparison/);
  });

  it('reports no fault instead of inventing a measurement', () => {
    const [r] = evaluate([check('mttd <= runbook')], input(recs, entries, { t0: undefined }));
    expect(r).toMatchObject({ passed: false, measured: null });
    expect(r.explanation).toMatch(/no fault took effect/);
  });
});

describe('missing evidence is inconclusive, never a silent pass', () => {
  const recs = records(T, T + 40_000, 100);
  // Counters scraped every second across the whole run: 2 gateway retries and 1 feature-fetch retry
  // during the fault phase (10–20 s), 1 retry-budget refusal.
  const scrapes = (from: number, to: number): JournalEntry[] => {
    const out: JournalEntry[] = [];
    for (let t = from; t <= to; t += 1000) {
      const inFault = t > T + 12_000;
      out.push(
        scrape(t, 'gateway', '0', {
          gateway_retries_total: inFault ? 2 : 0,
          gateway_retry_budget_exhausted_total: inFault ? 1 : 0,
        }),
        scrape(t, 'model-server', '0', { model_server_feature_fetch_retries_total: inFault ? 1 : 0 }),
      );
    }
    return out;
  };
  const byCheck = (srcs: string[], inp: EvaluationInput) =>
    Object.fromEntries(evaluate(srcs.map(check), inp).map((r) => [r.check, r]));

  it('counts counters only when a series is scraped across the window, and says what is missing otherwise', () => {
    const srcs = [
      'retries.total == 0 during fault',
      'retries.amplification <= 20% during fault',
      'retry_budget.exhausted == 0 during fault',
    ];
    // No scrape at all (e.g. the steady-state hypothesis, judged with an empty journal index).
    const none = byCheck(srcs, input(recs, []));
    for (const r of Object.values(none)) {
      expect(r).toMatchObject({ status: 'inconclusive', passed: false, measured: null, measuredText: 'n/a' });
      expect(r.explanation).toMatch(/^inconclusive: no scrape of \S+_total.* spans the fault phase/);
    }
    expect(none['retries.total == 0 during fault'].explanation).toContain(
      'gateway_retries_total or model_server_feature_fetch_retries_total',
    );
    // Scrapes that start inside the fault phase do not span it: the increase before them is unknown.
    const late = byCheck(srcs, input(recs, scrapes(T + 15_000, T + 40_000)));
    for (const r of Object.values(late)) expect(r.status).toBe('inconclusive');
    // Only the model-server counter spans: the gateway's share of the total is unknown.
    const partial = byCheck(
      ['retries.total == 0 during fault'],
      input(
        recs,
        scrapes(T, T + 40_000).filter((e) => e.service === 'model-server'),
      ),
    );
    expect(partial['retries.total == 0 during fault'].explanation).toMatch(
      /no scrape of gateway_retries_total spans/,
    );
    // Spanning scrapes: real measurements, which pass or fail on their value.
    const full = byCheck(srcs, input(recs, scrapes(T, T + 40_000)));
    expect(full['retries.total == 0 during fault']).toMatchObject({ status: 'failed', measured: 3 });
    expect(full['retries.amplification <= 20% during fault']).toMatchObject({
      status: 'passed',
      passed: true,
    });
    expect(full['retries.amplification <= 20% during fault'].measured).toBeCloseTo(2 / 1000, 6);
    expect(full['retry_budget.exhausted == 0 during fault']).toMatchObject({ status: 'failed', measured: 1 });
  });

  it('a series that first appears mid-window adds only what it grew by after its first scrape (PromQL increase)', () => {
    const entries = [
      ...scrapes(T, T + 40_000),
      // Replica 1 restarted at 14 s: its counter appears at 3 and grows to 7 by the end of the fault.
      scrape(T + 15_000, 'model-server', '1', { model_server_feature_fetch_retries_total: 3 }),
      scrape(T + 16_000, 'model-server', '1', { model_server_feature_fetch_retries_total: 7 }),
    ];
    const r = byCheck(['retries.total <= 10 during fault'], input(recs, entries));
    // Gateway 2 + replica 0's 1 + replica 1's growth after its first scrape (7 − 3).
    expect(r['retries.total <= 10 during fault']).toMatchObject({ status: 'passed', measured: 2 + 1 + 4 });
  });

  it('data_loss without a corruption to compare is inconclusive, not 0', () => {
    const [missing] = evaluate([check('data_loss == 0')], input(recs, []));
    expect(missing).toMatchObject({ status: 'inconclusive', passed: false, measured: null });
    expect(missing.explanation).toMatch(/^inconclusive: no feature-store rows were compared/);
    const [none] = evaluate([check('data_loss == 0')], input(recs, [], { dataLoss: 0 }));
    expect(none).toMatchObject({ status: 'passed', passed: true, measured: 0 });
    const [lost] = evaluate([check('data_loss == 0')], input(recs, [], { dataLoss: 4 }));
    expect(lost).toMatchObject({ status: 'failed', measured: 4 });
  });

  it('a phase without requests is inconclusive for every per-request metric (no silent 0)', () => {
    // The load stopped at 9 s: nothing was intended in the fault phase.
    const early = records(T, T + 9000, 100);
    const srcs = [
      'availability >= 99% during fault',
      'error_rate <= 1% during fault',
      'throughput <= 1000/s during fault',
      'fallback.count == 0 during fault',
      'fallback.share <= 50% during fault',
      'latency.p99 <= 1s during fault',
      'model_version.changed == false during fault',
    ];
    const res = byCheck(srcs, input(early, scrapes(T, T + 40_000)));
    for (const src of srcs) {
      expect(res[src], src).toMatchObject({ status: 'inconclusive', passed: false, measured: null });
      expect(res[src].explanation, src).toMatch(
        /^inconclusive: no (request|successful response|primary-model answer)/,
      );
    }
    // The same checks over the steady phase, where requests exist, are measured.
    const steady = byCheck(
      srcs.map((x) => x.replace('during fault', 'during steady')),
      input(early, scrapes(T, T + 40_000)),
    );
    // (fallback.share: no fallback answer among 900 successful ones is a measurement, not missing data.)
    expect(Object.values(steady).map((r) => r.status)).toEqual(srcs.map(() => 'passed'));
  });

  it('event metrics without a fault or a runbook are inconclusive; not detected is a failure', () => {
    const noFault = byCheck(
      ['mttd <= 5s', 'mttr <= 30s', 'rollback.time <= 5s', 'mitigation.observed == true'],
      {
        ...input(recs, []),
        t0: undefined,
      },
    );
    for (const r of Object.values(noFault)) {
      expect(r).toMatchObject({ status: 'inconclusive', passed: false });
      expect(r.explanation).toMatch(/^inconclusive: no fault took effect/);
    }
    const noRunbook = byCheck(['mttd <= runbook', 'mttd <= 5s'], input(recs, [], { runbook: undefined }));
    expect(noRunbook['mttd <= runbook'].explanation).toMatch(/^inconclusive: /);
    expect(noRunbook['mttd <= 5s']).toMatchObject({ status: 'inconclusive' });
    // The runbook's signal never came: that is evidence of a miss, so the check fails (not inconclusive).
    const [missed] = evaluate([check('mttd <= runbook')], input(recs, []));
    expect(missed).toMatchObject({ status: 'failed', passed: false, measured: null });
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
    const plan = plannedInjections(scenario);
    expect(plan.map((p) => [p.fault.type, p.startMs, p.revertAtMs, p.windowEndMs])).toEqual([
      ['pod-kill', 10_000, undefined, 20_000],
      ['latency', 20_000, 25_000, 25_000],
      ['dependency-outage', 20_000, 28_000, 28_000],
      ['pod-kill', 25_000, undefined, 35_000],
      ['pod-kill', 40_000, undefined, 50_000],
    ]);
    // The journal's fault ids: `<entry>[.<member>]#<occurrence>`.
    expect(plan.map((p) => p.faultId)).toEqual(['0#1', '1.0#1', '1.1#1', '0#2', '0#3']);
  });
});
