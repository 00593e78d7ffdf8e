// Trains the primary (request + online store features) and fallback (request only) logistic models
// and packs them as `faultline.logistic/v1` artifacts the model-server scores with schema.score().
import LogisticRegression from 'ml-logistic-regression';
import { Matrix } from 'ml-matrix';
import {
  deriveInputs,
  FALLBACK_MODEL,
  MONITORED_REQUEST_FEATURES,
  type ModelArtifact,
  PRIMARY_MODEL,
  STORE_FEATURE_NAMES,
  type StoreFeatures,
  score,
} from '../schema.ts';
import { type LabeledTransaction, Rng, type SyntheticUser } from './data.ts';

export type Role = 'primary' | 'fallback';
export const DEGRADED_KINDS = ['skewed', 'inverted', 'broken'] as const;
export type DegradedKind = (typeof DEGRADED_KINDS)[number];

/** Input name no server derives: a "broken" model asks for it and its scoring throws. */
export const BROKEN_INPUT = 'txn_velocity_7d';
/** Logit added by the `skewed` degradation (odds × e^6 ≈ 400): about two thirds of normal traffic crosses the review threshold, a fifth the decline one. */
export const SKEW_LOGIT_SHIFT = 6;

export interface TrainOptions {
  role: Role;
  /** Seeds subsampling and the reference sample. */
  seed: number;
  /** Rows used for fitting at most (all frauds kept, legitimate rows subsampled). Default 3000: 6000 gave the same holdout AUC to three decimals at twice the training time. */
  maxFitRows?: number;
  /** Gradient steps. Default 200: on the bootstrap data 200 and 400 give the same holdout AUC to four decimals. */
  steps?: number;
  /** Share of rows held out for metrics and thresholds. Default 0.25. */
  holdoutShare?: number;
  /** Percentiles of holdout scores used as review / decline cut-offs. Default 0.97 / 0.995. */
  reviewQuantile?: number;
  declineQuantile?: number;
  /** Reference sample size per monitored feature. Default 1000. */
  referenceSize?: number;
  /** Stored as `trained_at`; omitted by default so artifacts are byte-identical for a seed. */
  trainedAt?: string;
}

export type UserLookup = ReadonlyMap<string, StoreFeatures>;

export function userLookup(users: readonly SyntheticUser[]): UserLookup {
  return new Map(users.map((u) => [u.user_id, u.features]));
}

function inputsFor(role: Role, row: LabeledTransaction, users: UserLookup): Record<string, number> {
  if (role === 'fallback') return deriveInputs(row.tx);
  const f = users.get(row.tx.user_id);
  if (!f) throw new Error(`no store features for user ${row.tx.user_id}`);
  return deriveInputs(row.tx, f);
}

/**
 * Area under the ROC curve by ranks (Mann–Whitney U): the probability that a random positive scores
 * above a random negative, ties counting one half. O(n log n).
 */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  if (labels.length !== n) throw new Error('auc: scores and labels differ in length');
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0;
  let rankSumPos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const avgRank = (i + j) / 2 + 1; // ranks are 1-based; tied scores share the mean rank
    for (let k = i; k <= j; k++) {
      if (labels[idx[k]] === 1) {
        pos++;
        rankSumPos += avgRank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return Number.NaN;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Value at quantile q (0..1) of the sorted array, linear interpolation (numpy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export interface Evaluation {
  auc: number;
  /** Share of rows scored at or above the review threshold (what the prediction monitor watches). */
  positive_rate: number;
  mean_score: number;
  /** Share of rows that are fraud. */
  fraud_rate: number;
  scores: number[];
}

export function evaluate(
  model: ModelArtifact,
  rows: readonly LabeledTransaction[],
  users: UserLookup,
): Evaluation {
  const role: Role = model.role;
  const scores = rows.map((r) => score(model, inputsFor(role, r, users)).score);
  const labels = rows.map((r) => r.label);
  let flagged = 0;
  let sum = 0;
  for (const s of scores) {
    if (s >= model.thresholds.review) flagged++;
    sum += s;
  }
  return {
    auc: auc(scores, labels),
    positive_rate: flagged / rows.length,
    mean_score: sum / rows.length,
    fraud_rate: labels.reduce<number>((a, b) => a + b, 0) / rows.length,
    scores,
  };
}

/**
 * Fits a logistic regression with ml-logistic-regression on standardized deriveInputs.
 * The library runs plain batch gradient ascent (gradient summed over rows, no intercept), so: inputs
 * are standardized, a constant column plays the intercept, the step is scaled by 1/rows, and only one
 * binary classifier is trained (the library's multi-class train() would fit a mirror image too).
 * For speed, legitimate rows are subsampled (case-control, all frauds kept); the intercept is then
 * corrected by log(sampling rate) so scores stay calibrated to the real fraud rate.
 */
export function trainModel(
  rows: readonly LabeledTransaction[],
  users: UserLookup,
  opts: TrainOptions,
): ModelArtifact {
  const role = opts.role;
  const holdoutShare = opts.holdoutShare ?? 0.25;
  const split = Math.floor(rows.length * (1 - holdoutShare));
  const train = rows.slice(0, split);
  const holdout = rows.slice(split);
  if (train.length === 0 || holdout.length === 0)
    throw new Error('trainModel: too few rows for a train/holdout split');
  const rng = new Rng(opts.seed * 31 + (role === 'primary' ? 1 : 2));

  const positives = train.filter((r) => r.label === 1).length;
  if (positives === 0) throw new Error('trainModel: the training rows contain no fraud');
  const maxFit = opts.maxFitRows ?? 3000;
  const negatives = train.length - positives;
  const keepNeg = Math.min(1, Math.max(1, maxFit - positives) / negatives);
  const fit = train.filter((r) => r.label === 1 || rng.u() < keepNeg);

  const names = Object.keys(inputsFor(role, fit[0], users));
  const d = names.length;
  const raw = fit.map((r) => {
    const x = inputsFor(role, r, users);
    return names.map((n) => x[n]);
  });
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const row of raw) for (let j = 0; j < d; j++) mean[j] += row[j] / raw.length;
  for (const row of raw) for (let j = 0; j < d; j++) std[j] += (row[j] - mean[j]) ** 2 / raw.length;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]) || 1;
  const X = new Matrix(raw.map((row) => [...row.map((v, j) => (v - mean[j]) / std[j]), 1]));
  const y = Matrix.columnVector(fit.map((r) => r.label));

  const steps = opts.steps ?? 200;
  // Step 4/N: the summed gradient's curvature is at most N/4 per unit-variance input.
  const model = LogisticRegression.load({
    name: 'LogisticRegression',
    numberClasses: 1,
    classifiers: [{ numSteps: steps, learningRate: 4 / fit.length, weights: null }],
  });
  const clf = model.classifiers[0];
  clf.train(X, y);
  const w = (clf.weights as Matrix).to1DArray();
  const weights = w.slice(0, d);
  const bias = w[d] + Math.log(keepNeg);

  const artifact: ModelArtifact = {
    format: 'faultline.logistic/v1',
    name: role === 'primary' ? PRIMARY_MODEL : FALLBACK_MODEL,
    role,
    inputs: names,
    mean,
    std,
    weights,
    bias,
    thresholds: { review: 1, decline: 1 },
    reference: referenceSample(train, users, rng, opts.referenceSize ?? 1000),
    seed: opts.seed,
  };
  // Cut-offs from the holdout score distribution: review the top 3%, decline the top 0.5%.
  const ev = evaluate(artifact, holdout, users);
  const sorted = Float64Array.from(ev.scores).sort();
  artifact.thresholds = {
    review: quantile(sorted, opts.reviewQuantile ?? 0.97),
    decline: quantile(sorted, opts.declineQuantile ?? 0.995),
  };
  const final = evaluate(artifact, holdout, users);
  artifact.metrics = { auc: final.auc, positive_rate: final.positive_rate, mean_score: final.mean_score };
  if (opts.trainedAt) artifact.trained_at = opts.trainedAt;
  return artifact;
}

/** Raw values of every monitored feature for a seeded sample of training rows (same rows for all). */
function referenceSample(
  rows: readonly LabeledTransaction[],
  users: UserLookup,
  rng: Rng,
  size: number,
): ModelArtifact['reference'] {
  const idx = Array.from({ length: rows.length }, (_, i) => i);
  const k = Math.min(size, rows.length);
  // Partial Fisher–Yates: the first k entries are a uniform sample without replacement.
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng.u() * (idx.length - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  const picked = idx.slice(0, k).map((i) => rows[i]);
  const ref: ModelArtifact['reference'] = {};
  for (const name of MONITORED_REQUEST_FEATURES) ref[name] = { values: picked.map((r) => r.tx[name]) };
  for (const name of STORE_FEATURE_NAMES) {
    ref[name] = {
      values: picked.map((r) => {
        const f = users.get(r.tx.user_id);
        if (!f) throw new Error(`no store features for user ${r.tx.user_id}`);
        return f[name];
      }),
    };
  }
  return ref;
}

/**
 * A deliberately bad copy of a model for rollout scenarios:
 * - `skewed`: intercept raised by SKEW_LOGIT_SHIFT, so most traffic crosses the review threshold
 *   (prediction-distribution breach) while the ranking (AUC) is unchanged;
 * - `inverted`: weights negated, the ranking flips (AUC → 1 − AUC);
 * - `broken`: asks for an input (BROKEN_INPUT) no server derives, so scoring throws (primary_error).
 * Thresholds stay those of the good model: they are the business's cut-offs, not the model's.
 */
export function degrade(artifact: ModelArtifact, kind: DegradedKind): ModelArtifact {
  const a: ModelArtifact = structuredClone(artifact);
  a.degraded = kind;
  delete a.metrics;
  if (kind === 'skewed') a.bias += SKEW_LOGIT_SHIFT;
  else if (kind === 'inverted') a.weights = a.weights.map((w) => -w);
  else if (kind === 'broken') {
    a.inputs.push(BROKEN_INPUT);
    a.mean.push(0);
    a.std.push(1);
    a.weights.push(0.5);
  } else
    throw new Error(`unknown degradation "${kind as string}" (expected one of ${DEGRADED_KINDS.join(', ')})`);
  return a;
}

export function isDegradedKind(s: string): s is DegradedKind {
  return (DEGRADED_KINDS as readonly string[]).includes(s);
}
