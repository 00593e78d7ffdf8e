// Drift statistics for the model-server's monitor: PSI, two-sample Kolmogorov–Smirnov and
// Jensen–Shannon distance between a training reference and a live window, plus the window itself.
//
// The numbers are meant to equal what a data scientist gets from the Python tools, so they can be
// cross-checked: PSI follows Evidently's `psi` stattest, KS follows `scipy.stats.ks_2samp(...,
// method='asymp')`, JS follows `scipy.spatial.distance.jensenshannon`. test/fixtures/drift.json is
// produced by scripts/fixtures/drift_fixtures.py with numpy/scipy and checked in test/drift.test.ts.
//
// Cost: each computation sorts each sample once (O(n log n)); binning is a binary search per bin
// edge over the sorted data, the KS statistic one merge pass. A reference can be pre-sorted once
// with `SortedSample.of` and reused for every window.

/** A sample sorted ascending, validated finite; build once and reuse (e.g. the training reference). */
export class SortedSample {
  readonly values: Float64Array;
  private constructor(values: Float64Array) {
    this.values = values;
  }
  static of(values: ArrayLike<number> | SortedSample, what = 'sample'): SortedSample {
    if (values instanceof SortedSample) return values;
    const n = values.length;
    if (n === 0) throw new RangeError(`${what}: must not be empty`);
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (!Number.isFinite(v))
        throw new RangeError(`${what}: value at index ${i} is not a finite number (${v})`);
      a[i] = v;
    }
    a.sort();
    return new SortedSample(a);
  }
  get size(): number {
    return this.values.length;
  }
  get min(): number {
    return this.values[0];
  }
  get max(): number {
    return this.values[this.values.length - 1];
  }
}

export type Sample = number[] | ArrayLike<number> | SortedSample;

export interface BinOptions {
  /** Number of equal-width bins; default: Sturges' rule over the combined sample (as Evidently). */
  bins?: number;
}

// ---------------------------------------------------------------------------------------------
// Binning (numpy.histogram_bin_edges + numpy.histogram semantics)

/**
 * Equal-width bin edges over the combined range of both samples, as
 * `numpy.histogram_bin_edges(np.concatenate([ref, cur]), bins='sturges' | bins)`.
 * Float arithmetic mirrors numpy's so the bin count agrees exactly at the ceil() boundary:
 * width = ptp / (log2(n) + 1), count = ceil(ptp / width); edges = linspace(min, max, count + 1).
 */
export function binEdges(reference: Sample, current: Sample, opts: BinOptions = {}): Float64Array {
  const r = SortedSample.of(reference, 'reference');
  const c = SortedSample.of(current, 'current');
  let first = Math.min(r.min, c.min);
  let last = Math.max(r.max, c.max);
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  }
  let nBins: number;
  if (opts.bins !== undefined) {
    if (!Number.isInteger(opts.bins) || opts.bins < 1)
      throw new RangeError(`bins: expected a positive integer, found ${opts.bins}`);
    nBins = opts.bins;
  } else {
    const n = r.size + c.size;
    const ptp = Math.max(r.max, c.max) - Math.min(r.min, c.min);
    const width = ptp / (Math.log2(n) + 1.0);
    nBins = width ? Math.ceil((last - first) / width) : 1;
  }
  const edges = new Float64Array(nBins + 1);
  const step = (last - first) / nBins;
  for (let i = 0; i < nBins; i++) edges[i] = i * step + first;
  edges[nBins] = last;
  return edges;
}

/** First index i with a[i] >= x (side='left') or a[i] > x (side='right'). */
function searchSorted(a: Float64Array, x: number, right: boolean): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (right ? a[mid] <= x : a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Share of the sample in each bin: [e_i, e_i+1), the last bin closed, as numpy.histogram. */
function binShares(s: SortedSample, edges: Float64Array): Float64Array {
  const nb = edges.length - 1;
  const out = new Float64Array(nb);
  let prev = searchSorted(s.values, edges[0], false);
  for (let i = 0; i < nb; i++) {
    const next =
      i === nb - 1 ? searchSorted(s.values, edges[nb], true) : searchSorted(s.values, edges[i + 1], false);
    out[i] = (next - prev) / s.size;
    prev = next;
  }
  return out;
}

/**
 * Evidently's zero-share handling (`get_binned_data(..., feel_zeroes=True)`): a share of 0 would make
 * ln(cur/ref) infinite, so empty bins get 0.0001 — or, when the smallest non-zero share is itself
 * ≤ 0.0001 (samples over 10 000 values), that smallest share / 10^6. Applied to each side separately.
 */
function fillZeroShares(shares: Float64Array): Float64Array {
  let minNonZero = Infinity;
  for (const v of shares) if (v !== 0 && v < minNonZero) minNonZero = v;
  const fill = minNonZero <= 0.0001 ? minNonZero / 10 ** 6 : 0.0001;
  const out = Float64Array.from(shares);
  for (let i = 0; i < out.length; i++) if (out[i] === 0) out[i] = fill;
  return out;
}

function psiOfShares(ref: Float64Array, cur: Float64Array): number {
  const r = fillZeroShares(ref);
  const c = fillZeroShares(cur);
  let sum = 0;
  for (let i = 0; i < r.length; i++) sum += (c[i] - r[i]) * Math.log(c[i] / r[i]);
  return sum;
}

/** scipy.special.rel_entr summed, for shares that are already normalised. */
function jsOfShares(p: Float64Array, q: Float64Array, base?: number): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i];
    sq += q[i];
  }
  let left = 0;
  let right = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] / sp;
    const qi = q[i] / sq;
    const m = (pi + qi) / 2;
    if (pi > 0) left += pi * Math.log(pi / m);
    if (qi > 0) right += qi * Math.log(qi / m);
  }
  let js = left + right;
  if (base !== undefined) {
    if (!(base > 0) || base === 1)
      throw new RangeError(`base: expected a positive number other than 1, found ${base}`);
    js /= Math.log(base);
  }
  // Rounding can leave -1e-17 for identical distributions, where scipy would return NaN; clamp to 0.
  return Math.sqrt(Math.max(0, js / 2));
}

// ---------------------------------------------------------------------------------------------
// Public statistics

/**
 * Population Stability Index as Evidently computes it for a numeric feature: shares of each sample in
 * equal-width bins over the combined range (Sturges' bin count over the combined sample unless
 * `opts.bins`), zero shares filled per `fillZeroShares` (0.0001), PSI = Σ (cur − ref) · ln(cur / ref).
 * Note Evidently itself switches to per-value shares when the reference has ≤ 20 distinct values;
 * here that is the caller's choice (`categoricalPsi`), numeric features are always binned.
 */
export function psi(reference: Sample, current: Sample, opts: BinOptions = {}): number {
  const r = SortedSample.of(reference, 'reference');
  const c = SortedSample.of(current, 'current');
  const edges = binEdges(r, c, opts);
  return psiOfShares(binShares(r, edges), binShares(c, edges));
}

/**
 * Jensen–Shannon DISTANCE (square root of the divergence) between the binned share distributions,
 * same bins as `psi`, equal to `scipy.spatial.distance.jensenshannon(ref_shares, cur_shares, base)`
 * (natural log unless `base`). Empty bins stay 0 — JS is finite with zeros, and Evidently's
 * jensenshannon stattest does not fill them either.
 */
export function jensenShannon(
  reference: Sample,
  current: Sample,
  opts: BinOptions & { base?: number } = {},
): number {
  const r = SortedSample.of(reference, 'reference');
  const c = SortedSample.of(current, 'current');
  const edges = binEdges(r, c, opts);
  return jsOfShares(binShares(r, edges), binShares(c, edges), opts.base);
}

export type CategoryCounts = Record<string, number> | Map<string, number>;

function categoryShares(refCounts: CategoryCounts, curCounts: CategoryCounts): [Float64Array, Float64Array] {
  const ref = refCounts instanceof Map ? refCounts : new Map(Object.entries(refCounts));
  const cur = curCounts instanceof Map ? curCounts : new Map(Object.entries(curCounts));
  const keys = [...new Set([...ref.keys(), ...cur.keys()])].sort();
  const total = (m: Map<string, number>, what: string) => {
    let t = 0;
    for (const [k, v] of m) {
      if (!Number.isFinite(v) || v < 0)
        throw new RangeError(`${what}: count for "${k}" must be a finite non-negative number, found ${v}`);
      t += v;
    }
    if (t <= 0) throw new RangeError(`${what}: counts must not all be zero`);
    return t;
  };
  const tr = total(ref, 'reference');
  const tc = total(cur, 'current');
  return [
    Float64Array.from(keys, (k) => (ref.get(k) ?? 0) / tr),
    Float64Array.from(keys, (k) => (cur.get(k) ?? 0) / tc),
  ];
}

/** PSI over category shares (e.g. transaction type), Evidently's categorical branch: counts → shares, zeros filled. */
export function categoricalPsi(refCounts: CategoryCounts, curCounts: CategoryCounts): number {
  const [r, c] = categoryShares(refCounts, curCounts);
  return psiOfShares(r, c);
}

/** Jensen–Shannon distance over category shares (categories missing on one side count as 0). */
export function categoricalJensenShannon(
  refCounts: CategoryCounts,
  curCounts: CategoryCounts,
  opts: { base?: number } = {},
): number {
  const [r, c] = categoryShares(refCounts, curCounts);
  return jsOfShares(r, c, opts.base);
}

/** Counts per category of a list of labels, for the categorical statistics. */
export function countCategories(values: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

/**
 * Two-sided two-sample Kolmogorov–Smirnov test, as `scipy.stats.ks_2samp(ref, cur, method='asymp')`.
 * Statistic: max |F_ref(x) − F_cur(x)| over all observed x, computed with the same float expression
 * as scipy (count/n1 − count/n2), so it is bit-identical.
 * p-value: scipy's 'asymp' two-sided branch is `kstwo.sf(D, round(en))` with en = n1·n2/(n1+n2) and
 * numpy's round-half-to-even — the finite-n one-sample Kolmogorov distribution at an effective
 * size, not the limiting kstwobign. `kolmogorovSf` ports scipy's algorithm for it (Simard &
 * L'Ecuyer's selection among Durbin/Marsaglia–Tsang–Wang matrix, Pomeranz, Pelz–Good and the exact
 * one-sided Smirnov sum). When round(en) is 0 (both samples of size 1) scipy returns NaN; so does this.
 */
export function ks2(reference: Sample, current: Sample): { statistic: number; pvalue: number } {
  const a = SortedSample.of(reference, 'reference').values;
  const b = SortedSample.of(current, 'current').values;
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let maxS = -Infinity;
  let minS = Infinity;
  while (i < n1 || j < n2) {
    // Step past every copy of the next smallest value in both samples: the ECDFs are right-continuous.
    const v = j >= n2 || (i < n1 && a[i] <= b[j]) ? a[i] : b[j];
    while (i < n1 && a[i] === v) i++;
    while (j < n2 && b[j] === v) j++;
    const diff = i / n1 - j / n2;
    if (diff > maxS) maxS = diff;
    if (diff < minS) minS = diff;
  }
  const dMin = Math.min(Math.max(-minS, 0), 1);
  const statistic = Math.max(dMin, maxS);
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const en = roundHalfEven((m * n) / (m + n));
  const pvalue = en >= 1 ? clip01(kolmogorovSf(en, statistic)) : Number.NaN;
  return { statistic, pvalue };
}

/** Everything the monitor exports for one numeric feature, sorting each sample once. */
export function driftStats(
  reference: Sample,
  current: Sample,
  opts: BinOptions = {},
): { psi: number; ks_statistic: number; ks_pvalue: number; js_distance: number } {
  const r = SortedSample.of(reference, 'reference');
  const c = SortedSample.of(current, 'current');
  const edges = binEdges(r, c, opts);
  const rs = binShares(r, edges);
  const cs = binShares(c, edges);
  const ks = ks2(r, c);
  return {
    psi: psiOfShares(rs, cs),
    ks_statistic: ks.statistic,
    ks_pvalue: ks.pvalue,
    js_distance: jsOfShares(rs, cs),
  };
}

// ---------------------------------------------------------------------------------------------
// Sliding window

/** Fixed-capacity ring buffer of the most recent finite values (the live side of drift monitoring). */
export class SlidingWindow {
  readonly capacity: number;
  private readonly buf: Float64Array;
  private next = 0;
  private count = 0;
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity: expected a positive integer, found ${capacity}`);
    this.capacity = capacity;
    this.buf = new Float64Array(capacity);
  }
  /**
   * Adds a value, evicting the oldest when full. Non-finite values are not stored (returns false):
   * they are invalid inputs the validation gate reports, not a distribution shift.
   */
  push(x: number): boolean {
    if (!Number.isFinite(x)) return false;
    this.buf[this.next] = x;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
    return true;
  }
  /** Values oldest first. */
  values(): number[] {
    const out = new Array<number>(this.count);
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) out[i] = this.buf[(start + i) % this.capacity];
    return out;
  }
  get size(): number {
    return this.count;
  }
  clear(): void {
    this.next = 0;
    this.count = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Kolmogorov distribution of the one-sample two-sided statistic D_n (port of scipy.stats._ksstats
// `_kolmogn(n, x, cdf=False)`, the survival function used by `kstwo.sf`).

const clip01 = (p: number) => Math.min(1, Math.max(0, p));

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

const E128 = 128;
const EP128 = 2 ** 128;
const EM128 = 2 ** -128;
const MIN_LOG = -708;
const CEPHES_MINLOG = -708.3964185322641;
const SQRT2PI = Math.sqrt(2 * Math.PI);
const LOG_2PI = Math.log(2 * Math.PI);
const PI2 = Math.PI ** 2;
const PI4 = Math.PI ** 4;
const PI6 = Math.PI ** 6;
const STIRLING = [
  -0.029550653594771242, 0.00641025641025641, -0.0019175269175269176, 0.0008417508417508417,
  -0.0005952380952380953, 0.0007936507936507937, -0.002777777777777778, 0.08333333333333333,
];

/** log(n! / n^n) by Stirling's series, with n·log(n) removed up front (no cancellation). */
function logNFactorialDivNPowN(n: number): number {
  const rn = 1 / n;
  const x = rn / n;
  let poly = 0;
  for (const c of STIRLING) poly = poly * x + c;
  return Math.log(n) / 2 - n + LOG_2PI / 2 + rn * poly;
}

/**
 * Survival function of D_n, P(D_n ≥ x), following scipy's `_kolmogn(n, x, cdf=False)` branch for
 * branch (Simard & L'Ecuyer 2011): Ruben–Gambino closed forms at the ends, 2·Smirnov for x ≥ 0.5 or
 * the upper tail, Durbin matrix (MTW) / Pomeranz for n ≤ 140, Durbin matrix / Pelz–Good above.
 */
export function kolmogorovSf(n: number, x: number): number {
  if (!Number.isInteger(n) || n <= 0 || Number.isNaN(x)) return Number.NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    let prob: number;
    if (n <= 140) {
      prob = 1;
      for (let i = 1; i <= n; i++) prob *= i * (1 / n) * (2 * t - 1);
    } else {
      prob = Math.exp(logNFactorialDivNPowN(n) + n * Math.log(2 * t - 1));
    }
    return clip01(1 - prob);
  }
  if (t >= n - 1) return clip01(2 * (1 - x) ** n);
  if (x >= 0.5) return clip01(2 * smirnovSf(n, x));
  const nxsq = t * x;
  if (n <= 140) {
    if (nxsq <= 0.754693) return clip01(1 - kolmogDMTW(n, x));
    if (nxsq <= 4) return clip01(1 - kolmogPomeranz(n, x));
    return clip01(2 * smirnovSf(n, x));
  }
  if (nxsq >= 370) return 0;
  if (nxsq >= 2.2) return clip01(2 * smirnovSf(n, x));
  let cdf: number;
  if (nxsq >= 18) cdf = 1;
  else if (n <= 100000 && n * x ** 1.5 <= 1.4) cdf = kolmogDMTW(n, x);
  else cdf = kolmogPelzGood(n, x);
  return clip01(1 - cdf);
}

/**
 * One-sided Smirnov survival P(D_n+ ≥ x), exact (Birnbaum–Tingey / Smirnov sum):
 * x · Σ_{v=0}^{⌊n(1−x)⌋} C(n,v) (x + v/n)^(v−1) (1 − x − v/n)^(n−v).
 * All terms are positive, so the sum is evaluated term by term in log space; scipy evaluates the same
 * exact sum in double-double (for n ≤ 10^6), so the two agree to ~1e-12 relative.
 */
export function smirnovSf(n: number, x: number): number {
  if (!(n > 0 && x >= 0 && x <= 1)) return Number.NaN;
  if (n === 1) return x;
  if (x === 0) return 1;
  if (x === 1) return 0;
  if (x <= 1 / n) return 1 - x * (1 + x) ** (n - 1);
  if (-2 * n * x * x < CEPHES_MINLOG) return 0;
  if (n * x >= n - 1) return (1 - x) ** n;
  const last = Math.floor(n * (1 - x));
  let logC = 0; // log C(n, v)
  let sum = 0;
  for (let v = 0; v <= last; v++) {
    const up = x + v / n;
    const down = 1 - up;
    if (down > 0) sum += Math.exp(logC + (v - 1) * Math.log(up) + (n - v) * Math.log(down));
    logC += Math.log(n - v) - Math.log(v + 1);
  }
  return x * sum;
}

/** P(D_n ≤ d) by the Durbin matrix algorithm, Marsaglia–Tsang–Wang formulation (small n·d). */
function kolmogDMTW(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  let H: Float64Array = new Float64Array(m * m);
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    v[j - 1] = 1 - h ** j;
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] *= fac;
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + tt) * fac;
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - (i - 1)];
  for (let r = 0; r < m; r++) H[r * m] = v[r];
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c];

  let P: Float64Array = new Float64Array(m * m);
  for (let i = 0; i < m; i++) P[i * m + i] = 1;
  let nn = n;
  let expnt = 0;
  let hExpnt = 0;
  while (nn > 0) {
    if (nn % 2) {
      P = matmul(P, H, m);
      expnt += hExpnt;
    }
    H = matmul(H, H, m);
    hExpnt *= 2;
    if (Math.abs(H[(k - 1) * m + (k - 1)]) > EP128) {
      for (let i = 0; i < H.length; i++) H[i] /= EP128;
      hExpnt += E128;
    }
    nn = Math.floor(nn / 2);
  }
  let p = P[(k - 1) * m + (k - 1)];
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= EP128;
      expnt -= E128;
    }
  }
  if (expnt !== 0) p *= 2 ** expnt;
  return clip01(p);
}

function matmul(A: Float64Array, B: Float64Array, m: number): Float64Array {
  const C = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const a = A[i * m + k];
      if (a === 0) continue;
      for (let j = 0; j < m; j++) C[i * m + j] += a * B[k * m + j];
    }
  }
  return C;
}

function pomeranzJ1J2(i: number, n: number, ll: number, ceilf: number, roundf: number): [number, number] {
  let j1: number;
  let j2: number;
  if (i === 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    const ip1div2 = Math.floor((i + 1) / 2);
    const ip1mod2 = (i + 1) % 2;
    if (ip1mod2 === 0) {
      if (ip1div2 === n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = ip1div2 - 1 - ll - roundf - 1;
        j2 = ip1div2 + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = ip1div2 - 1 - ll - 1;
      j2 = ip1div2 + ll + roundf - 1;
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)];
}

/** P(D_n ≤ x) by the Pomeranz recursion (n ≤ 140, moderate n·x²). */
function kolmogPomeranz(n: number, x: number): number {
  const t = n * x;
  const ll = Math.floor(t);
  const f = t - ll;
  const g = Math.min(f, 1 - f);
  const ceilf = f > 0 ? 1 : 0;
  const roundf = f > 0.5 ? 1 : 0;
  const npwrs = 2 * (ll + 1);
  const gpower = new Float64Array(npwrs);
  const twogpower = new Float64Array(npwrs);
  const onem2gpower = new Float64Array(npwrs);
  gpower[0] = twogpower[0] = onem2gpower[0] = 1;
  let expnt = 0;
  const gOverN = g / n;
  const twoGOverN = (2 * g) / n;
  const oneMinusTwoGOverN = (1 - 2 * g) / n;
  for (let m = 1; m < npwrs; m++) {
    gpower[m] = (gpower[m - 1] * gOverN) / m;
    twogpower[m] = (twogpower[m - 1] * twoGOverN) / m;
    onem2gpower[m] = (onem2gpower[m - 1] * oneMinusTwoGOverN) / m;
  }
  let V0 = new Float64Array(npwrs);
  let V1 = new Float64Array(npwrs);
  V1[0] = 1;
  let V0s = 0;
  let V1s = 0;
  let [j1, j2] = pomeranzJ1J2(0, n, ll, ceilf, roundf);
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    [V0, V1] = [V1, V0];
    [V0s, V1s] = [V1s, V0s];
    V1.fill(0);
    [j1, j2] = pomeranzJ1J2(i, n, ll, ceilf, roundf);
    const pwrs = i === 1 || i === 2 * n + 1 ? gpower : i % 2 ? twogpower : onem2gpower;
    const ln2 = j2 - k1 + 1;
    if (ln2 > 0) {
      const off = k1 - V0s;
      const convStart = j1 - k1;
      const convLen = j2 - j1 + 1;
      let max = 0;
      // Entries [convStart, convStart+convLen) of the full convolution of V0[off..off+ln2) with pwrs[0..ln2).
      for (let q = 0; q < convLen; q++) {
        const idx = convStart + q;
        let s = 0;
        const lo = Math.max(0, idx - (ln2 - 1));
        const hi = Math.min(idx, ln2 - 1);
        for (let a = lo; a <= hi; a++) {
          if (off + a < npwrs && idx - a < npwrs) s += V0[off + a] * pwrs[idx - a];
        }
        V1[q] = s;
        if (s > max) max = s;
      }
      if (max > 0 && max < EM128) {
        for (let q = 0; q < npwrs; q++) V1[q] *= EP128;
        expnt -= E128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  let ans = V1[n - V1s];
  for (let m = 1; m <= n; m++) {
    if (Math.abs(ans) > EP128) {
      ans *= EM128;
      expnt += E128;
    }
    ans *= m;
  }
  if (expnt !== 0) ans *= 2 ** expnt;
  return clip01(ans);
}

/** Pelz–Good asymptotic approximation of P(D_n ≤ x) (large n, small x). */
function kolmogPelzGood(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z3 = z ** 3;
  const z4 = z ** 4;
  const z6 = z ** 6;
  const qlog = -PI2 / 8 / z2;
  if (qlog < MIN_LOG) return 0;
  let q = Math.exp(qlog);
  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m * m;
    const m4 = m2 * m2;
    const m6 = m4 * m2;
    const qp = q ** (8 * k);
    const coeffs = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) K[i] = K[i] * qp + coeffs[i];
  }
  const div = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i] * q * SQRT2PI) / div[i];
  q = Math.exp(-PI2 / 2 / z2);
  const sqrt3z = Math.sqrt(3) * z;
  let k2extra = 0;
  let k3extra = 0;
  for (let k = maxk; k > 0; k--) {
    const k2 = k * k;
    const qp = q ** k2;
    const kspi = Math.PI * k;
    k2extra += k2 * qp;
    k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * k2 * qp;
  }
  K[2] += k2extra * ((PI2 * SQRT2PI) / (-36 * z3));
  K[3] += k3extra * ((PI2 * SQRT2PI) / (216 * z6));
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += K[i] / n ** (i / 2);
  return sum;
}
