import { QUALITY_MIN_LABELS } from './quality.ts';
import type { SloRecord } from './stats.ts';
import { phaseTime, qualityEvidence, WindowStats } from './stats.ts';

export interface TimeSeriesOptions {
  bucketMs?: number;
  /** First bucket start (epoch ms); default: the earliest intended time. */
  from?: number;
  /** End (exclusive); default: just past the latest intended time. */
  to?: number;
  /** Fault start: requests in flight at t0 are charted from t0 on, as the phases count them. */
  t0?: number;
}

export interface TimeSeriesPoint {
  /** Bucket start, epoch ms; the bucket is [t, t + bucketMs). */
  t: number;
  requests: number;
  ok: number;
  errors: number;
  dropped: number;
  availability: number | null;
  errorRate: number | null;
  p50: number | null;
  p99: number | null;
  fallbackShare: number | null;
  /** Answers per serving model version (any record that named one). */
  modelVersions: Record<string, number>;
}

/** Per-bucket SLIs for the report charts. Empty buckets are kept (with null SLIs) so gaps stay visible. */
export function timeSeries(records: Iterable<SloRecord>, opts: TimeSeriesOptions = {}): TimeSeriesPoint[] {
  const bucketMs = opts.bucketMs ?? 1000;
  if (!(bucketMs > 0)) throw new Error(`bucketMs must be > 0, got ${bucketMs}`);
  const list = Array.isArray(records) ? (records as SloRecord[]) : [...records];
  let from = opts.from;
  let to = opts.to;
  if (from === undefined || to === undefined) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const r of list) {
      if (r.tIntended < lo) lo = r.tIntended;
      if (r.tIntended > hi) hi = r.tIntended;
    }
    if (lo === Number.POSITIVE_INFINITY) return [];
    from ??= lo;
    to ??= hi + 1e-6;
  }
  const n = Math.max(0, Math.ceil((to - from) / bucketMs));
  const stats: WindowStats[] = Array.from({ length: n }, () => new WindowStats());
  const versions: Record<string, number>[] = Array.from({ length: n }, () => ({}));
  for (const r of list) {
    const t = phaseTime(r, opts.t0);
    if (t < from || t >= to) continue;
    const k = Math.floor((t - from) / bucketMs);
    if (k >= n) continue;
    stats[k].add(r);
    if (r.modelVersion) versions[k][r.modelVersion] = (versions[k][r.modelVersion] ?? 0) + 1;
  }
  return stats.map((s, k) => {
    const [p50, p99] = s.percentiles([50, 99]);
    return {
      t: from + k * bucketMs,
      requests: s.requests,
      ok: s.ok,
      errors: s.errors,
      dropped: s.dropped,
      availability: s.availability,
      errorRate: s.errorRate,
      p50,
      p99,
      fallbackShare: s.fallbackShare,
      modelVersions: versions[k],
    };
  });
}

/** One quality window of the report chart: consecutive answers holding enough positives and negatives. */
export interface QualitySeriesPoint {
  /** Intended time of the window's first and last scored answer (epoch ms). */
  from: number;
  to: number;
  n: number;
  positives: number;
  negatives: number;
  auc: number | null;
  /** Hanley–McNeil standard error of auc. */
  aucSe: number | null;
  recall: number | null;
  precision: number | null;
  logloss: number | null;
  /** Share of the window's scored answers that came from the fallback model. */
  fallbackShare: number | null;
}

/**
 * Quality over consecutive, non-overlapping windows sized by label count, not time: each closes once
 * it holds QUALITY_MIN_LABELS positives and as many negatives (qualityEvidence), so every point is
 * judged on the same evidence whatever the fraud share. A trailing remainder with too few labels is
 * left out (it would not mean anything).
 */
export function qualitySeries(records: Iterable<SloRecord>): QualitySeriesPoint[] {
  const scored = [...records]
    .filter((r) => r.outcome === 'ok' && (r.label === 0 || r.label === 1) && typeof r.score === 'number')
    .sort((a, b) => a.tIntended - b.tIntended);
  const enough = qualityEvidence('quality.auc')!;
  const out: QualitySeriesPoint[] = [];
  let w = new WindowStats();
  let from = 0;
  for (const r of scored) {
    if (w.qualityPoints.length === 0) from = r.tIntended;
    w.add(r);
    if (w.qualityPoints.length < 2 * QUALITY_MIN_LABELS || !enough(w)) continue;
    const q = w.quality;
    out.push({
      from,
      to: r.tIntended,
      n: q.n,
      positives: q.positives,
      negatives: q.negatives,
      auc: q.auc,
      aucSe: q.aucSe,
      recall: q.recall,
      precision: q.precision,
      logloss: q.logloss,
      fallbackShare: q.n ? q.fallback / q.n : null,
    });
    w = new WindowStats();
  }
  return out;
}
