// The controller's decisions as pure functions of windowed measurements: rule checks, hysteresis,
// alert firing/resolution, "last good version" tracking, rollback with cool-down, the retrain trigger
// and canary verdicts. No I/O and no clock: `now` comes in, actions go out.

export type RuleName = 'error_rate' | 'latency_p99' | 'prediction_shift' | 'feature_drift';
export const RULES: readonly RuleName[] = ['error_rate', 'latency_p99', 'prediction_shift', 'feature_drift'];
export const ALERT_NAMES: Record<RuleName, string> = {
  error_rate: 'HighErrorRate',
  latency_p99: 'HighLatency',
  prediction_shift: 'PredictionShift',
  feature_drift: 'FeatureDrift',
};
/** Rules about the serving version; their streaks restart when the champion changes. */
const VERSION_RULES: readonly RuleName[] = ['error_rate', 'latency_p99', 'prediction_shift'];

export interface Thresholds {
  /** Measurement window, seconds. */
  windowS: number;
  /** Error share of predict requests above which the version is breaching. */
  errorRate: number;
  p99Ms: number;
  /** Positive (review+decline) rate must exceed factor × baseline ... */
  scoreShiftFactor: number;
  /** ... and baseline + this absolute margin. */
  scoreShiftAbs: number;
  /** |mean score − baseline mean score| above this is a shift too. */
  meanScoreShift: number;
  driftPsi: number;
  rollbackOnDrift: boolean;
  /** Consecutive breaching evaluations before a rollback. */
  breachEvaluations: number;
  /** Consecutive breaching evaluations before an alert fires. */
  alertEvaluations: number;
  /** Consecutive clean evaluations before an alert resolves. */
  clearEvaluations: number;
  minSamples: number;
  cooldownS: number;
  goodAfterS: number;
  /** Max PSI above which drift counts toward the retrain trigger. */
  retrainPsi: number;
  retrainAfterS: number;
  retrainCooldownS: number;
  /** Adopt the champion seen at start-up as the last good version. */
  trustInitialChampion: boolean;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  windowS: 10,
  errorRate: 0.05,
  p99Ms: 500,
  scoreShiftFactor: 5,
  scoreShiftAbs: 0.05,
  meanScoreShift: 0.25,
  driftPsi: 0.2,
  rollbackOnDrift: false,
  breachEvaluations: 3,
  alertEvaluations: 1,
  clearEvaluations: 3,
  minSamples: 50,
  cooldownS: 30,
  goodAfterS: 20,
  retrainPsi: 0.2,
  retrainAfterS: 30,
  retrainCooldownS: 300,
  trustInitialChampion: true,
};

/** What one version did within the window (attributed per replica by the model it served). */
export interface VersionStats {
  /** POST /v1/predict requests answered by replicas serving the version. */
  requests: number;
  /** 5xx answers plus fallbacks caused by the primary model (primary_error, no_primary_model). */
  errors: number;
  /** p99 of /v1/predict handling time, ms; null without observations. */
  p99Ms: number | null;
  /** Primary-model predictions of the version, and how many were review/decline. */
  predictions: number;
  positives: number;
  scoreSum: number;
  scoreCount: number;
}

/** Long-run prediction distribution of a version (the last good one's is the baseline). */
export interface Baseline {
  predictions: number;
  positives: number;
  scoreSum: number;
  scoreCount: number;
}

export interface Observation {
  now: number;
  /** Champion version per the registry; null when unknown (registry unreachable). */
  champion: string | null;
  /** The champion's window stats; null when no replica reported serving it. */
  stats: VersionStats | null;
  /** Prediction distribution of the last good version. */
  baseline: Baseline | null;
  /** Max PSI over features and replicas; null when no replica reported drift gauges. */
  maxPsi: number | null;
  psiFeature?: string;
}

export type RuleStatus = 'breach' | 'ok' | 'nodata';
export interface RuleResult {
  rule: RuleName;
  status: RuleStatus;
  value: number | null;
  threshold: number;
  samples: number;
  details?: Record<string, unknown>;
}

const rate = (num: number, den: number) => (den > 0 ? num / den : 0);

/** Positive-rate / mean-score comparison shared by rollback and canary analysis. */
export function predictionShift(
  cur: { predictions: number; positives: number; scoreSum: number; scoreCount: number },
  base: { predictions: number; positives: number; scoreSum: number; scoreCount: number } | null,
  t: Pick<Thresholds, 'scoreShiftFactor' | 'scoreShiftAbs' | 'meanScoreShift' | 'minSamples'>,
): Omit<RuleResult, 'rule'> {
  const samples = cur.predictions;
  if (!base || base.predictions < t.minSamples) {
    return { status: 'nodata', value: null, threshold: Number.NaN, samples, details: { why: 'no baseline' } };
  }
  const b = rate(base.positives, base.predictions);
  const threshold = Math.max(t.scoreShiftFactor * b, b + t.scoreShiftAbs);
  if (samples < t.minSamples) return { status: 'nodata', value: null, threshold, samples };
  const r = rate(cur.positives, cur.predictions);
  let breach = r > threshold;
  const details: Record<string, unknown> = { baseline_positive_rate: b };
  if (cur.scoreCount >= t.minSamples && base.scoreCount >= t.minSamples) {
    const mean = cur.scoreSum / cur.scoreCount;
    const baseMean = base.scoreSum / base.scoreCount;
    details.mean_score = mean;
    details.baseline_mean_score = baseMean;
    if (Math.abs(mean - baseMean) > t.meanScoreShift) {
      breach = true;
      details.mean_score_shift = mean - baseMean;
    }
  }
  return { status: breach ? 'breach' : 'ok', value: r, threshold, samples, details };
}

export function evaluateRules(obs: Observation, t: Thresholds): RuleResult[] {
  const s = obs.stats;
  const out: RuleResult[] = [];
  const requests = s?.requests ?? 0;
  if (!s || requests < t.minSamples) {
    out.push({
      rule: 'error_rate',
      status: 'nodata',
      value: null,
      threshold: t.errorRate,
      samples: requests,
    });
    out.push({ rule: 'latency_p99', status: 'nodata', value: null, threshold: t.p99Ms, samples: requests });
  } else {
    const er = rate(s.errors, s.requests);
    out.push({
      rule: 'error_rate',
      status: er > t.errorRate ? 'breach' : 'ok',
      value: er,
      threshold: t.errorRate,
      samples: requests,
      details: { errors: s.errors, requests },
    });
    if (s.p99Ms === null)
      out.push({ rule: 'latency_p99', status: 'nodata', value: null, threshold: t.p99Ms, samples: requests });
    else
      out.push({
        rule: 'latency_p99',
        status: s.p99Ms > t.p99Ms ? 'breach' : 'ok',
        value: s.p99Ms,
        threshold: t.p99Ms,
        samples: requests,
      });
  }
  const zero = { predictions: 0, positives: 0, scoreSum: 0, scoreCount: 0 };
  out.push({ rule: 'prediction_shift', ...predictionShift(s ?? zero, obs.baseline, t) });
  if (obs.maxPsi === null)
    out.push({ rule: 'feature_drift', status: 'nodata', value: null, threshold: t.driftPsi, samples: 0 });
  else {
    out.push({
      rule: 'feature_drift',
      status: obs.maxPsi > t.driftPsi ? 'breach' : 'ok',
      value: obs.maxPsi,
      threshold: t.driftPsi,
      samples: 0,
      details: obs.psiFeature ? { feature: obs.psiFeature } : undefined,
    });
  }
  return out;
}

export interface RuleTrack {
  breachStreak: number;
  clearStreak: number;
  firing: boolean;
  last: RuleResult | null;
}

export interface ControllerState {
  champion: string | null;
  championSince: number | null;
  lastGood: string | null;
  /** Start of the champion's current run without a breach. */
  cleanSince: number | null;
  rules: Record<RuleName, RuleTrack>;
  cooldownUntil: number;
  /** Version for which "cannot roll back" was already reported (reported once per version). */
  reportedUnrollable: string | null;
  driftSince: number | null;
  lastRetrainAt: number | null;
}

export function initialState(): ControllerState {
  const rules = {} as Record<RuleName, RuleTrack>;
  for (const r of RULES) rules[r] = { breachStreak: 0, clearStreak: 0, firing: false, last: null };
  return {
    champion: null,
    championSince: null,
    lastGood: null,
    cleanSince: null,
    rules,
    cooldownUntil: 0,
    reportedUnrollable: null,
    driftSince: null,
    lastRetrainAt: null,
  };
}

export type Action =
  | {
      type: 'alert';
      name: string;
      rule?: RuleName;
      version: string | null;
      value: number | null;
      threshold: number | null;
      reason: string;
      to_version?: string | null;
      details?: Record<string, unknown>;
    }
  | {
      type: 'alert_resolved';
      name: string;
      rule: RuleName;
      version: string | null;
      value: number | null;
      threshold: number;
    }
  | {
      type: 'rollback';
      from: string;
      to: string;
      rule: RuleName;
      value: number;
      threshold: number;
      breaching: RuleResult[];
    }
  | { type: 'good'; version: string; previous: string | null }
  | { type: 'retrain'; maxPsi: number; feature?: string; driftSince: number };

export interface StepOptions {
  /** FAULTLINE_DISABLE=rollback: detect and alert, never move the alias. */
  rollbackDisabled: boolean;
}

const rollbackEligible = (rule: RuleName, t: Thresholds) => rule !== 'feature_drift' || t.rollbackOnDrift;

/** One evaluation: folds the observation into the state and says what to do. */
export function step(
  prev: ControllerState,
  obs: Observation,
  t: Thresholds,
  opts: StepOptions,
): { state: ControllerState; actions: Action[]; results: RuleResult[] } {
  const now = obs.now;
  const state: ControllerState = { ...prev, rules: { ...prev.rules } };
  for (const r of RULES) state.rules[r] = { ...prev.rules[r] };
  const actions: Action[] = [];

  if (obs.champion !== null && obs.champion !== state.champion) {
    if (state.champion === null && state.lastGood === null && t.trustInitialChampion) {
      state.lastGood = obs.champion;
    }
    state.champion = obs.champion;
    state.championSince = now;
    state.cleanSince = now;
    state.reportedUnrollable = null;
    for (const r of VERSION_RULES) state.rules[r].breachStreak = 0;
  }
  const version = state.champion;

  const results = evaluateRules(obs, t);
  for (const res of results) {
    const tr = state.rules[res.rule];
    tr.last = res;
    if (res.status === 'breach') {
      tr.breachStreak++;
      tr.clearStreak = 0;
    } else if (res.status === 'ok') {
      tr.clearStreak++;
      tr.breachStreak = 0;
    } else {
      // No data proves nothing either way: a breach run is broken, an alert is not resolved by it.
      tr.breachStreak = 0;
    }
    if (!tr.firing && tr.breachStreak >= t.alertEvaluations) {
      tr.firing = true;
      actions.push({
        type: 'alert',
        name: ALERT_NAMES[res.rule],
        rule: res.rule,
        version,
        value: res.value,
        threshold: res.threshold,
        reason: res.rule,
        details: { samples: res.samples, ...res.details },
      });
    } else if (tr.firing && tr.clearStreak >= t.clearEvaluations) {
      tr.firing = false;
      actions.push({
        type: 'alert_resolved',
        name: ALERT_NAMES[res.rule],
        rule: res.rule,
        version,
        value: res.value,
        threshold: res.threshold,
      });
    }
  }

  const breachingNow = results.filter((r) => r.status === 'breach' && rollbackEligible(r.rule, t));
  if (breachingNow.length > 0) state.cleanSince = now;

  // A version earns "good" by serving real traffic for goodAfterS without a breach.
  const samples = obs.stats?.requests ?? 0;
  if (
    version !== null &&
    version !== state.lastGood &&
    state.cleanSince !== null &&
    now - state.cleanSince >= t.goodAfterS * 1000 &&
    samples >= t.minSamples
  ) {
    actions.push({ type: 'good', version, previous: state.lastGood });
    state.lastGood = version;
  }

  const sustained = RULES.map((r) => state.rules[r])
    .map((tr) => tr.last)
    .filter(
      (r): r is RuleResult =>
        r !== null && rollbackEligible(r.rule, t) && state.rules[r.rule].breachStreak >= t.breachEvaluations,
    );
  if (sustained.length > 0 && version !== null && version !== state.lastGood && now >= state.cooldownUntil) {
    const primary = sustained[0];
    if (state.lastGood === null || opts.rollbackDisabled) {
      if (state.reportedUnrollable !== version) {
        state.reportedUnrollable = version;
        const disabled = opts.rollbackDisabled && state.lastGood !== null;
        actions.push({
          type: 'alert',
          name: disabled ? 'RollbackSuppressed' : 'RollbackUnavailable',
          rule: primary.rule,
          version,
          value: primary.value,
          threshold: primary.threshold,
          reason: disabled ? 'rollback_disabled' : 'no_last_good_version',
          to_version: state.lastGood,
          details: { breaching: sustained.map((r) => r.rule) },
        });
      }
    } else {
      actions.push({
        type: 'rollback',
        from: version,
        to: state.lastGood,
        rule: primary.rule,
        value: primary.value ?? Number.NaN,
        threshold: primary.threshold,
        breaching: sustained,
      });
      state.cooldownUntil = now + t.cooldownS * 1000;
      state.champion = state.lastGood;
      state.championSince = now;
      state.cleanSince = now;
      for (const r of VERSION_RULES) state.rules[r].breachStreak = 0;
    }
  }

  if (obs.maxPsi !== null) {
    if (obs.maxPsi > t.retrainPsi) state.driftSince ??= now;
    else state.driftSince = null;
  }
  if (
    state.driftSince !== null &&
    obs.maxPsi !== null &&
    now - state.driftSince >= t.retrainAfterS * 1000 &&
    (state.lastRetrainAt === null || now - state.lastRetrainAt >= t.retrainCooldownS * 1000)
  ) {
    state.lastRetrainAt = now;
    actions.push({
      type: 'retrain',
      maxPsi: obs.maxPsi,
      feature: obs.psiFeature,
      driftSince: state.driftSince,
    });
  }

  return { state, actions, results };
}

/** The alias move of a rollback failed: undo the optimistic state change so it is retried. */
export function rollbackFailed(state: ControllerState, from: string): ControllerState {
  return { ...state, champion: from, cooldownUntil: 0 };
}

// ---- canary analysis ----

export interface CanaryVerdict {
  verdict: 'pass' | 'fail' | 'inconclusive';
  reasons: string[];
  metrics: Record<string, number | null>;
}

/** Canary vs stable over the same window; absolute SLO thresholds, distribution relative to stable. */
export function analyzeCanary(
  canary: VersionStats | null,
  stable: VersionStats | null,
  baseline: Baseline | null,
  t: Thresholds,
): CanaryVerdict {
  const c = canary ?? {
    requests: 0,
    errors: 0,
    p99Ms: null,
    predictions: 0,
    positives: 0,
    scoreSum: 0,
    scoreCount: 0,
  };
  const metrics: Record<string, number | null> = {
    canary_requests: c.requests,
    canary_error_rate: c.requests > 0 ? c.errors / c.requests : null,
    canary_p99_ms: c.p99Ms,
    canary_positive_rate: c.predictions > 0 ? c.positives / c.predictions : null,
    stable_requests: stable?.requests ?? 0,
    stable_error_rate: stable && stable.requests > 0 ? stable.errors / stable.requests : null,
    stable_positive_rate: stable && stable.predictions > 0 ? stable.positives / stable.predictions : null,
  };
  if (c.requests < t.minSamples)
    return {
      verdict: 'inconclusive',
      reasons: [`canary has ${c.requests} < ${t.minSamples} requests`],
      metrics,
    };
  const reasons: string[] = [];
  const er = c.errors / c.requests;
  if (er > t.errorRate) reasons.push(`error_rate ${er.toFixed(4)} > ${t.errorRate}`);
  if (c.p99Ms !== null && c.p99Ms > t.p99Ms)
    reasons.push(`latency_p99 ${c.p99Ms.toFixed(1)}ms > ${t.p99Ms}ms`);
  // Stable traffic in the same window is the fairest reference; the long-run baseline when it has too little.
  const ref = stable && stable.predictions >= t.minSamples ? stable : baseline;
  const shift = predictionShift(c, ref, t);
  if (shift.status === 'breach')
    reasons.push(`prediction_shift positive_rate ${shift.value?.toFixed(4)} > ${shift.threshold.toFixed(4)}`);
  return { verdict: reasons.length ? 'fail' : 'pass', reasons, metrics };
}

export interface CanaryPlan {
  steps: number[];
  stepMs: number;
  /** A step without enough canary traffic is extended up to this many step lengths, then aborted. */
  maxStepFactor: number;
}

export type CanaryDecision = 'wait' | 'next' | 'promote' | 'abort';

/** What to do at an evaluation during step `index` that started at `stepStartedAt`. */
export function canaryDecision(
  plan: CanaryPlan,
  index: number,
  stepStartedAt: number,
  now: number,
  v: CanaryVerdict,
): CanaryDecision {
  if (v.verdict === 'fail') return 'abort';
  const elapsed = now - stepStartedAt;
  if (elapsed < plan.stepMs) return 'wait';
  if (v.verdict === 'pass') return index + 1 >= plan.steps.length ? 'promote' : 'next';
  return elapsed >= plan.stepMs * plan.maxStepFactor ? 'abort' : 'wait';
}
