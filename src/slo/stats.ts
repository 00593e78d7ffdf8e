// Per-window request statistics and the SLIs computed from them. Shared by summarize, timeSeries and
// mttr so a window, a chart bucket and an MTTR bucket always mean the same thing.
import type { Outcome } from '../load/driver.ts';
import { parsePercentileName, percentilesOf } from '../stats/hdr.ts';
import {
  enoughLabels,
  isQualityMetric,
  type QualityFigures,
  type QualityMetric,
  type QualityPoint,
  qualityFigures,
  qualityValue,
} from './quality.ts';

/** The fields of a RequestRecord the SLO library reads (fixtures and journals may carry more). */
export interface SloRecord {
  tIntended: number;
  /** When the answer (or error) arrived: a request in flight at fault start belongs to the fault (phases, MTTR). */
  tDone?: number;
  outcome: Outcome;
  latencyMs: number | null;
  fallback?: string | null;
  modelVersion?: string | null;
  /** True label of the payload (1 = fraud), when the generator knew it. */
  label?: 0 | 1 | null;
  /** The answer's fraud score. */
  score?: number | null;
  /** The answer's decision; review and decline flag fraud. */
  decision?: string | null;
}

/** Half-open window [from, to) in epoch ms, matched against a record's intended time. */
export interface Window {
  from: number;
  to: number;
}

export type SliName = 'availability' | 'error_rate' | 'fallback.share' | `latency.${string}` | QualityMetric;
export type SloOp = '<' | '<=' | '>' | '>=';

export interface Slo {
  metric: SliName;
  op: SloOp;
  /** Fractions for availability / error_rate / fallback.share / quality (99.9% → 0.999; AUC 0.9); milliseconds for latency. */
  value: number;
}

export type SliGetter = (s: WindowStats) => number | null;

/** Resolves an SLI name once (throws on an unknown one) so hot loops don't re-parse it. */
export function sliGetter(metric: string): SliGetter {
  switch (metric) {
    case 'availability':
      return (s) => s.availability;
    case 'error_rate':
      return (s) => s.errorRate;
    case 'fallback.share':
      return (s) => s.fallbackShare;
    case 'latency.max':
      return (s) => s.latencyMax;
    case 'latency.mean':
      return (s) => s.latencyMean;
  }
  if (metric.startsWith('latency.')) {
    const p = parsePercentileName(metric.slice('latency.'.length));
    if (p !== undefined) return (s) => s.percentile(p);
  }
  if (isQualityMetric(metric)) return (s) => qualityValue(s.quality, metric);
  throw new Error(
    `unknown SLI "${metric}" (availability, error_rate, fallback.share, latency.pNN, latency.max, latency.mean, quality.auc, quality.recall, quality.precision, quality.logloss)`,
  );
}

/**
 * Evidence rule of the quality SLIs: a window judges model quality only with ≥ QUALITY_MIN_LABELS
 * positives and as many negatives among its scored answers (so quality windows are sized by label
 * count, not time). Undefined for SLIs that need no more than one request.
 */
export function qualityEvidence(metric: string): ((s: WindowStats) => boolean) | undefined {
  return isQualityMetric(metric) ? (s) => enoughLabels(s.labels) : undefined;
}

/** An SLI's getter and how much evidence a window needs before its value means anything. */
export interface SliSpec {
  get: SliGetter;
  enough(s: WindowStats): boolean;
}

/**
 * Minimum evidence per SLI (docs/measurements.md, "MTTR"): a ratio needs 100 requests (or ok answers)
 * so one request moves it by at most 1 %; a pNN percentile needs ⌈100 / (100 − NN)⌉ latency samples
 * so it is not simply the window's slowest request (p99: 100, p90: 10, p50: 2); max and mean need one.
 * One case per SLI so new SLIs (quality.*) are added as further cases.
 */
export function sliSpec(metric: string): SliSpec {
  const get = sliGetter(metric);
  switch (metric) {
    case 'availability':
    case 'error_rate':
      return { get, enough: (s) => s.requests >= MIN_RATIO_REQUESTS };
    case 'fallback.share':
      return { get, enough: (s) => s.ok >= MIN_RATIO_REQUESTS };
    case 'latency.max':
    case 'latency.mean':
      return { get, enough: (s) => s.latencies.length >= 1 };
  }
  if (isQualityMetric(metric)) return { get, enough: (s) => enoughLabels(s.labels) };
  if (metric.startsWith('latency.')) {
    const p = parsePercentileName(metric.slice('latency.'.length))!;
    const n = minSamplesForPercentile(p);
    return { get, enough: (s) => s.latencies.length >= n };
  }
  throw new Error(`no evidence rule for SLI "${metric}"`);
}

/** Requests (or ok answers) a ratio SLI needs in a window: one request moves it by ≤ 1 %. */
export const MIN_RATIO_REQUESTS = 100;

/** ⌈100 / (100 − p)⌉ samples (at least 1): the smallest count whose pNN rank is below the maximum. */
export function minSamplesForPercentile(p: number): number {
  if (p >= 100) return 1;
  // Round first so 100 / (100 − 99.9) = 1000.0000000000009 is 1000, not 1001.
  return Math.max(1, Math.ceil(Number((100 / (100 - p)).toFixed(6))));
}

export function compare(value: number | null, op: SloOp, target: number): boolean {
  // An SLI that cannot be computed where requests exist (no answers to time, no ok answers to share)
  // is not evidence of health.
  if (value === null || Number.isNaN(value)) return false;
  switch (op) {
    case '<':
      return value < target;
    case '<=':
      return value <= target;
    case '>':
      return value > target;
    case '>=':
      return value >= target;
  }
  throw new Error(`unknown SLO operator "${op as string}"`);
}

export class WindowStats {
  requests = 0;
  ok = 0;
  /** Non-ok answers and network errors, timeouts included (not drops). */
  errors = 0;
  timeouts = 0;
  dropped = 0;
  /** Ok answers that came from the fallback model. */
  fallbackCount = 0;
  readonly latencies: number[] = [];
  private latencySum = 0;
  private maxLatency = Number.NEGATIVE_INFINITY;
  private pcache = new Map<number, number | null>();
  /** Ok answers with a score and a known label (the quality SLIs' sample). */
  readonly qualityPoints: QualityPoint[] = [];
  /** Label counts of qualityPoints, kept as they are added: evidence checks must not compute figures. */
  readonly labels = { positives: 0, negatives: 0 };
  private qcache: QualityFigures | undefined;

  add(r: SloRecord): void {
    this.requests++;
    this.pcache.clear();
    switch (r.outcome) {
      case 'ok':
        this.ok++;
        if (r.fallback) this.fallbackCount++;
        if ((r.label === 0 || r.label === 1) && typeof r.score === 'number' && Number.isFinite(r.score)) {
          this.qcache = undefined;
          if (r.label === 1) this.labels.positives++;
          else this.labels.negatives++;
          this.qualityPoints.push({
            score: r.score,
            label: r.label,
            // The model's own decision: review and decline flag fraud; without one, score ≥ 0.5.
            flagged: r.decision ? r.decision === 'review' || r.decision === 'decline' : r.score >= 0.5,
            fallback: !!r.fallback,
          });
        }
        break;
      case 'dropped':
        this.dropped++;
        break;
      case 'timeout':
        this.timeouts++;
        this.errors++;
        break;
      default:
        this.errors++;
    }
    if (
      r.outcome !== 'dropped' &&
      r.latencyMs !== null &&
      r.latencyMs !== undefined &&
      Number.isFinite(r.latencyMs)
    ) {
      this.latencies.push(r.latencyMs);
      this.latencySum += r.latencyMs;
      if (r.latencyMs > this.maxLatency) this.maxLatency = r.latencyMs;
    }
  }

  get availability(): number | null {
    return this.requests ? this.ok / this.requests : null;
  }
  get errorRate(): number | null {
    return this.requests ? (this.requests - this.ok) / this.requests : null;
  }
  get fallbackShare(): number | null {
    return this.ok ? this.fallbackCount / this.ok : null;
  }
  /** Quality figures (AUC, recall, precision, log loss, their confidence) over the scored answers. */
  get quality(): QualityFigures {
    this.qcache ??= qualityFigures(this.qualityPoints);
    return this.qcache;
  }
  get latencyMax(): number | null {
    return this.latencies.length ? this.maxLatency : null;
  }
  get latencyMean(): number | null {
    return this.latencies.length ? this.latencySum / this.latencies.length : null;
  }
  percentile(p: number): number | null {
    if (!this.pcache.has(p)) this.pcache.set(p, percentilesOf(this.latencies, [p])[0]);
    return this.pcache.get(p)!;
  }
  percentiles(ps: readonly number[]): (number | null)[] {
    const missing = ps.filter((p) => !this.pcache.has(p));
    if (missing.length) {
      const vals = percentilesOf(this.latencies, missing);
      missing.forEach((p, i) => {
        this.pcache.set(p, vals[i]);
      });
    }
    return ps.map((p) => this.pcache.get(p)!);
  }
}

/**
 * The phase rule (docs/measurements.md, "Phases"): a request belongs after fault start t0 when it was
 * intended at or after t0, or was still in flight at t0 (intended before, done after). Steady state
 * is what was over before the fault began; everything the fault could touch is the fault's.
 */
export function afterT0(r: Pick<SloRecord, 'tIntended' | 'tDone'>, t0: number): boolean {
  return r.tIntended >= t0 || (r.tDone !== undefined && r.tDone > t0);
}

/** Where windows place a record: its intended time, moved to t0 when it was in flight at t0. */
export function phaseTime(r: Pick<SloRecord, 'tIntended' | 'tDone'>, t0?: number): number {
  return t0 !== undefined && r.tIntended < t0 && afterT0(r, t0) ? t0 : r.tIntended;
}

/** Window membership by intended time; with the fault start `t0`, by the phase rule above. */
export function inWindow(r: SloRecord, w: Window, t0?: number): boolean {
  const t = phaseTime(r, t0);
  return t >= w.from && t < w.to;
}
