// Abort conditions (`error_rate > 50% for 5s`) judged on the requests the schedule intended, not only
// on the ones that came back. A record exists only once a request completes, so a total hang leaves
// the trailing window empty and, judged on records alone, the abort never fires. The runner knows the
// open-model arrival schedule and the load start, so it knows which requests were intended in a
// window: those with no record that were intended longer ago than they may take (their timeout, or a
// latency condition's threshold) are hung and count as failing. Nothing here reads the driver's
// internals (it may run in a worker and post records in batches): only the records and the schedule.
import { DEFAULT_TIMEOUT_MS } from '../load/builtin.ts';
import type { RequestRecord } from '../load/driver.ts';
import type { ArrivalSchedule } from '../load/schedule.ts';
import { type AbortCondition, compare } from '../scenario/checks.ts';
import type { Window } from '../slo/stats.ts';
import { summarize, type WindowSummary } from '../slo/summarize.ts';

/** Length of the trailing window each condition is judged on, and how often it is judged. */
export const ABORT_WINDOW_MS = 1000;
export const ABORT_CHECK_EVERY_MS = 100;
/** Records of fast answers can lag their request by the client's I/O: the window ends at least this far back. */
export const ABORT_MIN_LAG_MS = 500;
/**
 * A record can reach the runner a little after its request completed (the generator's worker posts
 * them every 20 ms; the runner's event loop may be late): an answer at the timeout is not taken for a
 * hang within this grace.
 */
export const RECORD_DELIVERY_GRACE_MS = 250;
/** Records arrive in completion order; scanning back stops this far before the window (batching slack). */
const SCAN_SLACK_MS = 2000;

export interface HungOptions {
  schedule: ArrivalSchedule;
  /** When the schedule's offset 0 was (epoch ms, the runner's clock). */
  loadStart: number;
  /** Now (epoch ms). */
  now: number;
  /** A request intended before `now − hungAfterMs` with no record is hung. */
  hungAfterMs: number;
}

/**
 * Summary of the requests intended in `window`: every record there, plus one `timeout` for each
 * request the schedule intended there, more than `hungAfterMs` ago, that has no record yet. A hung
 * request's latency is how long it has waited so far (a lower bound of its final latency).
 */
export function summarizeWithHung(
  records: readonly RequestRecord[],
  window: Window,
  o: HungOptions,
): WindowSummary {
  const inWindow: RequestRecord[] = [];
  const seen = new Set<number>();
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i];
    if (r.tDone < window.from - SCAN_SLACK_MS) break;
    seen.add(r.seq);
    if (r.tIntended >= window.from && r.tIntended < window.to) inWindow.push(r);
  }
  const s = o.schedule;
  const rel = (t: number) => t - o.loadStart;
  // Arrival k is intended at the offset where N(t) reaches k, so the arrivals in [a, b) are
  // ⌈N(a)⌉ … ⌈N(b)⌉ − 1 (N = the schedule's cumulative count).
  const first = (t: number) => Math.min(s.count, Math.max(0, Math.ceil(s.cumulative(rel(t)) - 1e-9)));
  const kFrom = first(window.from);
  const kTo = Math.min(first(window.to), first(o.now - o.hungAfterMs));
  for (let k = kFrom; k < kTo; k++) {
    if (seen.has(k)) continue;
    const tIntended = Math.min(Math.max(o.loadStart + offsetOf(s, k), window.from), window.to - 1e-6);
    inWindow.push({
      seq: k,
      tIntended,
      tSent: null,
      tDone: o.now,
      latencyMs: o.now - tIntended,
      status: 0,
      outcome: 'timeout',
      error: 'no answer yet (hung)',
    });
  }
  return summarize(inWindow, window);
}

/** Intended offset (ms) of arrival k: the smallest t with N(t) ≥ k, by bisection on the cumulative count. */
export function offsetOf(s: ArrivalSchedule, k: number): number {
  let lo = 0;
  let hi = s.totalMs;
  for (let i = 0; i < 40 && hi - lo > 0.01; i++) {
    const mid = (lo + hi) / 2;
    if (s.cumulative(mid) >= k - 1e-9) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * How long after its intended send time a request may stay without a record before it counts as
 * failing for this condition: its timeout (plus the record delivery grace) for error and availability
 * conditions; for a `latency.* >` condition its threshold when that is shorter (its latency already
 * exceeds the threshold, whether or not its record is on the way).
 */
export function hungAfterMs(cond: AbortCondition, timeoutMs: number): number {
  if (cond.metric.startsWith('latency.') && (cond.op === '>' || cond.op === '>=') && cond.value.n < timeoutMs)
    return cond.value.n;
  return timeoutMs + RECORD_DELIVERY_GRACE_MS;
}

export type SliValue = (metric: string, s: WindowSummary) => number | null;

export interface AbortWatchOptions {
  schedule: ArrivalSchedule;
  loadStart: number;
  /** The load client's per-request timeout (ms); default: the built-in generator's. */
  timeoutMs?: number;
  value: SliValue;
}

/**
 * Judges each condition every ABORT_CHECK_EVERY_MS over a trailing ABORT_WINDOW_MS window of intended
 * send times that ends max(ABORT_MIN_LAG_MS, hungAfterMs) ago, so every request in it has either a
 * record or counts as hung. A condition is met once it held over windows spanning `for` of intended
 * time without a break: from the start of the first window where it held to the end of the latest.
 */
export class AbortWatch {
  private readonly since = new Map<AbortCondition, number>();
  private readonly conditions: readonly AbortCondition[];
  private readonly o: AbortWatchOptions;

  constructor(conditions: readonly AbortCondition[], o: AbortWatchOptions) {
    this.conditions = conditions;
    this.o = o;
  }

  /** The first condition met at `now`, or undefined. */
  check(
    records: readonly RequestRecord[],
    now: number,
  ): { cond: AbortCondition; window: Window; value: number } | undefined {
    for (const cond of this.conditions) {
      const hung = hungAfterMs(cond, this.o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      const lag = Math.max(ABORT_MIN_LAG_MS, hung);
      const window = { from: now - lag - ABORT_WINDOW_MS, to: now - lag };
      const s = summarizeWithHung(records, window, { ...this.o, now, hungAfterMs: hung });
      const v = this.o.value(cond.metric, s);
      if (v === null || !compare(cond.op, v, cond.value.n)) {
        this.since.delete(cond);
        continue;
      }
      if (!this.since.has(cond)) this.since.set(cond, window.from);
      if (window.to - this.since.get(cond)! >= cond.forMs) return { cond, window, value: v };
    }
    return undefined;
  }
}

/** The value of an abort condition's SLI over a window summary. */
export function sliValue(metric: string, s: ReturnType<typeof summarize>): number | null {
  if (metric === 'availability') return s.availability;
  if (metric === 'error_rate') return s.errorRate;
  if (metric === 'fallback.share') return s.fallbackShare;
  if (metric === 'throughput') return s.throughput;
  if (metric.startsWith('latency.'))
    return (s.latency as unknown as Record<string, number | null>)[metric.slice(8)] ?? null;
  return null;
}
