// Model-quality SLIs from answers vs the traffic generator's true labels (docs/measurements.md,
// "Model quality"): ROC AUC, recall and precision at the model's own decision, log loss, each with
// its confidence. The formulas are checked against scikit-learn/scipy in test/fixtures/quality.json.

/** One labelled, scored answer. */
export interface QualityPoint {
  /** The model's fraud score (probability, 0..1). */
  score: number;
  /** Ground truth: 1 = fraud. */
  label: 0 | 1;
  /** The model flagged it: decision review or decline (score ≥ the model's review threshold). */
  flagged: boolean;
  /** Answered by the fallback model. */
  fallback: boolean;
}

/** A quality SLI is only computed over a window holding at least this many positives and negatives. */
export const QUALITY_MIN_LABELS = 20;

/** Log loss clips probabilities to [ε, 1 − ε] as scikit-learn does (float64 machine epsilon). */
const EPS = 2.220446049250313e-16;
/** Two-sided 95 % normal quantile. */
const Z95 = 1.959963984540054;

export interface Interval {
  lo: number;
  hi: number;
}

/**
 * ROC AUC by ranks (Mann–Whitney U): the probability that a random positive scores above a random
 * negative, ties counting one half (average ranks). Null without both classes.
 */
export function rocAuc(points: readonly Pick<QualityPoint, 'score' | 'label'>[]): number | null {
  let pos = 0;
  for (const p of points) pos += p.label;
  const neg = points.length - pos;
  if (pos === 0 || neg === 0) return null;
  const sorted = [...points].sort((a, b) => a.score - b.score);
  let rankSumPos = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1].score === sorted[i].score) j++;
    const avgRank = (i + j) / 2 + 1; // 1-based average rank of the tie group
    for (let k = i; k <= j; k++) if (sorted[k].label === 1) rankSumPos += avgRank;
    i = j + 1;
  }
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Hanley & McNeil (1982) standard error of an AUC from nPos positives and nNeg negatives. */
export function aucStdError(auc: number, nPos: number, nNeg: number): number | null {
  if (nPos < 1 || nNeg < 1) return null;
  const q1 = auc / (2 - auc);
  const q2 = (2 * auc * auc) / (1 + auc);
  const v = (auc * (1 - auc) + (nPos - 1) * (q1 - auc * auc) + (nNeg - 1) * (q2 - auc * auc)) / (nPos * nNeg);
  return Math.sqrt(Math.max(0, v));
}

/** Wilson score interval (95 %) for k successes in n trials; null when n = 0. */
export function wilson(k: number, n: number, z = Z95): Interval | null {
  if (n <= 0) return null;
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { lo: Math.max(0, center - half), hi: Math.min(1, center + half) };
}

/** −[y ln p + (1 − y) ln(1 − p)] for one answer, p clipped to [ε, 1 − ε]. */
export function requestLogLoss(score: number, label: 0 | 1): number {
  const p = Math.min(1 - EPS, Math.max(EPS, score));
  return label === 1 ? -Math.log(p) : -Math.log(1 - p);
}

export interface QualityFigures {
  /** Scored answers with a known label. */
  n: number;
  positives: number;
  negatives: number;
  /** Answers the model flagged (review or decline). */
  flagged: number;
  truePositives: number;
  /** Scored answers that came from the fallback model. */
  fallback: number;
  auc: number | null;
  /** Hanley–McNeil standard error of auc. */
  aucSe: number | null;
  recall: number | null;
  /** Wilson 95 % interval of recall (n = positives). */
  recallCi: Interval | null;
  precision: number | null;
  /** Wilson 95 % interval of precision (n = flagged). */
  precisionCi: Interval | null;
  /** Mean per-request log loss. */
  logloss: number | null;
  /** Standard error of that mean (sample sd / √n). */
  loglossSe: number | null;
}

export function qualityFigures(points: readonly QualityPoint[]): QualityFigures {
  let positives = 0;
  let flagged = 0;
  let tp = 0;
  let fallback = 0;
  let sum = 0;
  let sumSq = 0;
  for (const p of points) {
    positives += p.label;
    if (p.flagged) {
      flagged++;
      tp += p.label;
    }
    if (p.fallback) fallback++;
    const l = requestLogLoss(p.score, p.label);
    sum += l;
    sumSq += l * l;
  }
  const n = points.length;
  const negatives = n - positives;
  const auc = rocAuc(points);
  const mean = n ? sum / n : null;
  const variance = n > 1 && mean !== null ? Math.max(0, (sumSq - n * mean * mean) / (n - 1)) : null;
  return {
    n,
    positives,
    negatives,
    flagged,
    truePositives: tp,
    fallback,
    auc,
    aucSe: auc === null ? null : aucStdError(auc, positives, negatives),
    recall: positives ? tp / positives : null,
    recallCi: wilson(tp, positives),
    precision: flagged ? tp / flagged : null,
    precisionCi: wilson(tp, flagged),
    logloss: mean,
    loglossSe: variance === null ? null : Math.sqrt(variance / n),
  };
}

export type QualityMetric = 'quality.auc' | 'quality.recall' | 'quality.precision' | 'quality.logloss';
export const QUALITY_METRICS: readonly QualityMetric[] = [
  'quality.auc',
  'quality.recall',
  'quality.precision',
  'quality.logloss',
];

export function isQualityMetric(metric: string): metric is QualityMetric {
  return (QUALITY_METRICS as readonly string[]).includes(metric);
}

/** The figure a quality SLI names. */
export function qualityValue(f: QualityFigures, metric: QualityMetric): number | null {
  switch (metric) {
    case 'quality.auc':
      return f.auc;
    case 'quality.recall':
      return f.recall;
    case 'quality.precision':
      return f.precision;
    case 'quality.logloss':
      return f.logloss;
  }
}

/** Whether a window holds enough labels to judge quality: ≥ min positives and ≥ min negatives. */
export function enoughLabels(
  f: Pick<QualityFigures, 'positives' | 'negatives'>,
  min = QUALITY_MIN_LABELS,
): boolean {
  return f.positives >= min && f.negatives >= min;
}

/** "AUC 0.912 ± 0.021 (Hanley–McNeil SE)" etc.: the figure with its confidence, for explanations. */
export function describeQuality(f: QualityFigures, metric: QualityMetric): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  switch (metric) {
    case 'quality.auc':
      return f.auc === null
        ? 'AUC n/a'
        : `AUC ${f.auc.toFixed(3)} ± ${(f.aucSe ?? 0).toFixed(3)} (Hanley–McNeil SE)`;
    case 'quality.recall':
      return f.recall === null
        ? 'recall n/a'
        : `recall ${pct(f.recall)} = ${f.truePositives}/${f.positives} (95% Wilson ${pct(f.recallCi!.lo)}–${pct(f.recallCi!.hi)})`;
    case 'quality.precision':
      return f.precision === null
        ? 'precision n/a (nothing flagged)'
        : `precision ${pct(f.precision)} = ${f.truePositives}/${f.flagged} (95% Wilson ${pct(f.precisionCi!.lo)}–${pct(f.precisionCi!.hi)})`;
    case 'quality.logloss':
      return f.logloss === null
        ? 'log loss n/a'
        : `log loss ${f.logloss.toFixed(4)} ± ${(f.loglossSe ?? 0).toFixed(4)} (SE of the mean)`;
  }
}
