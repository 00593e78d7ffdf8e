// MTTR and MTTD as defined in docs/measurements.md.
import type { Slo, SloRecord } from './stats.ts';
import { compare, sliGetter, WindowStats } from './stats.ts';

export interface MttrInput {
  records: Iterable<SloRecord>;
  /** Fault start: when the injection took effect (epoch ms). */
  t0: number;
  /** Every SLI the runbook names, with its objective. */
  slos: Slo[];
  /** How long every SLO must hold for the system to count as recovered (default 5000 ms). */
  stableForMs?: number;
  /** End of observation (epoch ms, exclusive): recovery needs its full stable period before it. */
  endMs: number;
  /** Bucket length over which each SLI is evaluated (default 250 ms). */
  resolutionMs?: number;
}

export interface MttrResult {
  recovered: boolean;
  /** recoveredAt − t0. */
  mttrMs?: number;
  /** Start of the first bucket from which every SLO held for stableFor. */
  recoveredAt?: number;
  /** Whether any non-empty bucket after t0 violated an SLO (false: the fault never hurt the SLIs). */
  breached: boolean;
  /** Start of the first violating bucket, if any. */
  firstViolationAt?: number;
}

type BucketState = 'empty' | 'pass' | 'fail';

export function mttr(input: MttrInput): MttrResult {
  const { t0, endMs } = input;
  const res = input.resolutionMs ?? 250;
  const stableFor = input.stableForMs ?? 5000;
  if (!(res > 0)) throw new Error(`resolutionMs must be > 0, got ${res}`);
  if (!(stableFor >= 0)) throw new Error(`stableForMs must be ≥ 0, got ${stableFor}`);
  if (input.slos.length === 0) throw new Error('mttr needs at least one SLO');
  const checks = input.slos.map((s) => ({ get: sliGetter(s.metric), op: s.op, value: s.value }));
  // compare() validates the operator; do it now rather than only when a bucket has data.
  for (const c of checks) compare(0, c.op, c.value);

  const n = endMs > t0 ? Math.ceil((endMs - t0) / res) : 0;
  const buckets: (WindowStats | undefined)[] = new Array(n);
  for (const r of input.records) {
    if (r.tIntended < t0 || r.tIntended >= endMs) continue;
    const k = Math.floor((r.tIntended - t0) / res);
    if (k >= n) continue;
    buckets[k] ??= new WindowStats();
    buckets[k].add(r);
  }
  const state: BucketState[] = new Array(n);
  let firstViolation = -1;
  for (let k = 0; k < n; k++) {
    const s = buckets[k];
    if (!s) state[k] = 'empty';
    else state[k] = checks.every((c) => compare(c.get(s), c.op, c.value)) ? 'pass' : 'fail';
    if (state[k] === 'fail' && firstViolation < 0) firstViolation = k;
  }
  const out: MttrResult = { recovered: false, breached: firstViolation >= 0 };
  if (firstViolation >= 0) out.firstViolationAt = t0 + firstViolation * res;

  // nextFail[k] = index of the first failing bucket at or after k (n if none), so the stable
  // period [t, t + stableFor) starting at bucket k (buckets k..k+m-1) is clean iff nextFail[k] ≥ k + m.
  const m = Math.max(1, Math.ceil(stableFor / res));
  const nextFail: number[] = new Array(n + 1);
  nextFail[n] = n;
  for (let k = n - 1; k >= 0; k--) nextFail[k] = state[k] === 'fail' ? k : nextFail[k + 1];
  for (let k = 0; k < n; k++) {
    const t = t0 + k * res;
    if (t + stableFor > endMs) break;
    if (state[k] !== 'pass') continue;
    if (nextFail[k] >= k + m) {
      out.recovered = true;
      out.recoveredAt = t;
      out.mttrMs = t - t0;
      break;
    }
  }
  return out;
}

export interface Signal {
  /** Epoch ms. */
  t: number;
  name: string;
  [extra: string]: unknown;
}

export interface MttdResult {
  detected: boolean;
  mttdMs?: number;
  signal?: Signal;
}

/** First signal at or after t0 that the runbook names (by name, any of several names, or a predicate). */
export function mttd(
  t0: number,
  signals: Iterable<Signal>,
  wanted: string | string[] | ((s: Signal) => boolean),
): MttdResult {
  const match =
    typeof wanted === 'function'
      ? wanted
      : Array.isArray(wanted)
        ? (s: Signal) => wanted.includes(s.name)
        : (s: Signal) => s.name === wanted;
  let best: Signal | undefined;
  for (const s of signals) {
    if (s.t >= t0 && match(s) && (best === undefined || s.t < best.t)) best = s;
  }
  return best ? { detected: true, mttdMs: best.t - t0, signal: best } : { detected: false };
}
