// The load's seeded core as ONE dependency-free ES module: the arrival schedule, the synthetic
// transaction generator (users, payloads, true labels) and the drift transform. The built-in load
// worker imports it, and so does every k6 script Faultline exports (k6 runs TypeScript directly), so
// both send the same payloads for the same seed.
//
// Rules that keep it loadable by both: no imports at all (no node: modules, no npm packages, no
// other project file), only erasable TypeScript (Node's type stripping), nothing that needs a
// runtime beyond plain ECMAScript (k6's JavaScript VM has no Node APIs), and no syntax newer than
// k6's VM parses: k6 strips the types with esbuild targeting ESNext (no down-levelling), so e.g.
// logical assignment operators are avoided.
//
// The random numbers are pure-rand's xoroshiro128+ and uniformFloat64 (MIT, 8.4.2) re-implemented
// here bit for bit; test/load-portable.test.ts compares them with pure-rand draw for draw and pins
// the payload stream to hashes recorded before the generator moved here.

// ---- random numbers -----------------------------------------------------------------------------

/** xoroshiro128+ on four 32-bit halves (pure-rand's layout: s01 s00 s11 s10). */
export class Xoroshiro128Plus {
  s01: number;
  s00: number;
  s11: number;
  s10: number;
  constructor(seed: number) {
    this.s01 = -1;
    this.s00 = ~seed;
    this.s11 = seed | 0;
    this.s10 = 0;
  }
  /** Next 32-bit signed output. */
  next(): number {
    const out = (this.s00 + this.s10) | 0;
    const a0 = this.s10 ^ this.s00;
    const a1 = this.s11 ^ this.s01;
    const s00 = this.s00;
    const s01 = this.s01;
    this.s00 = (s00 << 24) ^ (s01 >>> 8) ^ a0 ^ (a0 << 16);
    this.s01 = (s01 << 24) ^ (s00 >>> 8) ^ a1 ^ ((a1 << 16) | (a0 >>> 16));
    this.s10 = (a1 << 5) ^ (a0 >>> 27);
    this.s11 = (a0 << 5) ^ (a1 >>> 27);
    return out;
  }
}

/** Uniform in [0, 1) with 53 random bits (pure-rand's uniformFloat64). */
export function uniformFloat64(g: Xoroshiro128Plus): number {
  const value1 = g.next() & 67108863;
  const value2 = g.next() & 134217727;
  return value1 * 1.4901161193847656e-8 + value2 * 1.1102230246251565e-16;
}

export class Rng {
  private readonly g: Xoroshiro128Plus;
  private spare: number | undefined;
  constructor(seed: number) {
    this.g = new Xoroshiro128Plus(seed | 0);
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

// ---- arrival schedule ---------------------------------------------------------------------------
// Request i is intended at the instant the cumulative arrival count N(t) = ∫ rate reaches i. Rates
// are piecewise linear in time, as k6's ramping-arrival-rate executor interpolates between stage
// targets; a constant rate is the one-segment special case.

export interface Stage {
  /** Target rate (req/s) reached at the end of the stage. */
  rate: number;
  /** Stage length in milliseconds. */
  duration: number;
}

export interface RateProfile {
  /** Constant arrival rate (req/s); used when `stages` is absent. */
  rate?: number;
  /** Ramping arrival rate: linear from the previous target (first: `startRate`) to each stage's target. */
  stages?: Stage[];
  /** Rate at time 0 for `stages` (default 0, as k6). */
  startRate?: number;
  /** Run length (ms). Required for a constant rate; truncates `stages` when shorter. */
  durationMs?: number;
}

interface Segment {
  startMs: number;
  durationMs: number;
  r0: number;
  r1: number;
  cumStart: number;
  cumEnd: number;
}

export class ArrivalSchedule {
  readonly totalMs: number;
  /** Number of arrivals the schedule intends in [0, totalMs). */
  readonly count: number;
  private readonly segments: Segment[];

  constructor(profile: RateProfile) {
    const raw: { durationMs: number; r0: number; r1: number }[] = [];
    if (profile.stages && profile.stages.length > 0) {
      let prev = profile.startRate ?? 0;
      for (const s of profile.stages) {
        checkRate(s.rate);
        if (!(s.duration >= 0) || !Number.isFinite(s.duration))
          throw new Error(`stage duration must be a finite number of ms ≥ 0, got ${s.duration}`);
        raw.push({ durationMs: s.duration, r0: prev, r1: s.rate });
        prev = s.rate;
      }
      checkRate(profile.startRate ?? 0);
    } else {
      if (profile.rate === undefined) throw new Error('load profile needs `rate` or `stages`');
      checkRate(profile.rate);
      if (profile.durationMs === undefined) throw new Error('a constant-rate load needs `durationMs`');
      raw.push({ durationMs: profile.durationMs, r0: profile.rate, r1: profile.rate });
    }
    let limit = profile.durationMs ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 0)) throw new Error(`durationMs must be ≥ 0, got ${profile.durationMs}`);
    this.segments = [];
    let t = 0;
    let cum = 0;
    for (const s of raw) {
      if (limit <= 0) break;
      let durationMs = s.durationMs;
      let r1 = s.r1;
      if (durationMs > limit) {
        // Truncate the ramp where the run ends, keeping the same slope.
        r1 = s.r0 + ((s.r1 - s.r0) * limit) / durationMs;
        durationMs = limit;
      }
      const cumEnd = cum + ((s.r0 + r1) / 2) * (durationMs / 1000);
      this.segments.push({ startMs: t, durationMs, r0: s.r0, r1, cumStart: cum, cumEnd });
      t += durationMs;
      cum = cumEnd;
      limit -= durationMs;
    }
    this.totalMs = t;
    // Arrival i exists iff i < N(totalMs); tolerate float error on exact integers.
    this.count = Math.max(0, Math.ceil(cum - 1e-9));
  }

  /** Cumulative intended arrivals N(t) for t in ms since start (the expected count in [0, t)). */
  cumulative(tMs: number): number {
    if (tMs <= 0) return 0;
    for (const s of this.segments) {
      if (tMs < s.startMs + s.durationMs) {
        const tau = (tMs - s.startMs) / 1000;
        const D = s.durationMs / 1000;
        return s.cumStart + s.r0 * tau + ((s.r1 - s.r0) / (2 * D)) * tau * tau;
      }
    }
    return this.segments.length ? this.segments[this.segments.length - 1].cumEnd : 0;
  }

  /** Instantaneous target rate at t (ms since start). */
  rateAt(tMs: number): number {
    for (const s of this.segments) {
      if (tMs < s.startMs + s.durationMs) return s.r0 + ((s.r1 - s.r0) * (tMs - s.startMs)) / s.durationMs;
    }
    return 0;
  }

  /** Intended offset (ms since start) of arrival i; undefined past the end. Same values as offsets(). */
  offset(i: number): number | undefined {
    if (!(i >= 0) || i >= this.count || !Number.isInteger(i)) return undefined;
    for (const s of this.segments) {
      if (i < s.cumEnd - 1e-9) return offsetIn(s, i);
    }
    return undefined;
  }

  /** Intended offset (ms since start) of every arrival, in order. */
  *offsets(): Generator<number> {
    let seg = 0;
    for (let i = 0; i < this.count; i++) {
      while (seg < this.segments.length && !(i < this.segments[seg].cumEnd - 1e-9)) seg++;
      if (seg >= this.segments.length) return;
      yield offsetIn(this.segments[seg], i);
    }
  }
}

function offsetIn(s: Segment, i: number): number {
  const delta = i - s.cumStart;
  const D = s.durationMs / 1000;
  const a = (s.r1 - s.r0) / (2 * D);
  let tau: number;
  if (delta <= 0) tau = 0;
  else if (Math.abs(a) < 1e-12) tau = delta / s.r0;
  // Root of a·τ² + r0·τ − Δ = 0 in the form that stays accurate when r0 is 0 or a is tiny.
  else tau = (2 * delta) / (s.r0 + Math.sqrt(Math.max(0, s.r0 * s.r0 + 4 * a * delta)));
  return s.startMs + Math.min(tau * 1000, s.durationMs);
}

function checkRate(r: number): void {
  if (!(r >= 0) || !Number.isFinite(r)) throw new Error(`rate must be a finite number ≥ 0 req/s, got ${r}`);
}

// ---- synthetic transactions ---------------------------------------------------------------------
// Generative story (documented so scenario authors know what drift means): every user has stable
// online features (the store features) and a hidden balance level; each transaction draws a type,
// an amount around the user's 30-day average, balances, an hour and a merchant risk. Fraud is then
// drawn from a logistic risk that adds a REQUEST part (TRANSFER/CASH_OUT, draining the account,
// night, risky merchant, large amount) and a USER part (24 h velocity, amount far above the user's
// average, young account, chargebacks, many devices). The user part carries most of the signal, so a
// model that sees the store features (primary) clearly beats one that does not (fallback).

export const TX_TYPES = ['PAYMENT', 'TRANSFER', 'CASH_OUT', 'DEBIT', 'CASH_IN'] as const;
export type TxType = (typeof TX_TYPES)[number];

/** A scoring request (the zod `Transaction` of src/pipeline/schema.ts validates the same shape). */
export interface Transaction {
  transaction_id?: string;
  user_id: string;
  type: TxType;
  amount: number;
  old_balance: number;
  new_balance: number;
  hour: number;
  merchant_risk: number;
}

export type StoreFeatures = Record<string, number>;

/**
 * Valid ranges of the Transaction's numeric fields (drifted values are clamped into them).
 * test/load-portable.test.ts checks them against the zod schema, which stays the authority.
 */
export const TX_NUMERIC_RANGES: Readonly<Record<string, { min: number; max: number; integer: boolean }>> = {
  amount: { min: 0, max: 10_000_000, integer: false },
  old_balance: { min: 0, max: 100_000_000, integer: false },
  new_balance: { min: 0, max: 100_000_000, integer: false },
  hour: { min: 0, max: 23, integer: true },
  merchant_risk: { min: 0, max: 1, integer: false },
};

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

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const cents = (x: number) => Math.round(x * 100) / 100;
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

export const userId = (i: number) => `u${String(i).padStart(5, '0')}`;

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

/** A read-only list of users: an array, or k6's SharedArray (one copy shared by every VU). */
export interface UserList {
  readonly length: number;
  readonly [index: number]: SyntheticUser;
}

export interface PayloadGeneratorOptions {
  /** The population to send for; default generateUsers(DEFAULT_POPULATION_SEED, DEFAULT_POPULATION_SIZE), as bootstrap materializes. */
  users?: UserList;
  shift?: GenerationShift;
}

/**
 * Seeded stream of realistic scoring requests for users that exist in the feature store (the load
 * generator's default payloads). Same generative process as training, so undrifted traffic matches
 * the training reference.
 */
export class PayloadGenerator {
  readonly seed: number;
  readonly users: UserList;
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
  // No logical assignment: k6 hands this file to its VM as written (esbuild strips types only).
  if (!cachedPopulation) cachedPopulation = generateUsers(DEFAULT_POPULATION_SEED, DEFAULT_POPULATION_SIZE);
  return cachedPopulation;
}

/** Options of the load's payload stream (plain data: they cross threads and go into k6 scripts). */
export interface SeededPayloadOptions {
  /**
   * Share of the traffic that is fraud (0..1). Default: the generator's own rate (≈1 %). Each request
   * slot draws fraud/legit with this probability from its own seeded stream, then the generator is
   * drawn until it yields a transaction of that label (rejection sampling), so every label stays the
   * generator's truth: fraud payloads are fraud as the risk model made them, just more of them.
   */
  fraudShare?: number;
}

/** Rejection sampling gives up after this many draws for one slot (the base rate is ≈1 %: ~100 needed). */
const MAX_LABEL_DRAWS = 100_000;

/** The load's payloads in sequence order, each with its true label: request i gets the i-th. */
export function labeledPayloads(
  seed: number,
  options: SeededPayloadOptions = {},
  users?: UserList,
): () => LabeledTransaction {
  const gen = new PayloadGenerator(seed, users ? { users } : {});
  const share = options.fraudShare;
  if (share === undefined) return () => gen.nextLabeled();
  if (!(share >= 0 && share <= 1)) throw new Error(`fraudShare must be within 0..1, got ${share}`);
  // A separate stream decides each slot's label, so the payload stream itself stays the generator's.
  const slots = new Rng(seed * 2_654_435 + 7);
  return () => {
    const want: 0 | 1 = slots.u() < share ? 1 : 0;
    for (let i = 0; i < MAX_LABEL_DRAWS; i++) {
      const l = gen.nextLabeled();
      if (l.label === want) return l;
    }
    throw new Error(
      `fraudShare: no ${want ? 'fraud' : 'legitimate'} transaction in ${MAX_LABEL_DRAWS} draws`,
    );
  };
}

// ---- drift ---------------------------------------------------------------------------------------
// Synthetic data drift applied to the payloads the load sends (the `drift` fault installs it).
// Drifted values are clamped to the Transaction schema so the traffic stays valid input: the point is
// to move the distribution, not to send garbage (that is feature-corruption's job).

export type DriftProfile =
  | { kind: 'step' }
  /** Intensity grows linearly from 0 at `startMs` to 1 at `startMs + durationMs`. */
  | { kind: 'ramp'; durationMs: number };

interface DriftBase {
  /** Epoch ms (same clock as tIntended) at which drift begins; intensity is 0 before. */
  startMs: number;
  profile?: DriftProfile;
}

export type DriftSpec =
  | (DriftBase & { kind: 'shift'; feature: string; delta: number })
  | (DriftBase & { kind: 'scale'; feature: string; factor: number })
  | (DriftBase & {
      kind: 'category-swap';
      feature: string;
      /** Category → replacement, e.g. { PAYMENT: 'TRANSFER' }. */
      mapping: Record<string, string>;
      /** Share of matching payloads swapped at full intensity (default 1). */
      fraction?: number;
      /** Seeds which payloads get swapped (default 1). */
      seed?: number;
    });

/** Applied to every payload just before it is sent; sees the request's intended time. */
export type PayloadTransform = (
  payload: Record<string, unknown>,
  tIntendedMs: number,
) => Record<string, unknown>;

const CATEGORICAL: Record<string, readonly string[]> = { type: TX_TYPES };

export class DriftTransform {
  readonly spec: DriftSpec;
  private readonly range: { min: number; max: number; integer: boolean } | undefined;
  private readonly rng: Xoroshiro128Plus | undefined;

  constructor(spec: DriftSpec) {
    this.spec = spec;
    if (spec.profile?.kind === 'ramp' && !(spec.profile.durationMs > 0))
      throw new Error('drift ramp durationMs must be > 0');
    if (spec.kind === 'category-swap') {
      const allowed = CATEGORICAL[spec.feature];
      if (!allowed)
        throw new Error(
          `drift category-swap: ${spec.feature} is not a categorical Transaction field (${Object.keys(CATEGORICAL).join(', ')})`,
        );
      for (const [from, to] of Object.entries(spec.mapping)) {
        if (!allowed.includes(from) || !allowed.includes(to))
          throw new Error(
            `drift category-swap: ${from} → ${to} is not within ${spec.feature} ∈ {${allowed.join(', ')}}`,
          );
      }
      const fr = spec.fraction ?? 1;
      if (!(fr >= 0 && fr <= 1)) throw new Error(`drift category-swap fraction must be in [0, 1], got ${fr}`);
      this.rng = new Xoroshiro128Plus(spec.seed ?? 1);
    } else {
      this.range = TX_NUMERIC_RANGES[spec.feature];
      if (!this.range)
        throw new Error(
          `drift ${spec.kind}: ${spec.feature} is not a numeric Transaction field (${Object.keys(TX_NUMERIC_RANGES).join(', ')})`,
        );
      const v = spec.kind === 'shift' ? spec.delta : spec.factor;
      if (!Number.isFinite(v))
        throw new Error(`drift ${spec.kind}: ${spec.kind === 'shift' ? 'delta' : 'factor'} must be finite`);
    }
  }

  /** 0 before start, 1 at full effect. */
  intensityAt(tMs: number): number {
    const { startMs, profile } = this.spec;
    if (tMs < startMs) return 0;
    if (!profile || profile.kind === 'step') return 1;
    return Math.min(1, (tMs - startMs) / profile.durationMs);
  }

  /** The PayloadTransform to hand to the load driver. Returns a new object; the input is not mutated. */
  readonly apply: PayloadTransform = (payload, tIntendedMs) => {
    const s = this.intensityAt(tIntendedMs);
    const spec = this.spec;
    if (spec.kind === 'category-swap') {
      // Draw for every payload (not only matching ones) so the swap pattern depends on seq alone.
      const u = uniformFloat64(this.rng!);
      const cur = payload[spec.feature];
      if (s === 0 || typeof cur !== 'string' || !(cur in spec.mapping)) return payload;
      if (u >= s * (spec.fraction ?? 1)) return payload;
      return { ...payload, [spec.feature]: spec.mapping[cur] };
    }
    const cur = payload[spec.feature];
    if (s === 0 || typeof cur !== 'number') return payload;
    let v = spec.kind === 'shift' ? cur + s * spec.delta : cur * (1 + s * (spec.factor - 1));
    const r = this.range!;
    if (r.integer) v = Math.round(v);
    v = Math.min(r.max, Math.max(r.min, v));
    return { ...payload, [spec.feature]: v };
  };
}

// ---- the payload of request i, from any thread or k6 VU ------------------------------------------

/** A drift at planned times (ms from load start): active for requests intended in [spec.startMs, endMs). */
export interface PlannedDrift {
  spec: DriftSpec;
  /** Where the fault's window ends (it is reverted); absent: until the load ends. */
  endMs?: number;
}

/**
 * Random access to the load's payload stream. The stream is sequential (rejection sampling draws a
 * variable number of numbers per payload), so request i's payload needs the i before it; each k6 VU
 * holds one of these and replays forward to the iterations it is given (iterations arrive in
 * increasing order per VU). Payloads are those of labeledPayloads(seed, options) exactly.
 *
 * With `drifts` (and the `schedule` giving each request's intended offset), each planned drift is
 * applied to the requests intended inside its window, in plan order, for skipped requests too, so a
 * seeded category swap draws the same sequence in every VU. This is the built-in driver's runtime
 * drift with the scenario's planned times in place of the instants the runner injected it.
 */
export class PayloadStream {
  private readonly next: () => LabeledTransaction;
  private readonly schedule: ArrivalSchedule | undefined;
  private readonly drifts: { d: DriftTransform; endMs: number }[];
  private position = 0;

  constructor(
    seed: number,
    options: SeededPayloadOptions = {},
    users?: UserList,
    plan?: { schedule: ArrivalSchedule; drifts: PlannedDrift[] },
  ) {
    this.next = labeledPayloads(seed, options, users);
    this.schedule = plan?.schedule;
    this.drifts = (plan?.drifts ?? []).map((p) => ({
      d: new DriftTransform(p.spec),
      endMs: p.endMs ?? Number.POSITIVE_INFINITY,
    }));
  }

  /** Payload of request `seq` (0-based); throws if the stream already moved past it. */
  at(seq: number): LabeledTransaction {
    if (!Number.isInteger(seq) || seq < this.position)
      throw new Error(`PayloadStream: request ${seq} is behind the stream (at ${this.position})`);
    while (this.position < seq) this.take();
    return this.take();
  }

  private take(): LabeledTransaction {
    const seq = this.position++;
    const l = this.next();
    if (this.drifts.length === 0 || !this.schedule) return l;
    const t = this.schedule.offset(seq);
    if (t === undefined) return l;
    let payload = l.tx as unknown as Record<string, unknown>;
    for (const { d, endMs } of this.drifts)
      if (t >= d.spec.startMs && t < endMs) payload = d.apply(payload, t);
    return { tx: payload as unknown as Transaction, label: l.label };
  }
}

// ---- reading an answer ---------------------------------------------------------------------------

/** What one answer of the gateway says, as RequestRecord fields (src/load/driver.ts). */
export interface AnswerFacts {
  /** ok = 2xx with a well-formed JSON body; error = anything else answered. */
  outcome: 'ok' | 'error';
  modelVersion?: string;
  /** Fallback reason when the fallback model answered. */
  fallback?: string;
  upstream?: string;
  error?: string;
  score?: number;
  decision?: string;
}

/**
 * Classifies an HTTP answer of POST /v1/predict: the built-in driver and exported k6 scripts both
 * call this, so a k6 run's records mean what the built-in driver's mean.
 */
export function classifyAnswer(
  status: number,
  header: (name: string) => string | undefined,
  text: string,
): AnswerFacts {
  const facts: AnswerFacts = { outcome: 'ok' };
  const upstream = header('x-upstream');
  if (upstream) facts.upstream = upstream;
  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      body = parsed as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  const version =
    typeof body?.model_version === 'string' || typeof body?.model_version === 'number'
      ? String(body.model_version)
      : header('x-model-version');
  if (version) facts.modelVersion = version;
  const answered = status >= 200 && status <= 299;
  const fb = body?.fallback as { used?: unknown; reason?: unknown } | undefined;
  // Only an answer can come from the fallback model: a 503 saying "fallback disabled" is an error.
  if (answered && fb && typeof fb === 'object') {
    if (fb.used === true) facts.fallback = typeof fb.reason === 'string' && fb.reason ? fb.reason : 'unknown';
  } else if (answered) {
    const h = header('x-fallback');
    if (h && !['false', 'none', '0', 'no'].includes(h.toLowerCase()))
      facts.fallback = h === 'true' ? 'unknown' : h;
  }
  if (!answered) {
    facts.outcome = 'error';
    facts.error = typeof body?.error_code === 'string' ? body.error_code : `http_${status}`;
  } else if (!body) {
    // A 2xx without the contract's JSON body is not a usable answer.
    facts.outcome = 'error';
    facts.error = 'invalid_body';
  } else {
    // The answer's score and decision, for the quality SLIs (only a probability is a score).
    if (typeof body.score === 'number' && body.score >= 0 && body.score <= 1) facts.score = body.score;
    if (typeof body.decision === 'string') facts.decision = body.decision;
  }
  return facts;
}
