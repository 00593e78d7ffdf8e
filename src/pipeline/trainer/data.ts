// Seeded synthetic PaySim-like transactions and the user population behind them.
//
// Generative story (documented so scenario authors know what drift means): every user has stable
// online features (STORE_FEATURES) and a hidden balance level; each transaction draws a type, an amount
// around the user's 30-day average, balances, an hour and a merchant risk. Fraud is then drawn from a
// logistic risk that adds a REQUEST part (TRANSFER/CASH_OUT, draining the account, night, risky merchant,
// large amount) and a USER part (24 h velocity, amount far above the user's average, young account,
// chargebacks, many devices). The user part carries most of the signal, so a model that sees the
// store features (primary) clearly beats one that does not (fallback), as in production fraud systems.
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import type { StoreFeatures, Transaction, TxType } from '../schema.ts';

/** The population the feature store is materialized with and the load generator sends for. */
export const DEFAULT_POPULATION_SEED = 42;
export const DEFAULT_POPULATION_SIZE = 5000;

export interface SyntheticUser {
  user_id: string;
  /** Online features as materialized into the feature-server. */
  features: StoreFeatures;
  /** Hidden: typical account balance (not a store feature). */
  balance: number;
  /** Hidden: share of the time the account holds no balance at all (PaySim has many zero balances). */
  zeroBalance: boolean;
}

export interface LabeledTransaction {
  tx: Transaction;
  label: 0 | 1;
}

/** Knobs to shift the generated traffic (retraining on drifted data, synthetic drift). */
export interface GenerationShift {
  /** Multiplies every amount (e.g. 1.5 = inflation / a new customer segment). */
  amountScale?: number;
  /** Added to the risk logit: > 0 raises the fraud rate. */
  fraudLogitShift?: number;
  /** Extra probability mass moved to night hours (0..1). */
  nightShare?: number;
}

// ------------------------------------------------------------------------------------------------
// Random helpers on a pure-rand generator (xoroshiro128+, mutated in place).

export class Rng {
  private readonly g: RandomGenerator;
  private spare: number | undefined;
  constructor(seed: number) {
    this.g = xoroshiro128plus(seed | 0);
  }
  /** Uniform in [0, 1). */
  u(): number {
    return uniformFloat64(this.g);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.u() * (hi - lo + 1));
  }
  normal(mu = 0, sd = 1): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return mu + sd * s;
    }
    // Box–Muller; 1 - u() keeps log() away from 0.
    const r = Math.sqrt(-2 * Math.log(1 - this.u()));
    const t = 2 * Math.PI * this.u();
    this.spare = r * Math.sin(t);
    return mu + sd * r * Math.cos(t);
  }
  lognormal(mu: number, sd: number): number {
    return Math.exp(this.normal(mu, sd));
  }
  poisson(lambda: number): number {
    if (lambda > 30) return Math.max(0, Math.round(this.normal(lambda, Math.sqrt(lambda))));
    const l = Math.exp(-lambda);
    let k = 0;
    let p = 1;
    for (;;) {
      p *= this.u();
      if (p <= l) return k;
      k++;
    }
  }
  pick<T>(items: readonly T[], weights: readonly number[]): T {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.u() * total;
    for (let i = 0; i < items.length; i++) {
      x -= weights[i];
      if (x < 0) return items[i];
    }
    return items[items.length - 1];
  }
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const cents = (x: number) => Math.round(x * 100) / 100;
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

export const userId = (i: number) => `u${String(i).padStart(5, '0')}`;

// ------------------------------------------------------------------------------------------------
// Users

/** `n` users `u00000`… with stable store features, deterministic for a seed. */
export function generateUsers(seed: number, n: number = DEFAULT_POPULATION_SIZE): SyntheticUser[] {
  const rng = new Rng(seed * 7919 + 1);
  const users: SyntheticUser[] = [];
  for (let i = 0; i < n; i++) {
    // A small share of accounts is compromised or mule-like: they show in the store features only.
    const suspicious = rng.u() < 0.06;
    const young = rng.u() < (suspicious ? 0.5 : 0.12);
    const ageDays = young ? rng.int(0, 45) : Math.round(rng.lognormal(Math.log(900), 0.7));
    const avgAmount = clamp(cents(rng.lognormal(Math.log(180), 0.9)), 1, 1_000_000);
    const velocity = rng.lognormal(Math.log(suspicious ? 9 : 2.2), 0.6);
    const chargebacks = rng.u() < (suspicious ? 0.35 : 0.04) ? 1 + rng.poisson(suspicious ? 1.2 : 0.3) : 0;
    const devices = 1 + rng.poisson(suspicious ? 2.5 : 0.3);
    users.push({
      user_id: userId(i),
      features: {
        txn_count_24h: clamp(rng.poisson(velocity), 0, 500),
        avg_amount_30d: avgAmount,
        account_age_days: clamp(ageDays, 0, 20_000),
        chargebacks_90d: clamp(chargebacks, 0, 100),
        distinct_devices_7d: clamp(devices, 0, 50),
      },
      balance: clamp(cents(avgAmount * rng.lognormal(Math.log(6), 0.9)), 0, 50_000_000),
      zeroBalance: rng.u() < 0.08,
    });
  }
  return users;
}

// ------------------------------------------------------------------------------------------------
// Transactions

const TYPES: TxType[] = ['PAYMENT', 'TRANSFER', 'CASH_OUT', 'DEBIT', 'CASH_IN'];
// PaySim's type mix, roughly.
const TYPE_WEIGHTS = [0.34, 0.09, 0.35, 0.01, 0.21];
const TYPE_RISK: Record<TxType, number> = {
  PAYMENT: -0.4,
  TRANSFER: 0.9,
  CASH_OUT: 0.6,
  DEBIT: -0.2,
  CASH_IN: -1.2,
};
// Activity by hour: quiet nights.
const HOUR_WEIGHTS = [
  1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 3, 4.5, 5, 5, 5, 5.5, 5.5, 5, 5, 5, 5, 5.5, 5, 4, 3, 2.2, 1.5,
];
const HOURS = HOUR_WEIGHTS.map((_, h) => h);
/** Intercept of the risk logit: sets the base fraud rate (≈1%). */
const BASE_LOGIT = -7.1;

/** One transaction for `user`, and its fraud label drawn from the risk model. */
export function drawTransaction(
  rng: Rng,
  user: SyntheticUser,
  id: string,
  shift: GenerationShift = {},
): LabeledTransaction {
  const f = user.features;
  const type = rng.pick(TYPES, TYPE_WEIGHTS);
  let amount = f.avg_amount_30d * rng.lognormal(0, 0.55);
  // Occasional large purchases or transfers, far above the user's usual amount.
  if (rng.u() < 0.07) amount *= rng.lognormal(1.4, 0.6);
  amount = clamp(cents(amount * (shift.amountScale ?? 1)), 0.01, 10_000_000);
  const oldBalance = user.zeroBalance
    ? 0
    : clamp(cents(user.balance * rng.lognormal(0, 0.35)), 0, 100_000_000);
  let txAmount = amount;
  // Sometimes the whole balance goes out (cash-outs and transfers mostly).
  const drains =
    type !== 'CASH_IN' &&
    oldBalance > 0 &&
    rng.u() < (type === 'TRANSFER' || type === 'CASH_OUT' ? 0.06 : 0.015);
  if (drains) txAmount = oldBalance;
  const newBalance =
    type === 'CASH_IN'
      ? clamp(cents(oldBalance + txAmount), 0, 100_000_000)
      : Math.max(0, cents(oldBalance - txAmount));
  const night = shift.nightShare ?? 0;
  const hour = night > 0 && rng.u() < night ? rng.int(0, 5) : rng.pick(HOURS, HOUR_WEIGHTS);
  const merchantRisk = Math.round(sigmoid(rng.normal(-1.6, 1.1)) * 1e4) / 1e4;
  const tx: Transaction = {
    transaction_id: id,
    user_id: user.user_id,
    type,
    amount: txAmount,
    old_balance: oldBalance,
    new_balance: newBalance,
    hour,
    merchant_risk: merchantRisk,
  };
  const label: 0 | 1 = rng.u() < sigmoid(riskLogit(tx, f) + (shift.fraudLogitShift ?? 0)) ? 1 : 0;
  return { tx, label };
}

/** The ground-truth risk, linear in deriveInputs' terms (so a logistic model can recover it). */
export function riskLogit(tx: Transaction, f: StoreFeatures): number {
  const logAmount = Math.log1p(tx.amount);
  const request =
    TYPE_RISK[tx.type] +
    (tx.new_balance === 0 && tx.old_balance > 0 ? 1.0 : 0) +
    (tx.hour < 6 ? 0.7 : 0) +
    2.2 * tx.merchant_risk +
    0.25 * (logAmount - 5.2);
  const user =
    1.25 * Math.log1p(f.txn_count_24h) +
    1.5 * Math.max(0, logAmount - Math.log1p(f.avg_amount_30d)) -
    0.6 * Math.log1p(f.account_age_days) +
    0.8 * f.chargebacks_90d +
    0.5 * f.distinct_devices_7d;
  return BASE_LOGIT + request + user;
}

/** `n` labelled transactions for users picked uniformly, deterministic for a seed. */
export function generateTransactions(
  seed: number,
  users: readonly SyntheticUser[],
  n: number,
  shift: GenerationShift = {},
): LabeledTransaction[] {
  if (users.length === 0) throw new Error('generateTransactions: the user population is empty');
  const rng = new Rng(seed * 104729 + 17);
  const out: LabeledTransaction[] = new Array(n);
  for (let i = 0; i < n; i++)
    out[i] = drawTransaction(rng, users[rng.int(0, users.length - 1)], `t${seed}-${i}`, shift);
  return out;
}

export interface PayloadGeneratorOptions {
  /** The population to send for; default generateUsers(DEFAULT_POPULATION_SEED, DEFAULT_POPULATION_SIZE), as bootstrap materializes. */
  users?: readonly SyntheticUser[];
  shift?: GenerationShift;
}

/**
 * Seeded stream of realistic scoring requests for users that exist in the feature store (the load
 * generator's default payloads). Same generative process as training, so undrifted traffic matches
 * the training reference.
 */
export class PayloadGenerator {
  readonly seed: number;
  readonly users: readonly SyntheticUser[];
  shift: GenerationShift;
  private readonly rng: Rng;
  private counter = 0;
  constructor(seed: number, opts: PayloadGeneratorOptions = {}) {
    this.seed = seed;
    this.users = opts.users ?? defaultPopulation();
    if (this.users.length === 0) throw new Error('PayloadGenerator: the user population is empty');
    this.shift = opts.shift ?? {};
    this.rng = new Rng(seed * 15485863 + 3);
  }
  next(): Transaction {
    return this.nextLabeled().tx;
  }
  /** The next request and whether the generative model made it fraud (ground truth for the report). */
  nextLabeled(): LabeledTransaction {
    const user = this.users[this.rng.int(0, this.users.length - 1)];
    return drawTransaction(this.rng, user, `p${this.seed}-${this.counter++}`, this.shift);
  }
}

let cachedPopulation: SyntheticUser[] | undefined;
function defaultPopulation(): SyntheticUser[] {
  cachedPopulation ??= generateUsers(DEFAULT_POPULATION_SEED, DEFAULT_POPULATION_SIZE);
  return cachedPopulation;
}
