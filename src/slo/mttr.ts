// MTTR and MTTD as defined in docs/measurements.md.
import { isQualityMetric, QUALITY_MIN_LABELS } from './quality.ts';
import type { Slo, SloRecord } from './stats.ts';
import { compare, qualityEvidence, sliGetter, WindowStats } from './stats.ts';

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
  /**
   * Quality SLOs only: the longest quality window judged after t0 (ms). Quality windows are sized by
   * label count, so this is how late a quality recovery can be read (the MTTR's quality resolution).
   */
  qualityWindowMs?: number;
  /** Quality SLOs only: no window in the observed period held enough labels (missing evidence). */
  qualityMissing?: string;
  /** The SLO metrics that failed in at least one bucket after t0 (which SLI the breach was on). */
  violated?: string[];
}

type BucketState = 'empty' | 'pass' | 'fail';

export function mttr(input: MttrInput): MttrResult {
  const { t0, endMs } = input;
  const res = input.resolutionMs ?? 250;
  const stableFor = input.stableForMs ?? 5000;
  if (!(res > 0)) throw new Error(`resolutionMs must be > 0, got ${res}`);
  if (!(stableFor >= 0)) throw new Error(`stableForMs must be ≥ 0, got ${stableFor}`);
  if (input.slos.length === 0) throw new Error('mttr needs at least one SLO');
  const all = input.slos.map((s) => ({ get: sliGetter(s.metric), op: s.op, value: s.value }));
  // compare() validates the operator; do it now rather than only when a bucket has data.
  for (const c of all) compare(0, c.op, c.value);
  const named = all.map((c, i) => ({ ...c, metric: input.slos[i].metric }));
  const checks = named.filter((c) => !isQualityMetric(c.metric));
  const qualityChecks = named.filter((c) => isQualityMetric(c.metric));
  const violated = new Set<string>();

  const n = endMs > t0 ? Math.ceil((endMs - t0) / res) : 0;
  const buckets: (WindowStats | undefined)[] = new Array(n);
  // Quality SLIs: scored, labelled answers (any time before endMs: a trailing window may reach back).
  const scored: SloRecord[] = [];
  for (const r of input.records) {
    if (qualityChecks.length && r.tIntended < endMs && isScored(r)) scored.push(r);
    if (r.tIntended < t0 || r.tIntended >= endMs) continue;
    const k = Math.floor((r.tIntended - t0) / res);
    if (k >= n) continue;
    buckets[k] ??= new WindowStats();
    buckets[k].add(r);
  }
  const quality = qualityChecks.length ? qualityWindows(scored, t0, endMs, res, n) : undefined;
  const state: BucketState[] = new Array(n);
  let firstViolation = -1;
  for (let k = 0; k < n; k++) {
    const s = buckets[k];
    const q = quality?.windows[k];
    const failing = s
      ? [
          ...checks.filter((c) => !compare(c.get(s), c.op, c.value)),
          ...(q ? qualityChecks.filter((c) => !compare(c.get(q), c.op, c.value)) : []),
        ]
      : [];
    for (const c of failing) violated.add(c.metric);
    if (!s) state[k] = 'empty';
    else if (failing.length) state[k] = 'fail';
    // Too few labels yet to judge quality: neither evidence of health nor of a breach.
    else if (quality && !q) state[k] = 'empty';
    else state[k] = 'pass';
    if (state[k] === 'fail' && firstViolation < 0) firstViolation = k;
  }
  const out: MttrResult = { recovered: false, breached: firstViolation >= 0 };
  if (firstViolation >= 0) out.firstViolationAt = t0 + firstViolation * res;
  if (violated.size) out.violated = [...violated];
  if (quality) {
    out.qualityWindowMs = quality.maxSpanMs;
    if (quality.windows.every((w) => !w))
      out.qualityMissing = `no quality window after fault start held ${QUALITY_MIN_LABELS} positives and ${QUALITY_MIN_LABELS} negatives (${quality.positives} positives and ${quality.negatives} negatives were answered by the end)`;
  }

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

const isScored = (r: SloRecord): boolean =>
  r.outcome === 'ok' && (r.label === 0 || r.label === 1) && typeof r.score === 'number';

/**
 * For each bucket k, the trailing quality window ending at the bucket's end: the latest scored answers
 * back to the fewest that hold enough labels (qualityEvidence), as a monitor with the last N labels
 * would see it. Undefined where not enough labels were answered yet.
 */
function qualityWindows(
  scored: SloRecord[],
  t0: number,
  endMs: number,
  res: number,
  n: number,
): { windows: (WindowStats | undefined)[]; maxSpanMs: number; positives: number; negatives: number } {
  scored.sort((a, b) => a.tIntended - b.tIntended);
  const enough = qualityEvidence('quality.auc')!;
  const windows: (WindowStats | undefined)[] = new Array(n);
  let maxSpanMs = 0;
  let j = 0; // scored[0..j) intended before the bucket's end
  for (let k = 0; k < n; k++) {
    const end = Math.min(endMs, t0 + (k + 1) * res);
    while (j < scored.length && scored[j].tIntended < end) j++;
    let pos = 0;
    let neg = 0;
    let i = j;
    while (i > 0 && (pos < QUALITY_MIN_LABELS || neg < QUALITY_MIN_LABELS)) {
      i--;
      if (scored[i].label === 1) pos++;
      else neg++;
    }
    if (pos < QUALITY_MIN_LABELS || neg < QUALITY_MIN_LABELS) continue;
    const w = new WindowStats();
    for (let x = i; x < j; x++) w.add(scored[x]);
    if (!enough(w)) continue;
    windows[k] = w;
    maxSpanMs = Math.max(maxSpanMs, end - scored[i].tIntended);
  }
  let positives = 0;
  for (const r of scored) if (r.tIntended >= t0 && r.label === 1) positives++;
  const after = scored.filter((r) => r.tIntended >= t0).length;
  return { windows, maxSpanMs, positives, negatives: after - positives };
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
