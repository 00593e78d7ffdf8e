// report.json: everything a report is rendered from. `faultline report <run-dir>` regenerates every
// other artifact (junit.xml, summary.md, index.html, report.pdf) from this file alone.
import type { LatencySummary } from '../slo/summarize.ts';
import type { QualitySeriesPoint, TimeSeriesPoint } from '../slo/timeseries.ts';

export const REPORT_SCHEMA_VERSION = 1;

export type Verdict = 'passed' | 'failed' | 'aborted' | 'error';

export interface RunReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  run: {
    id: string;
    /** Suite or scenario name. */
    name: string;
    startedAt: string;
    endedAt: string;
    platform: string;
    seed: number;
    faultlineVersion: string;
    host: string;
    command: string;
    /** 0 all checks met, 1 a check failed, 2 invalid input, 3 infrastructure failure. */
    exitCode: number;
    verdict: Verdict;
    disabled: string[];
  };
  /** The measurement definitions the numbers follow (DESIGN.md), printed in every report. */
  definitions: Record<string, string>;
  scenarios: ScenarioReport[];
}

export interface RunbookSummary {
  id: string;
  title: string;
  severity: string;
  file: string;
  detection: { signal: string; withinMs: number };
  mitigation: { automated: string; withinMs: number };
  mttrTargetMs: number;
  slos: string[];
  /** Markdown of each required section, for showing the runbook's steps beside the timeline. */
  sections: Record<string, string>;
}

export interface FaultRecord {
  id: string;
  type: string;
  name?: string;
  spec: Record<string, unknown>;
  plan?: Record<string, unknown>;
  /** Epoch ms: when the injection took effect (t0 for the first fault). */
  injectedAt?: number;
  revertedAt?: number;
  revertResult?: string;
  error?: string;
}

export type MarkerKind =
  | 'fault-inject'
  | 'fault-revert'
  | 'detection'
  | 'mitigation'
  | 'rollback'
  | 'recovery'
  | 'replica-exit'
  | 'replica-start'
  | 'alert'
  | 'alias'
  | 'abort';

export interface Marker {
  t: number;
  kind: MarkerKind;
  label: string;
}

export interface PhaseWindow {
  from: number;
  to: number;
}

export interface ScenarioReport {
  name: string;
  description?: string;
  file: string;
  verdict: Verdict;
  /** Why the scenario aborted or errored. */
  reason?: string;
  startedAt: number;
  endedAt: number;
  runbook?: RunbookSummary;
  phases: Record<'steady' | 'fault' | 'recovery' | 'whole', PhaseWindow>;
  load: { driver: string; rate: number; durationMs: number; seed: number };
  faults: FaultRecord[];
  steadyState: CheckResult[];
  checks: CheckResult[];
  measurements: {
    mttdMs: number | null;
    mttrMs: number | null;
    rollbackMs: number | null;
    driftDetectionMs: number | null;
    detectionSignal?: string;
    mitigation?: { name: string; observed: boolean; t?: number; evidence: string };
    recoveredAt?: number;
    /**
     * How MTTR came out (docs/measurements.md). `breached: false` is "no SLO breach": mttrMs is then
     * null and the run is kept out of MTTR medians and trends. The recovery instant lies within
     * resolutionMs before recoveredAt.
     */
    mttr?: {
      recovered: boolean;
      breached: boolean;
      resolutionMs?: number;
      /** The SLOs recovery was judged on: the runbook's, or the steady-state SLI checks without them. */
      sloSource: 'runbook' | 'steady-state';
      slos: string[];
    };
    /** Per phase: requests, availability, error rate, latency percentiles, fallback share. */
    phases: Record<
      string,
      {
        requests: number;
        ok: number;
        availability: number | null;
        errorRate: number | null;
        fallbackShare: number | null;
        latency: Omit<LatencySummary, 'count'>;
        throughput: number;
      }
    >;
  };
  /** Error budget of the runbook's availability SLO over the whole run. */
  errorBudget?: {
    objective: number;
    requests: number;
    allowedErrors: number;
    errors: number;
    consumed: number;
  };
  /** 1 s buckets for the charts. */
  timeline: TimeSeriesPoint[];
  /** Model quality over consecutive windows sized by label count (present when answers carried labels). */
  quality?: QualitySeriesPoint[];
  markers: Marker[];
  /** Browser probe results, when the scenario ran one. */
  probes?: {
    t: number;
    ok: boolean;
    latencyMs: number;
    modelVersion?: string;
    fallback?: string;
    error?: string;
  }[];
  /**
   * The runner's own event-loop delay (worst over the run). `starved` means the harness (which also
   * hosts the local fault proxies) could not keep up, so latency figures are suspect.
   */
  harness?: {
    loopDelayMaxMs: number;
    loopDelayP99Ms: number;
    starved: boolean;
    /** The load generator's scheduling lag (tSent − tIntended), worst 1 s p99 and max (`load.lag`). */
    generatorLagP99Ms?: number;
    generatorLagMaxMs?: number;
  };
  /** Journal file, relative to the run folder. */
  journal: string;
}

// ---- check results (computed by the runner's evaluation, rendered by every reporter) ----

export type PhaseName = 'steady' | 'fault' | 'recovery' | 'whole';

export interface CheckResult {
  check: string;
  metric: string;
  phase: PhaseName | 'event';
  op: string;
  target: number | null;
  targetText: string;
  measured: number | null;
  measuredText: string;
  /**
   * `inconclusive`: the evidence the check needs is missing (no requests or scrapes in the phase, no
   * fault, nothing to compare); it fails the gate like `failed`, and `explanation` says what was missing.
   */
  status: CheckStatus;
  /** `status === 'passed'` (kept for callers that only need the gate). */
  passed: boolean;
  explanation: string;
  /** Quality checks: the sample behind the figure and its confidence (docs/measurements.md). */
  quality?: QualityConfidence;
}

export interface QualityConfidence {
  /** Scored answers with a known label, and how many were fraud / legitimate / flagged / fallback. */
  n: number;
  positives: number;
  negatives: number;
  flagged: number;
  fallback: number;
  /** Standard error of the figure (AUC: Hanley–McNeil; log loss: SE of the mean). */
  se?: number;
  /** 95 % Wilson interval (recall, precision). */
  ci?: { lo: number; hi: number };
  /** The same figure over the primary model's and the fallback model's answers alone (null: too few labels). */
  primary: number | null;
  fallbackOnly: number | null;
}

export type CheckStatus = 'passed' | 'failed' | 'inconclusive';
