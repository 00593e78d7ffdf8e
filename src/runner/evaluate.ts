// Turns a scenario's checks into verdicts: each result carries the measured value, the target, the
// phase and one line saying what was measured, so a failing CI gate explains itself.
import type { RequestRecord } from '../load/driver.ts';
import { type Check, compare, formatMetricValue, METRICS, type MetricName } from '../scenario/checks.ts';
import { mttr as computeMttr, mttd as firstSignal } from '../slo/mttr.ts';
import type { Slo, Window } from '../slo/stats.ts';
import { summarize, type WindowSummary } from '../slo/summarize.ts';
import { extractSignals, type JournalIndex, platformActions, signalMatches } from './signals.ts';

export type PhaseName = 'steady' | 'fault' | 'recovery' | 'whole';
export type Phases = Record<PhaseName, Window>;

/** What the runner needs from a runbook. */
export interface RunbookTargets {
  id: string;
  detection: { signal: string; withinMs: number };
  mitigation: { automated: string; withinMs: number };
  mttrTargetMs: number;
  slos: Slo[];
}

export interface CheckResult {
  check: string;
  metric: string;
  phase: PhaseName | 'event';
  op: string;
  target: number | null;
  targetText: string;
  measured: number | null;
  measuredText: string;
  passed: boolean;
  explanation: string;
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
  mttr?: { recovered: boolean; ms?: number; recoveredAt?: number; breached: boolean; occurrences: number };
  rollback?: { ms?: number; t?: number };
  driftDetection?: { ms?: number; t?: number; feature?: string };
  mitigation?: { name: string; observed: boolean; t?: number; evidence: string };
}

const PHASES: PhaseName[] = ['steady', 'fault', 'recovery', 'whole'];
/** MTTR bucket length: see docs/measurements.md (1 s keeps percentile SLIs meaningful at 100 req/s). */
export const MTTR_RESOLUTION_MS = 1000;

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
    if (runbook.slos.length) {
      const rs = occ.map((o) =>
        computeMttr({
          records: input.records,
          t0: o.start,
          slos: runbook.slos,
          stableForMs: input.stableForMs,
          endMs: o.end,
          resolutionMs: MTTR_RESOLUTION_MS,
        }),
      );
      const notRecovered = rs.find((r) => !r.recovered);
      const w = notRecovered ?? rs.reduce((a, b) => ((b.mttrMs ?? 0) > (a.mttrMs ?? 0) ? b : a));
      m.mttr = {
        recovered: !notRecovered,
        ms: w.mttrMs,
        recoveredAt: w.recoveredAt,
        breached: rs.some((r) => r.breached),
        occurrences: rs.length,
      };
    }
    // What the platform did (a restart) is mitigation evidence, never detection.
    const actions = [...signals, ...platformActions(index)].sort((a, b) => a.t - b.t);
    m.mitigation = mitigation(runbook.mitigation.automated, input, actions, t0);
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
        .find((e) => e.kind === 'replica-ready' && e.name === restarted.replica && e.ts_ms >= restarted.t);
      if (!ready)
        return {
          name,
          observed: false,
          evidence: `the supervisor scheduled a replacement for ${String(restarted.replica)}, which never became ready`,
        };
      const boot = (ready.details as { since_start_ms?: number } | undefined)?.since_start_ms;
      return found(
        { t: ready.ts_ms },
        `supervisor replaced ${String(restarted.replica)}; ready ${ready.ts_ms - restarted.t} ms after the restart was scheduled${boot === undefined ? '' : ` (${boot} ms after its process started)`}`,
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
  const { measured, explanation } = measureCheck(c.metric, phase === 'event' ? 'whole' : phase, input, m);
  const measuredText = measured === null ? 'n/a' : formatMetricValue(c.metric, measured);
  const passed = measured !== null && target !== null && compare(c.op, measured, target);
  return { ...base, measured, measuredText, passed, explanation };
}

function measureCheck(
  metric: MetricName,
  phase: PhaseName,
  input: EvaluationInput,
  m: Measurements,
): { measured: number | null; explanation: string } {
  const s = m.summaries[phase];
  const w = input.phases[phase];
  const secs = ((w.to - w.from) / 1000).toFixed(1);
  const inPhase = `over the ${phase} phase (${secs} s, ${s.requests} requests)`;
  const noFault = input.t0 === undefined ? 'no fault took effect, so there is nothing to measure' : undefined;
  switch (metric) {
    case 'availability':
      return {
        measured: s.availability,
        explanation: `${s.ok} of ${s.requests} requests succeeded ${inPhase}`,
      };
    case 'error_rate':
      return {
        measured: s.errorRate,
        explanation: `${s.requests - s.ok} of ${s.requests} requests failed ${inPhase}`,
      };
    case 'throughput':
      return { measured: s.throughput, explanation: `successful responses per second ${inPhase}` };
    case 'fallback.share':
      return {
        measured: s.fallbackShare,
        explanation: `${s.fallbackCount} of ${s.ok} successful responses came from the fallback model ${inPhase}`,
      };
    case 'fallback.count':
      return { measured: s.fallbackCount, explanation: `fallback answers ${inPhase}` };
    case 'retries.total': {
      const n =
        input.index.increase('gateway_retries_total', w.from, w.to) +
        input.index.increase('model_server_feature_fetch_retries_total', w.from, w.to);
      return { measured: n, explanation: `gateway retries + model-server feature-fetch retries ${inPhase}` };
    }
    case 'retries.amplification': {
      const n = input.index.increase('gateway_retries_total', w.from, w.to);
      return {
        measured: s.requests ? n / s.requests : null,
        explanation: `${n} gateway retries for ${s.requests} requests ${inPhase}`,
      };
    }
    case 'retry_budget.exhausted': {
      const n = input.index.increase('gateway_retry_budget_exhausted_total', w.from, w.to);
      return { measured: n, explanation: `retries refused by the gateway's retry budget ${inPhase}` };
    }
    case 'mttd':
      if (noFault) return { measured: null, explanation: noFault };
      if (!m.mttd)
        return {
          measured: null,
          explanation: 'the scenario names no runbook, so there is no detection signal',
        };
      return m.mttd.detected
        ? {
            measured: m.mttd.ms!,
            explanation: `first "${input.runbook!.detection.signal}" signal (${m.mttd.signal}${m.mttd.source ? `, from ${m.mttd.source}` : ''}) after fault start`,
          }
        : {
            measured: null,
            explanation: `no "${input.runbook!.detection.signal}" signal observed after fault start`,
          };
    case 'mttr':
      if (noFault) return { measured: null, explanation: noFault };
      if (!m.mttr) return { measured: null, explanation: 'the runbook names no SLOs to recover' };
      return m.mttr.recovered
        ? {
            measured: m.mttr.ms!,
            explanation: m.mttr.breached
              ? `every runbook SLO held for ${input.stableForMs / 1000} s from ${(m.mttr.ms! / 1000).toFixed(2)} s after fault start`
              : 'the runbook SLOs were never breached: recovered at fault start',
          }
        : {
            measured: null,
            explanation: `not recovered: the runbook SLOs did not hold for ${input.stableForMs / 1000} s before the end of the run`,
          };
    case 'rollback.time':
      if (noFault) return { measured: null, explanation: noFault };
      return m.rollback?.ms !== undefined
        ? { measured: m.rollback.ms, explanation: 'fault start → controller rollback event' }
        : { measured: null, explanation: 'no rollback event from the controller after fault start' };
    case 'drift.detection_time':
      if (noFault) return { measured: null, explanation: noFault };
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
      if (!m.mitigation) return { measured: null, explanation: noFault ?? 'the scenario names no runbook' };
      return { measured: m.mitigation.observed ? 1 : 0, explanation: m.mitigation.evidence };
    case 'data_loss':
      return input.dataLoss === undefined
        ? { measured: 0, explanation: 'no feature-store rows were modified' }
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
      return {
        measured: versions.size > 1 ? 1 : 0,
        explanation: `primary model versions served ${inPhase}: ${[...versions].join(', ') || 'none'}`,
      };
    }
    case 'browser.success': {
      if (!input.probes?.length)
        return { measured: null, explanation: 'no browser probe ran in this scenario' };
      const inW = input.probes.filter((p) => p.t >= w.from && p.t < w.to);
      const ok = inW.filter((p) => p.ok).length;
      return inW.length
        ? {
            measured: ok / inW.length,
            explanation: `${ok} of ${inW.length} browser checks showed a verdict ${inPhase}`,
          }
        : { measured: null, explanation: `no browser check ran in the ${phase} phase` };
    }
    case 'latency.p50':
    case 'latency.p90':
    case 'latency.p95':
    case 'latency.p99':
    case 'latency.p999':
    case 'latency.max':
    case 'latency.mean': {
      const key = metric.slice('latency.'.length) as keyof WindowSummary['latency'];
      return {
        measured: s.latency[key] as number | null,
        explanation: `${metric} from the intended send time ${inPhase}`,
      };
    }
  }
}
