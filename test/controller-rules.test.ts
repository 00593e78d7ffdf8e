import { describe, expect, it } from 'vitest';
import {
  type Action,
  analyzeCanary,
  type ControllerState,
  canaryDecision,
  DEFAULT_THRESHOLDS,
  initialState,
  type Observation,
  step,
  type Thresholds,
  type VersionStats,
} from '../src/pipeline/controller/rules.ts';
import { histogramQuantile, MetricHistory, parseMetrics, sumOf } from '../src/pipeline/controller/scrape.ts';

const T: Thresholds = {
  ...DEFAULT_THRESHOLDS,
  goodAfterS: 20,
  cooldownS: 30,
  breachEvaluations: 3,
  minSamples: 50,
};

const healthy = (n = 200): VersionStats => ({
  requests: n,
  errors: 0,
  p99Ms: 20,
  predictions: n,
  positives: Math.round(n * 0.02),
  scoreSum: n * 0.03,
  scoreCount: n,
});
const failing = (n = 200, errRate = 0.3): VersionStats => ({
  ...healthy(n),
  errors: Math.round(n * errRate),
});
const baseline = { predictions: 10_000, positives: 200, scoreSum: 300, scoreCount: 10_000 };

/** Runs observations one second apart through step(), collecting every action. */
function run(
  obs: Partial<Observation>[],
  opts = { rollbackDisabled: false },
  t = T,
  start: ControllerState = initialState(),
  t0 = 0,
) {
  let state = start;
  const actions: Action[] = [];
  obs.forEach((o, i) => {
    const out = step(
      state,
      { now: t0 + i * 1000, champion: null, stats: null, baseline, maxPsi: null, ...o },
      t,
      opts,
    );
    state = out.state;
    actions.push(...out.actions);
  });
  return { state, actions };
}

const rollbacks = (a: Action[]) => a.filter((x) => x.type === 'rollback');
const alerts = (a: Action[]) => a.filter((x) => x.type === 'alert');

describe('controller rules: auto-rollback with hysteresis', () => {
  it('adopts the initial champion as last good and rolls a new bad version back after 3 consecutive breaches', () => {
    const { state, actions } = run([
      { champion: '1', stats: healthy() },
      { champion: '2', stats: failing() },
      { champion: '2', stats: failing() },
      { champion: '2', stats: failing() },
    ]);
    const rb = rollbacks(actions);
    expect(rb).toHaveLength(1);
    expect(rb[0]).toMatchObject({
      type: 'rollback',
      from: '2',
      to: '1',
      rule: 'error_rate',
      threshold: 0.05,
    });
    expect((rb[0] as { value: number }).value).toBeCloseTo(0.3, 5);
    expect(state.champion).toBe('1');
    expect(state.cooldownUntil).toBe(3000 + 30_000);
    // the alert fired at the first breaching evaluation, before the rollback
    const firstAlert = actions.findIndex((a) => a.type === 'alert' && a.name === 'HighErrorRate');
    expect(firstAlert).toBeGreaterThanOrEqual(0);
    expect(firstAlert).toBeLessThan(actions.findIndex((a) => a.type === 'rollback'));
  });

  it('does not roll back on a single spike (nor on two), and resolves the alert after clean evaluations', () => {
    const { actions, state } = run([
      { champion: '1', stats: healthy() },
      { champion: '2', stats: failing() },
      { champion: '2', stats: healthy() },
      { champion: '2', stats: failing() },
      { champion: '2', stats: failing() },
      { champion: '2', stats: healthy() },
      { champion: '2', stats: healthy() },
      { champion: '2', stats: healthy() },
    ]);
    expect(rollbacks(actions)).toHaveLength(0);
    expect(state.champion).toBe('2');
    const kinds = actions.filter((a) => a.type === 'alert' || a.type === 'alert_resolved').map((a) => a.type);
    // Fires on the spike; one clean evaluation does not resolve it, three in a row (at the end) do.
    expect(kinds).toEqual(['alert', 'alert_resolved']);
  });

  it('cool-down blocks a second rollback, which happens once it has passed', () => {
    const bad2 = [
      { champion: '1', stats: healthy() },
      ...Array.from({ length: 3 }, () => ({ champion: '2', stats: failing() })),
    ];
    const first = run(bad2);
    expect(rollbacks(first.actions)).toHaveLength(1);
    // The alias is pushed to the bad version again right away: breaches, but cool-down holds.
    const again = run(
      Array.from({ length: 10 }, () => ({ champion: '2', stats: failing() })),
      undefined,
      T,
      first.state,
      4000,
    );
    expect(rollbacks(again.actions)).toHaveLength(0);
    expect(again.state.champion).toBe('2');
    // After the cool-down (ends at 33 s) the next sustained breach rolls back.
    const later = run(
      Array.from({ length: 3 }, () => ({ champion: '2', stats: failing() })),
      undefined,
      T,
      again.state,
      40_000,
    );
    expect(rollbacks(later.actions)).toHaveLength(1);
  });

  it('respects min-samples: a tiny window with 100% errors is not a breach', () => {
    const tiny: VersionStats = { ...failing(49, 1) };
    const { actions } = run([
      { champion: '1', stats: healthy() },
      ...Array.from({ length: 6 }, () => ({ champion: '2', stats: tiny })),
    ]);
    expect(rollbacks(actions)).toHaveLength(0);
    expect(alerts(actions)).toHaveLength(0);
    // one more sample in the window and it counts
    const { actions: enough } = run([
      { champion: '1', stats: healthy() },
      ...Array.from({ length: 3 }, () => ({ champion: '2', stats: failing(50, 1) })),
    ]);
    expect(rollbacks(enough)).toHaveLength(1);
  });

  it('with rollback disabled it alerts (once per version) and never moves the alias', () => {
    const { actions, state } = run(
      [
        { champion: '1', stats: healthy() },
        ...Array.from({ length: 8 }, () => ({ champion: '2', stats: failing() })),
      ],
      { rollbackDisabled: true },
    );
    expect(rollbacks(actions)).toHaveLength(0);
    expect(state.champion).toBe('2');
    const names = alerts(actions).map((a) => (a as { name: string }).name);
    expect(names).toEqual(['HighErrorRate', 'RollbackSuppressed']);
    expect(alerts(actions)[1]).toMatchObject({ reason: 'rollback_disabled', version: '2', to_version: '1' });
  });

  it('without a known last good version it alerts instead of rolling back', () => {
    const t = { ...T, trustInitialChampion: false };
    const { actions } = run(
      Array.from({ length: 4 }, () => ({ champion: '2', stats: failing() })),
      undefined,
      t,
    );
    expect(rollbacks(actions)).toHaveLength(0);
    expect(alerts(actions).map((a) => (a as { name: string }).name)).toContain('RollbackUnavailable');
  });

  it('a version becomes last good after goodAfterS clean seconds with traffic, and then is not rolled back', () => {
    const obs = [
      { champion: '1', stats: healthy() },
      ...Array.from({ length: 22 }, () => ({ champion: '2', stats: healthy() })),
    ];
    const { state, actions } = run(obs);
    expect(state.lastGood).toBe('2');
    expect(actions.some((a) => a.type === 'good' && a.version === '2')).toBe(true);
    const after = run(
      Array.from({ length: 5 }, () => ({ champion: '2', stats: failing() })),
      undefined,
      T,
      state,
      30_000,
    );
    expect(rollbacks(after.actions)).toHaveLength(0);
    expect(alerts(after.actions).map((a) => (a as { name: string }).name)).toEqual(['HighErrorRate']);
  });

  it('rolls back on p99 latency and on a prediction shift against the last good baseline', () => {
    const slow = { ...healthy(), p99Ms: 900 };
    const lat = run([
      { champion: '1', stats: healthy() },
      ...Array.from({ length: 3 }, () => ({ champion: '2', stats: slow })),
    ]);
    expect(rollbacks(lat.actions)[0]).toMatchObject({ rule: 'latency_p99', value: 900, threshold: 500 });

    // Baseline positive rate 2 %: threshold max(5 × 2 %, 2 % + 5 %) = 10 %. 8 % is fine, 40 % is not.
    const mild = { ...healthy(), positives: 16 };
    const calm = run([
      { champion: '1', stats: healthy() },
      ...Array.from({ length: 5 }, () => ({ champion: '2', stats: mild })),
    ]);
    expect(rollbacks(calm.actions)).toHaveLength(0);
    const flipped = { ...healthy(), positives: 80 };
    const shift = run([
      { champion: '1', stats: healthy() },
      ...Array.from({ length: 3 }, () => ({ champion: '2', stats: flipped })),
    ]);
    expect(rollbacks(shift.actions)[0]).toMatchObject({ rule: 'prediction_shift' });
  });

  it('drift alerts always but rolls back only when rollbackOnDrift is set', () => {
    const obs = [
      { champion: '1', stats: healthy() },
      ...Array.from({ length: 4 }, () => ({ champion: '2', stats: healthy(), maxPsi: 0.6 })),
    ];
    const off = run(obs);
    expect(rollbacks(off.actions)).toHaveLength(0);
    expect(alerts(off.actions).map((a) => (a as { name: string }).name)).toEqual(['FeatureDrift']);
    const on = run(obs, undefined, { ...T, rollbackOnDrift: true });
    expect(rollbacks(on.actions)[0]).toMatchObject({ rule: 'feature_drift', from: '2', to: '1' });
  });

  it('triggers retrain once drift persisted retrainAfterS, at most once per cool-down', () => {
    const t = { ...T, retrainAfterS: 5, retrainCooldownS: 20 };
    const psi = (v: number) => ({ champion: '1', stats: healthy(), maxPsi: v, psiFeature: 'amount' });
    // drift interrupted at 3 s restarts the clock
    const { actions } = run(
      [psi(0.5), psi(0.5), psi(0.5), psi(0.1), ...Array.from({ length: 26 }, () => psi(0.5))],
      undefined,
      t,
    );
    const retrains = actions.filter((a) => a.type === 'retrain');
    // over-threshold again from t=4 s: first trigger at 9 s, the next not before 29 s
    expect(retrains).toHaveLength(2);
    expect(retrains[0]).toMatchObject({ maxPsi: 0.5, feature: 'amount', driftSince: 4000 });
  });
});

describe('controller rules: canary analysis', () => {
  const plan = { steps: [10, 50], stepMs: 10_000, maxStepFactor: 3 };
  it('passes a healthy canary, fails one with errors, and is inconclusive without traffic', () => {
    expect(analyzeCanary(healthy(), healthy(), null, T).verdict).toBe('pass');
    const bad = analyzeCanary(failing(), healthy(), null, T);
    expect(bad.verdict).toBe('fail');
    expect(bad.reasons[0]).toMatch(/error_rate/);
    expect(analyzeCanary({ ...healthy(), positives: 120 }, healthy(), null, T).verdict).toBe('fail');
    expect(analyzeCanary(healthy(10), healthy(), null, T).verdict).toBe('inconclusive');
  });
  it('walks the steps: wait inside a step, next, promote at the end, abort on failure or starvation', () => {
    const pass = analyzeCanary(healthy(), healthy(), null, T);
    const fail = analyzeCanary(failing(), healthy(), null, T);
    const none = analyzeCanary(null, healthy(), null, T);
    expect(canaryDecision(plan, 0, 0, 5000, pass)).toBe('wait');
    expect(canaryDecision(plan, 0, 0, 10_000, pass)).toBe('next');
    expect(canaryDecision(plan, 1, 0, 10_000, pass)).toBe('promote');
    expect(canaryDecision(plan, 0, 0, 1000, fail)).toBe('abort');
    expect(canaryDecision(plan, 0, 0, 20_000, none)).toBe('wait');
    expect(canaryDecision(plan, 0, 0, 30_000, none)).toBe('abort');
  });
});

describe('controller scrape helpers', () => {
  it('parses labelled histograms without merging series (library bug worked around)', () => {
    const text = [
      '# HELP x_seconds h',
      '# TYPE x_seconds histogram',
      'x_seconds_bucket{le="0.1",version="1"} 1',
      'x_seconds_bucket{le="+Inf",version="1"} 3',
      'x_seconds_sum{version="1"} 0.9',
      'x_seconds_count{version="1"} 3',
      'x_seconds_bucket{le="0.1",version="2"} 0',
      'x_seconds_bucket{le="+Inf",version="2"} 1',
      '# TYPE c_total counter',
      'c_total{code="5xx"} 7',
    ].join('\n'); // no trailing newline on purpose
    const s = parseMetrics(text);
    const bucket = s.filter((x) => x.name === 'x_seconds_bucket');
    expect(bucket).toHaveLength(4);
    expect(bucket.find((b) => b.labels.version === '2' && b.labels.le === '+Inf')?.value).toBe(1);
    expect(s.find((x) => x.name === 'x_seconds_count')?.value).toBe(3);
    expect(s.find((x) => x.name === 'c_total')).toEqual({
      name: 'c_total',
      labels: { code: '5xx' },
      value: 7,
    });
  });

  it('computes increases across scrapes with counter resets, new series and version attribution', () => {
    const h = new MetricHistory({ retentionMs: 60_000 });
    const snap = (v: string, n: number, extra: string[] = []) =>
      parseMetrics(
        [
          `model_server_model_info{alias="champion",model_role="primary",version="${v}"} 1`,
          `req_total{code="2xx"} ${n}`,
          ...extra,
        ].join('\n'),
      );
    h.ingest('a', 0, snap('1', 100));
    h.ingest('a', 1000, snap('1', 150));
    h.ingest('a', 2000, snap('2', 30)); // restarted replica now serving version 2: reset
    h.ingest('a', 3000, snap('2', 80, ['req_total{code="5xx"} 20'])); // new series appears
    const all = h.increase(['a'], { name: 'req_total', groupBy: 'code' }, 10_000, 3000);
    expect(Object.fromEntries(all)).toEqual({ '2xx': 50 + 30 + 50, '5xx': 20 });
    expect(sumOf(h.increase(['a'], { name: 'req_total', version: '2' }, 10_000, 3000))).toBe(100);
    expect(sumOf(h.increase(['a'], { name: 'req_total', version: '1' }, 10_000, 3000))).toBe(50);
    // an interval counts when it ends inside the window: a 1 s window holds only 2 s → 3 s
    expect(sumOf(h.increase(['a'], { name: 'req_total' }, 1000, 3000))).toBe(70);
    expect(sumOf(h.increase(['a'], { name: 'req_total' }, 1500, 3000))).toBe(100);
    expect(h.served('a', 3000, 5000)).toEqual({ alias: 'champion', version: '2' });
  });

  it('histogram quantile interpolates like PromQL', () => {
    const b = new Map([
      ['0.1', 90],
      ['0.5', 99],
      ['1', 100],
      ['+Inf', 100],
    ]);
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.1 * (50 / 90), 6);
    expect(histogramQuantile(0.99, b)).toBeCloseTo(0.5, 6);
    expect(histogramQuantile(0.99, new Map([['+Inf', 0]]))).toBeNull();
  });
});
