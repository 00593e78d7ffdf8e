// Turns a scenario's checks into verdicts: each result carries the measured value, the target, the
// phase and one line saying what was measured, so a failing CI gate explains itself.
import type { RequestRecord } from '../load/driver.ts';
import type { CheckResult, PhaseName, QualityConfidence } from '../report/model.ts';
import { type Check, compare, formatMetricValue, METRICS, type MetricName } from '../scenario/checks.ts';
import { mttr as computeMttr, mttd as firstSignal, type MttrResult } from '../slo/mttr.ts';
import {
  describeQuality,
  enoughLabels,
  QUALITY_MIN_LABELS,
  type QualityFigures,
  type QualityMetric,
  qualityValue,
} from '../slo/quality.ts';
import {
  inWindow,
  type SliName,
  type Slo,
  type SloOp,
  sliSpec,
  type Window,
  WindowStats,
} from '../slo/stats.ts';
import { summarize, type WindowSummary } from '../slo/summarize.ts';
import { extractSignals, type JournalIndex, platformActions, signalMatches } from './signals.ts';

export type { CheckResult, CheckStatus, PhaseName, QualityConfidence } from '../report/model.ts';

export type Phases = Record<PhaseName, Window>;

/** What the runner needs from a runbook. */
export interface RunbookTargets {
  id: string;
  detection: { signal: string; withinMs: number };
  mitigation: { automated: string; withinMs: number };
  mttrTargetMs: number;
  slos: Slo[];
}

export interface EvaluationInput {
  records: RequestRecord[];
  index: JournalIndex;
  phases: Phases;
  /** First fault injection (epoch ms); undefined when no fault took effect. */
  t0?: number;
  /**
   * Every fault occurrence's start (sorted). Event metrics are measured per occurrence, each up to the
   * next one, and the worst counts: a repeated pod kill must recover every time.
   */
  t0s?: number[];
  /** Services a pod-kill fault hit (for the `restart` mitigation). */
  killedServices: string[];
  /** Feature-store rows not restored exactly after revert; undefined when no corruption ran. */
  dataLoss?: number;
  runbook?: RunbookTargets;
  /** Synthetic-user results (browser probe), if the scenario ran one. */
  probes?: { t: number; ok: boolean }[];
  stableForMs: number;
  /** The scenario's steady-state hypothesis: MTTR's SLOs when the runbook names none. */
  steadyChecks?: Check[];
  driftPsi?: number;
  /** Feature a drift fault shifted: drift.detection_time reads only that feature's gauge. */
  driftFeature?: string;
  endMs: number;
}

export interface Measurements {
  summaries: Record<PhaseName, WindowSummary>;
  mttd?: {
    detected: boolean;
    ms?: number;
    signal?: string;
    /** What emitted the detecting signal (signals.ts `source`). */
    source?: string;
    t?: number;
    occurrences: number;
  };
  mttr?: {
    recovered: boolean;
    /** Worst occurrence's MTTR; undefined when not recovered or never breached ("no SLO breach"). */
    ms?: number;
    recoveredAt?: number;
    /** The recovery instant lies within this many ms before recoveredAt (docs/measurements.md). */
    resolutionMs?: number;
    breached: boolean;
    occurrences: number;
    /** Where the SLOs came from, and which they were (as written). */
    sloSource: 'runbook' | 'steady-state';
    slos: string[];
    /** SLIs violated by the worst occurrence's last violation. */
    violated?: string[];
    /** Why MTTR could not be judged (too few requests), if so. */
    insufficient?: string;
  };
  rollback?: { ms?: number; t?: number };
  driftDetection?: { ms?: number; t?: number; feature?: string };
  mitigation?: { name: string; observed: boolean; t?: number; evidence: string };
}

const PHASES: PhaseName[] = ['steady', 'fault', 'recovery', 'whole'];

/**
 * The SLOs that define recovery: the runbook's, else the steady-state checks that are SLI comparisons
 * (an SLI computable per request window compared with <, <=, > or >=); the others cannot define it.
 */
export function recoverySlos(input: Pick<EvaluationInput, 'runbook' | 'steadyChecks'>): {
  source: 'runbook' | 'steady-state';
  slos: Slo[];
  texts: string[];
} {
  if (input.runbook?.slos.length)
    return {
      source: 'runbook',
      slos: input.runbook.slos,
      texts: input.runbook.slos.map(
        (s) => `${s.metric} ${s.op} ${formatMetricValue(s.metric as MetricName, s.value)}`,
      ),
    };
  const usable = (input.steadyChecks ?? []).filter((c) => {
    if ('runbook' in c.value || !['<', '<=', '>', '>='].includes(c.op)) return false;
    try {
      sliSpec(c.metric);
      return true;
    } catch {
      return false;
    }
  });
  return {
    source: 'steady-state',
    slos: usable.map((c) => ({
      metric: c.metric as SliName,
      op: c.op as SloOp,
      value: (c.value as { n: number }).n,
    })),
    texts: usable.map((c) => c.source),
  };
}

export function measure(input: EvaluationInput): Measurements {
  const summaries = Object.fromEntries(
    // Requests in flight at fault start belong to the fault, not to steady state (stats.ts afterT0).
    PHASES.map((p) => [p, summarize(input.records, input.phases[p], input.t0)]),
  ) as Record<PhaseName, WindowSummary>;
  const m: Measurements = { summaries };
  const { t0, runbook, index } = input;
  if (t0 === undefined) return m;
  // Detection signals come from the pipeline and its monitoring only (signals.ts).
  const signals = extractSignals(index, {
    driftPsi: input.driftPsi,
    errorRate: errorRateSlo(runbook),
  });
  // Parallel members start within moments of each other: one occurrence.
  const starts = (input.t0s?.length ? input.t0s : [t0]).filter((t, i, a) => i === 0 || t - a[i - 1] > 1000);
  const occ = starts.map((start, i) => ({ start, end: starts[i + 1] ?? input.endMs }));
  const within = (o: { start: number; end: number }) => signals.filter((s) => s.t >= o.start && s.t < o.end);
  if (runbook) {
    // A generic `drift-gauge` means this run's drifted feature, not whichever feature flickers first.
    const wanted =
      runbook.detection.signal === 'drift-gauge' && input.driftFeature
        ? `drift-gauge:${input.driftFeature}`
        : runbook.detection.signal;
    const per = occ.map((o) => firstSignal(o.start, within(o), (s) => signalMatches(wanted, s)));
    const missed = per.find((d) => !d.detected);
    const worst = missed ?? per.reduce((a, b) => ((b.mttdMs ?? 0) > (a.mttdMs ?? 0) ? b : a));
    m.mttd = {
      detected: !missed,
      ms: missed ? undefined : worst.mttdMs,
      signal: worst.signal?.name,
      source: worst.signal?.source as string | undefined,
      t: worst.signal?.t,
      occurrences: per.length,
    };
    // What the platform did (a restart) is mitigation evidence, never detection.
    const actions = [...signals, ...platformActions(index)].sort((a, b) => a.t - b.t);
    m.mitigation = mitigation(runbook.mitigation.automated, input, actions, t0);
  }
  const rec = recoverySlos(input);
  if (rec.slos.length) {
    const rs = occ.map((o) =>
      computeMttr({
        records: input.records,
        t0: o.start,
        slos: rec.slos,
        stableForMs: input.stableForMs,
        endMs: o.end,
      }),
    );
    m.mttr = { ...worstMttr(rs), occurrences: rs.length, sloSource: rec.source, slos: rec.texts };
  }
  const rb = occ.map((o) => within(o).find((s) => s.name === 'controller-rollback'));
  m.rollback = rb.every((s) => s) ? worstSignal(rb as { t: number }[], occ) : {};
  // The drifted feature's own gauge: another feature's gauge crossing is not this drift's detection.
  const drifted = input.driftFeature;
  const dd = occ.map((o) =>
    within(o).find((s) =>
      drifted === undefined ? s.name.startsWith('drift-gauge:') : s.name === `drift-gauge:${drifted}`,
    ),
  );
  const ddWorst = dd.every((s) => s) ? worstSignal(dd as { t: number }[], occ) : {};
  const ddFirst = dd[0];
  m.driftDetection =
    ddWorst.ms !== undefined && ddFirst
      ? { ...ddWorst, feature: ddFirst.name.slice('drift-gauge:'.length) }
      : {};
  return m;
}

/** Every occurrence must recover: the first unrecovered one, else the longest breach-to-recovery. */
function worstMttr(
  rs: MttrResult[],
): Omit<NonNullable<Measurements['mttr']>, 'occurrences' | 'sloSource' | 'slos'> {
  const breached = rs.some((r) => r.breached);
  const bad = rs.find((r) => !r.recovered);
  if (bad) return { recovered: false, breached, violated: bad.violated, insufficient: bad.insufficient };
  const w = rs
    .filter((r) => r.breached)
    .reduce<MttrResult | undefined>((a, b) => (a && (a.mttrMs ?? 0) >= (b.mttrMs ?? 0) ? a : b), undefined);
  if (!w) return { recovered: true, breached: false };
  return {
    recovered: true,
    breached: true,
    ms: w.mttrMs,
    recoveredAt: w.recoveredAt,
    resolutionMs: w.resolutionMs,
    violated: w.violated,
  };
}

function worstSignal(found: { t: number }[], occ: { start: number }[]): { ms?: number; t?: number } {
  let best: { ms?: number; t?: number } = {};
  found.forEach((s, i) => {
    const ms = s.t - occ[i].start;
    if (best.ms === undefined || ms > best.ms) best = { ms, t: s.t };
  });
  return best;
}

function errorRateSlo(runbook?: RunbookTargets): number | undefined {
  return runbook?.slos.find((s) => s.metric === 'error_rate')?.value;
}

function mitigation(
  name: string,
  input: EvaluationInput,
  signals: { t: number; name: string; [k: string]: unknown }[],
  t0: number,
): NonNullable<Measurements['mitigation']> {
  const after = (pred: (s: { t: number; name: string; [k: string]: unknown }) => boolean) =>
    signals.find((s) => s.t >= t0 && pred(s));
  const found = (s: { t: number } | undefined, evidence: string) => ({
    name,
    observed: !!s,
    t: s?.t,
    evidence: s ? evidence : `no ${name} observed after the fault`,
  });
  switch (name) {
    case 'restart': {
      // Observed once the replacement is ready again (a pod back to Ready), not when it is scheduled.
      const restarted = after(
        (x) =>
          x.name === 'replica-restart' &&
          (input.killedServices.length === 0 || input.killedServices.includes(String(x.service))),
      );
      if (!restarted) return found(undefined, '');
      const ready = input.index
        .platformEvents()
        .find(
          (e) =>
            e.kind === 'replica-ready' &&
            (e.details as { replaces?: string } | undefined)?.replaces === restarted.replica &&
            e.ts_ms >= restarted.t,
        );
      if (!ready)
        return {
          name,
          observed: false,
          evidence: `the platform scheduled a replacement for ${String(restarted.replica)}, which never became ready`,
        };
      const boot = (ready.details as { since_start_ms?: number } | undefined)?.since_start_ms;
      return found(
        { t: ready.ts_ms },
        `the platform replaced ${String(restarted.replica)}; ready ${ready.ts_ms - restarted.t} ms after the restart was scheduled${boot === undefined ? '' : ` (${boot} ms after its process started)`}`,
      );
    }
    case 'rollback':
      return found(
        after((x) => x.name === 'controller-rollback'),
        'controller rolled the champion back',
      );
    case 'fallback':
      return found(
        after((x) => x.name === 'fallback-engaged'),
        'the model-server answered with the fallback model (model_server_fallback_total rose)',
      );
    case 'breaker':
      return found(
        after((x) => x.name === 'breaker-open'),
        'feature-fetch circuit breaker opened',
      );
    case 'ejection':
      return found(
        after((x) => x.name === 'gateway-ejection'),
        'gateway ejected a failing replica',
      );
    case 'retry': {
      const t =
        input.index.firstRise('gateway_retries_total', t0) ??
        input.index.firstRise('model_server_feature_fetch_retries_total', t0);
      return found(t === undefined ? undefined : { t }, 'retries rose during the fault');
    }
    case 'none':
      return { name, observed: true, evidence: 'the runbook expects no automated mitigation' };
    default:
      return { name, observed: false, evidence: `unknown mitigation "${name}"` };
  }
}

export function evaluate(checks: Check[], input: EvaluationInput, m = measure(input)): CheckResult[] {
  return checks.map((c) => evaluateOne(c, input, m));
}

function evaluateOne(c: Check, input: EvaluationInput, m: Measurements): CheckResult {
  const info = METRICS[c.metric];
  const phase: PhaseName | 'event' = info.event ? 'event' : c.phase;
  let target: number | null = null;
  let targetText = '';
  if ('runbook' in c.value) {
    const rb = input.runbook;
    if (rb) {
      target =
        info.runbookTarget === 'detection.within'
          ? rb.detection.withinMs
          : info.runbookTarget === 'mitigation.within'
            ? rb.mitigation.withinMs
            : rb.mttrTargetMs;
      targetText = `${formatMetricValue(c.metric, target)} (runbook ${rb.id})`;
    } else targetText = 'runbook (none named)';
  } else {
    target = c.value.n;
    targetText = formatMetricValue(c.metric, target);
  }
  const base = { check: c.source, metric: c.metric, phase, op: c.op, target, targetText };
  const r = measureCheck(c.metric, phase === 'event' ? 'whole' : phase, input, m);
  // Missing evidence never passes: without it the check is inconclusive and fails the gate.
  const missing =
    r.missing ?? (target === null ? 'the scenario names no runbook to take the target from' : undefined);
  if (missing !== undefined) {
    const measuredText =
      r.missing !== undefined || r.measured === null ? 'n/a' : formatMetricValue(c.metric, r.measured);
    return {
      ...base,
      measured: r.missing !== undefined ? null : r.measured,
      measuredText,
      status: 'inconclusive',
      passed: false,
      explanation: `inconclusive: ${missing}`,
      ...(r.quality ? { quality: r.quality } : {}),
    };
  }
  const { measured, explanation } = r;
  const measuredText =
    measured === null
      ? 'n/a'
      : c.metric === 'mttr' && m.mttr && !m.mttr.breached
        ? 'no SLO breach'
        : c.metric === 'mttr' && m.mttr?.resolutionMs !== undefined
          ? `${formatMetricValue(c.metric, measured)} ± ${formatMetricValue(c.metric, m.mttr.resolutionMs)}`
          : formatMetricValue(c.metric, measured);
  const passed = measured !== null && target !== null && compare(c.op, measured, target);
  return {
    ...base,
    measured,
    measuredText,
    status: passed ? 'passed' : 'failed',
    passed,
    explanation,
    ...(r.quality ? { quality: r.quality } : {}),
  };
}

/** Increase of counters over a window, or what is missing: each counter needs a series scraped across it. */
function counterIncrease(
  index: JournalIndex,
  names: string[],
  w: Window,
  phase: PhaseName,
): { n: number; missing?: string } {
  const absent = names.filter((name) => index.spanningSeries(name, w.from, w.to) === 0);
  if (absent.length)
    return {
      n: 0,
      missing: `no scrape of ${absent.join(' or ')} spans the ${phase} phase (one at or before its start and one at or after its end), so the increase is unknown`,
    };
  return { n: names.reduce((a, name) => a + index.increase(name, w.from, w.to), 0) };
}

function measureCheck(
  metric: MetricName,
  phase: PhaseName,
  input: EvaluationInput,
  m: Measurements,
): { measured: number | null; explanation: string; missing?: string; quality?: QualityConfidence } {
  const s = m.summaries[phase];
  const w = input.phases[phase];
  const secs = ((w.to - w.from) / 1000).toFixed(1);
  const inPhase = `over the ${phase} phase (${secs} s, ${s.requests} requests)`;
  const noFault = input.t0 === undefined ? 'no fault took effect, so there is nothing to measure' : undefined;
  const none = (missing: string) => ({ measured: null, explanation: missing, missing });
  const noRequests = `no request was intended in the ${phase} phase (${secs} s)`;
  switch (metric) {
    case 'availability':
      if (!s.requests) return none(noRequests);
      return {
        measured: s.availability,
        explanation: `${s.ok} of ${s.requests} requests succeeded ${inPhase}`,
      };
    case 'error_rate':
      if (!s.requests) return none(noRequests);
      return {
        measured: s.errorRate,
        explanation: `${s.requests - s.ok} of ${s.requests} requests failed ${inPhase}`,
      };
    case 'throughput':
      if (!s.requests) return none(noRequests);
      return { measured: s.throughput, explanation: `successful responses per second ${inPhase}` };
    case 'fallback.share':
      if (!s.requests) return none(noRequests);
      if (!s.ok) return none(`no successful response in the ${phase} phase to take a share of`);
      return {
        measured: s.fallbackShare,
        explanation: `${s.fallbackCount} of ${s.ok} successful responses came from the fallback model ${inPhase}`,
      };
    case 'fallback.count':
      if (!s.requests) return none(noRequests);
      return { measured: s.fallbackCount, explanation: `fallback answers ${inPhase}` };
    case 'retries.total': {
      const { n, missing } = counterIncrease(
        input.index,
        ['gateway_retries_total', 'model_server_feature_fetch_retries_total'],
        w,
        phase,
      );
      if (missing) return none(missing);
      return { measured: n, explanation: `gateway retries + model-server feature-fetch retries ${inPhase}` };
    }
    case 'retries.amplification': {
      if (!s.requests) return none(noRequests);
      const { n, missing } = counterIncrease(input.index, ['gateway_retries_total'], w, phase);
      if (missing) return none(missing);
      return {
        measured: n / s.requests,
        explanation: `${n} gateway retries for ${s.requests} requests ${inPhase}`,
      };
    }
    case 'retry_budget.exhausted': {
      const { n, missing } = counterIncrease(input.index, ['gateway_retry_budget_exhausted_total'], w, phase);
      if (missing) return none(missing);
      return { measured: n, explanation: `retries refused by the gateway's retry budget ${inPhase}` };
    }
    case 'mttd':
      if (noFault) return none(noFault);
      if (!m.mttd) return none('the scenario names no runbook, so there is no detection signal');
      return m.mttd.detected
        ? {
            measured: m.mttd.ms!,
            explanation: `first "${input.runbook!.detection.signal}" signal (${m.mttd.signal}${m.mttd.source ? `, from ${m.mttd.source}` : ''}) after fault start`,
          }
        : {
            measured: null,
            explanation: `no "${input.runbook!.detection.signal}" signal observed after fault start`,
          };
    case 'mttr': {
      if (noFault) return none(noFault);
      const mt = m.mttr;
      if (!mt)
        return none(
          input.runbook?.slos.length
            ? 'no SLOs to recover to'
            : 'no runbook SLOs, and no steady-state check is an SLI comparison (availability, error_rate, fallback.share, latency.*, quality.* with <, <=, >, >=), so there is nothing to recover to',
        );
      const from =
        mt.sloSource === 'runbook'
          ? 'the runbook SLOs'
          : `the steady-state checks that are SLI comparisons (${mt.slos.join(', ')}; the runbook names no SLOs)`;
      const each = mt.occurrences > 1 ? ` (worst of ${mt.occurrences} fault occurrences)` : '';
      if (mt.insufficient) return none(`${mt.insufficient}${each}`);
      if (!mt.recovered)
        return {
          measured: null,
          explanation: `not recovered: ${from} did not hold for ${input.stableForMs / 1000} s after their last violation${mt.violated?.length ? ` (${mt.violated.join(', ')})` : ''} before the end of the run${each}`,
        };
      if (!mt.breached)
        return {
          measured: 0,
          explanation: `no SLO breach: ${from} held in every window after fault start${each}`,
        };
      return {
        measured: mt.ms!,
        explanation: `${from} held for ${input.stableForMs / 1000} s from ${(mt.ms! / 1000).toFixed(3)} s after fault start, after their last violation (${mt.violated?.join(', ')}); resolution ± ${mt.resolutionMs!.toFixed(0)} ms (request spacing at recovery)${each}`,
      };
    }
    case 'rollback.time':
      if (noFault) return none(noFault);
      return m.rollback?.ms !== undefined
        ? { measured: m.rollback.ms, explanation: 'fault start → controller rollback event' }
        : { measured: null, explanation: 'no rollback event from the controller after fault start' };
    case 'drift.detection_time':
      if (noFault) return none(noFault);
      return m.driftDetection?.ms !== undefined
        ? {
            measured: m.driftDetection.ms,
            explanation: `drift gauge for ${m.driftDetection.feature} crossed PSI ${input.driftPsi ?? 0.2} or raised its KS alert`,
          }
        : {
            measured: null,
            explanation: `no drift gauge${input.driftFeature ? ` for ${input.driftFeature}` : ''} crossed PSI ${input.driftPsi ?? 0.2} or raised a KS alert after drift start`,
          };
    case 'mitigation.observed':
      if (!m.mitigation)
        return none(noFault ?? 'the scenario names no runbook, so no mitigation is expected');
      return { measured: m.mitigation.observed ? 1 : 0, explanation: m.mitigation.evidence };
    case 'data_loss':
      return input.dataLoss === undefined
        ? none(
            'no feature-store rows were compared after revert (no feature-corruption fault ran, or the run ended before the restore was verified)',
          )
        : {
            measured: input.dataLoss,
            explanation: `${input.dataLoss} corrupted rows differ from their originals after revert`,
          };
    case 'model_version.changed': {
      const versions = new Set(
        input.records
          .filter((r) => r.tIntended >= w.from && r.tIntended < w.to && r.modelVersion && !r.fallback)
          .map((r) => r.modelVersion),
      );
      if (!versions.size)
        return none(`no primary-model answer carried a model version in the ${phase} phase`);
      return {
        measured: versions.size > 1 ? 1 : 0,
        explanation: `primary model versions served ${inPhase}: ${[...versions].join(', ') || 'none'}`,
      };
    }
    case 'browser.success': {
      if (!input.probes?.length) return none('no browser probe ran in this scenario');
      const inW = input.probes.filter((p) => p.t >= w.from && p.t < w.to);
      const ok = inW.filter((p) => p.ok).length;
      return inW.length
        ? {
            measured: ok / inW.length,
            explanation: `${ok} of ${inW.length} browser checks showed a verdict ${inPhase}`,
          }
        : none(`no browser check ran in the ${phase} phase`);
    }
    case 'quality.auc':
    case 'quality.recall':
    case 'quality.precision':
    case 'quality.logloss':
      return measureQuality(metric, phase, input, inPhase);
    case 'latency.p50':
    case 'latency.p90':
    case 'latency.p95':
    case 'latency.p99':
    case 'latency.p999':
    case 'latency.max':
    case 'latency.mean': {
      const key = metric.slice('latency.'.length) as keyof WindowSummary['latency'];
      if (!s.latency.count)
        return none(`no request was answered or timed out in the ${phase} phase (${secs} s)`);
      return {
        measured: s.latency[key] as number | null,
        explanation: `${metric} from the intended send time ${inPhase}`,
      };
    }
  }
}

/** A quality SLI over a phase: null (missing evidence) without enough positives and negatives. */
function measureQuality(
  metric: QualityMetric,
  phase: PhaseName,
  input: EvaluationInput,
  inPhase: string,
): { measured: number | null; explanation: string; missing?: string; quality?: QualityConfidence } {
  const w = input.phases[phase];
  const all = new WindowStats();
  const primary = new WindowStats();
  const fallback = new WindowStats();
  for (const r of input.records) {
    if (!inWindow(r, w)) continue;
    all.add(r);
    (r.fallback ? fallback : primary).add(r);
  }
  const f = all.quality;
  const sub = (s: WindowStats) => (enoughLabels(s.quality) ? qualityValue(s.quality, metric) : null);
  const quality: QualityConfidence = {
    n: f.n,
    positives: f.positives,
    negatives: f.negatives,
    flagged: f.flagged,
    fallback: f.fallback,
    ...confidenceOf(f, metric),
    primary: sub(primary),
    fallbackOnly: sub(fallback),
  };
  const sample = `${f.n} scored answers with known labels (${f.positives} fraud, ${f.negatives} legitimate; ${f.fallback} from the fallback model)`;
  if (!enoughLabels(f)) {
    const unlabelled = all.ok - f.n;
    const missing = `${sample} ${inPhase}; a quality window needs at least ${QUALITY_MIN_LABELS} of each${unlabelled ? ` (${unlabelled} answers had no label or score)` : ''}`;
    return { measured: null, explanation: missing, missing, quality };
  }
  const parts = [describeQuality(f, metric)];
  if (f.fallback) {
    const fmt = (x: number | null) => (x === null ? 'too few labels' : x.toFixed(3));
    parts.push(`primary answers ${fmt(quality.primary)}, fallback answers ${fmt(quality.fallbackOnly)}`);
  }
  return {
    measured: qualityValue(f, metric),
    explanation: `${parts.join('; ')} over ${sample} ${inPhase}`,
    quality,
  };
}

function confidenceOf(f: QualityFigures, metric: QualityMetric): Pick<QualityConfidence, 'se' | 'ci'> {
  switch (metric) {
    case 'quality.auc':
      return f.aucSe === null ? {} : { se: f.aucSe };
    case 'quality.logloss':
      return f.loglossSe === null ? {} : { se: f.loglossSe };
    case 'quality.recall':
      return f.recallCi ? { ci: f.recallCi } : {};
    case 'quality.precision':
      return f.precisionCi ? { ci: f.precisionCi } : {};
  }
}
