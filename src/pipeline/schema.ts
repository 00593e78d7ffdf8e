// The fraud-scoring domain shared by trainer, model-server, load generator and drift fault:
// what a transaction looks like, which features the online store holds, and the model artifact.
import { z } from 'zod';

export const TX_TYPES = ['PAYMENT', 'TRANSFER', 'CASH_OUT', 'DEBIT', 'CASH_IN'] as const;
export type TxType = (typeof TX_TYPES)[number];

/** Fields the caller sends with each scoring request (PaySim-like). */
export const Transaction = z
  .object({
    transaction_id: z.string().max(128).optional(),
    user_id: z.string().min(1).max(64),
    type: z.enum(TX_TYPES),
    amount: z.number().finite().min(0).max(10_000_000),
    old_balance: z.number().finite().min(0).max(100_000_000),
    new_balance: z.number().finite().min(0).max(100_000_000),
    hour: z.number().int().min(0).max(23),
    merchant_risk: z.number().finite().min(0).max(1),
  })
  .strict();
export type Transaction = z.infer<typeof Transaction>;

export interface NumericSpec {
  name: string;
  kind: 'numeric';
  min: number;
  max: number;
  integer?: boolean;
}

/** Online features per user, held by the feature-server (entity key `user_id`). */
export const STORE_FEATURES: NumericSpec[] = [
  { name: 'txn_count_24h', kind: 'numeric', min: 0, max: 500, integer: true },
  { name: 'avg_amount_30d', kind: 'numeric', min: 0, max: 1_000_000 },
  { name: 'account_age_days', kind: 'numeric', min: 0, max: 20_000, integer: true },
  { name: 'chargebacks_90d', kind: 'numeric', min: 0, max: 100, integer: true },
  { name: 'distinct_devices_7d', kind: 'numeric', min: 0, max: 50, integer: true },
];
export const STORE_FEATURE_NAMES = STORE_FEATURES.map((f) => f.name);
export type StoreFeatures = Record<string, number>;

/** Request fields whose live distribution the drift monitor compares with the training reference. */
export const MONITORED_REQUEST_FEATURES = ['amount', 'old_balance', 'hour', 'merchant_risk'] as const;

/** Feature status, as Feast reports it (plus an enforced freshness TTL). */
export const FEATURE_STATUSES = ['PRESENT', 'NOT_FOUND', 'NULL_VALUE', 'OUTSIDE_MAX_AGE'] as const;
export type FeatureStatus = (typeof FEATURE_STATUSES)[number];

/** Model inputs derived from a transaction (and, for the primary model, the user's online features). */
export function deriveInputs(tx: Transaction, store?: StoreFeatures): Record<string, number> {
  const x: Record<string, number> = {
    log_amount: Math.log1p(tx.amount),
    // PaySim's tell: fraudulent transfers empty the account, so balances do not add up.
    balance_error:
      Math.sign(tx.old_balance - tx.amount - tx.new_balance) *
      Math.log1p(Math.abs(tx.old_balance - tx.amount - tx.new_balance)),
    drains_account: tx.new_balance === 0 && tx.old_balance > 0 ? 1 : 0,
    night: tx.hour < 6 ? 1 : 0,
    merchant_risk: tx.merchant_risk,
  };
  for (const t of TX_TYPES) x[`type_${t}`] = tx.type === t ? 1 : 0;
  if (store) {
    x.txn_count_24h = Math.log1p(store.txn_count_24h);
    x.amount_vs_avg = Math.log1p(tx.amount) - Math.log1p(store.avg_amount_30d);
    x.account_age = Math.log1p(store.account_age_days);
    x.chargebacks_90d = store.chargebacks_90d;
    x.distinct_devices_7d = store.distinct_devices_7d;
  }
  return x;
}

/** Reference distribution of one monitored feature, captured at training time. */
export interface ReferenceSample {
  /** Raw values (a seeded sample of the training set); KS and the binned statistics use it. */
  values: number[];
}

/** A logistic model as stored in the registry (artifact `model.json`). */
export const ModelArtifact = z.object({
  format: z.literal('faultline.logistic/v1'),
  name: z.string(),
  role: z.enum(['primary', 'fallback']),
  /** Derived input names, in weight order; the primary model also needs STORE_FEATURES. */
  inputs: z.array(z.string()).min(1),
  mean: z.array(z.number()),
  std: z.array(z.number()),
  weights: z.array(z.number()),
  bias: z.number(),
  /** Score cut-offs: >= review → review, >= decline → decline. */
  thresholds: z.object({ review: z.number(), decline: z.number() }),
  /** Training-time distribution of each monitored feature (request and store features). */
  reference: z.record(z.string(), z.object({ values: z.array(z.number()) })),
  metrics: z
    .object({ auc: z.number(), positive_rate: z.number(), mean_score: z.number() })
    .partial()
    .optional(),
  /** Set on deliberately degraded versions produced for rollout scenarios. */
  degraded: z.string().optional(),
  trained_at: z.string().optional(),
  seed: z.number().optional(),
});
export type ModelArtifact = z.infer<typeof ModelArtifact>;

export type Decision = 'approve' | 'review' | 'decline';

export function score(
  model: ModelArtifact,
  inputs: Record<string, number>,
): { score: number; decision: Decision } {
  let z = model.bias;
  for (let i = 0; i < model.inputs.length; i++) {
    const v = inputs[model.inputs[i]];
    if (v === undefined || !Number.isFinite(v))
      throw new Error(`model input ${model.inputs[i]} is missing or not finite`);
    z += model.weights[i] * ((v - model.mean[i]) / (model.std[i] || 1));
  }
  const s = 1 / (1 + Math.exp(-z));
  const decision: Decision =
    s >= model.thresholds.decline ? 'decline' : s >= model.thresholds.review ? 'review' : 'approve';
  return { score: s, decision };
}

/** Registered model names in the registry. */
export const PRIMARY_MODEL = 'fraud-primary';
export const FALLBACK_MODEL = 'fraud-fallback';
export const CHAMPION_ALIAS = 'champion';
export const CHALLENGER_ALIAS = 'challenger';
