import { describe, expect, it } from 'vitest';
import type { RequestRecord } from '../src/load/driver.ts';
import { ArrivalSchedule } from '../src/load/schedule.ts';
import {
  ABORT_CHECK_EVERY_MS,
  ABORT_WINDOW_MS,
  AbortWatch,
  hungAfterMs,
  offsetOf,
  RECORD_DELIVERY_GRACE_MS,
  summarizeWithHung,
} from '../src/runner/abort.ts';
import { type AbortCondition, parseAbort } from '../src/scenario/checks.ts';
import type { WindowSummary } from '../src/slo/summarize.ts';

// Abort conditions judged on what the schedule intended, with records arriving as they would: only
// once a request completes (optionally in batches, as from a worker thread). Times are synthetic.
const T = 1_800_000_000_000;
const TIMEOUT = 2000;

const cond = (src: string): AbortCondition => {
  const r = parseAbort(src);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

const value = (metric: string, s: WindowSummary): number | null =>
  metric === 'error_rate'
    ? s.errorRate
    : metric === 'availability'
      ? s.availability
      : metric.startsWith('latency.')
        ? ((s.latency as unknown as Record<string, number | null>)[metric.slice(8)] ?? null)
        : null;

/** Every request the schedule intends, answered by `answer` (undefined: never answered — hung). */
function traffic(
  schedule: ArrivalSchedule,
  answer: (tIntended: number) => { after: number; outcome?: RequestRecord['outcome'] } | undefined,
): RequestRecord[] {
  const out: RequestRecord[] = [];
  let seq = 0;
  for (const off of schedule.offsets()) {
    const tIntended = T + off;
    const a = answer(tIntended);
    const k = seq++;
    if (!a) continue;
    const outcome = a.outcome ?? 'ok';
    out.push({
      seq: k,
      tIntended,
      tSent: tIntended,
      tDone: tIntended + a.after,
      latencyMs: a.after,
      status: outcome === 'ok' ? 200 : 0,
      outcome,
    });
  }
  return out.sort((a, b) => a.tDone - b.tDone);
}

/**
 * Runs the watch every ABORT_CHECK_EVERY_MS from T to T + untilMs, showing it only the records
 * completed by then (delivered every `batchMs`, as a worker posting batches would); returns the
 * first instant a condition was met.
 */
function firstAbort(
  conds: AbortCondition[],
  schedule: ArrivalSchedule,
  all: RequestRecord[],
  untilMs: number,
  batchMs = 0,
): number | undefined {
  const watch = new AbortWatch(conds, { schedule, loadStart: T, timeoutMs: TIMEOUT, value });
  const visible: RequestRecord[] = [];
  let next = 0;
  for (let now = T; now <= T + untilMs; now += ABORT_CHECK_EVERY_MS) {
    const deliveredBy = batchMs ? T + Math.floor((now - T) / batchMs) * batchMs : now;
    while (next < all.length && all[next].tDone <= deliveredBy) visible.push(all[next++]);
    if (watch.check(visible, now)) return now;
  }
  return undefined;
}

describe('abort conditions see hung requests', () => {
  const schedule = new ArrivalSchedule({ rate: 100, durationMs: 60_000 });
  const hangAt = T + 10_000;
  // Healthy (10 ms answers) until the gateway hangs at 10 s; after that nothing ever answers (the
  // client's timeout records would come too late for the window, and a worker may not post them).
  const hang = traffic(schedule, (t) => (t < hangAt ? { after: 10 } : undefined));

  it('a total hang trips `error_rate > 50% for 5s` within 5 s + the 2 s timeout of the hang', () => {
    const at = firstAbort([cond('error_rate > 50% for 5s')], schedule, hang, 30_000);
    expect(at).toBeDefined();
    // Not before the condition could have held for 5 s, and within 5 s + the 2 s timeout.
    expect(at! - hangAt).toBeGreaterThanOrEqual(5000);
    expect(at! - hangAt).toBeLessThanOrEqual(5000 + TIMEOUT);
    // Judged on completed records alone (what the runner did before), the window stays empty.
    const recordsOnly = new AbortWatch([cond('error_rate > 50% for 5s')], {
      schedule,
      loadStart: T,
      timeoutMs: Number.POSITIVE_INFINITY,
      value,
    });
    for (let now = T; now <= T + 30_000; now += 250)
      expect(recordsOnly.check(hang, now), String(now - T)).toBeUndefined();
  });

  it('counts each intended request without a record once, as a timeout, only after it is overdue', () => {
    const window = { from: hangAt + 1000, to: hangAt + 2000 };
    const o = { schedule, loadStart: T, hungAfterMs: TIMEOUT };
    // At hang + 5 s every request of the window is overdue: 100 intended, none answered.
    const s = summarizeWithHung(hang, window, { ...o, now: hangAt + 5000 });
    expect(s).toMatchObject({ requests: 100, ok: 0, timeouts: 100, errorRate: 1 });
    expect(s.latency.p50).toBeGreaterThanOrEqual(3000);
    // At hang + 3.5 s only those intended before hang + 1.5 s are overdue (the younger are not judged).
    expect(summarizeWithHung(hang, window, { ...o, now: hangAt + 3500 }).requests).toBe(50);
    // A record, whatever it says, replaces the guess: an answered request is never also counted hung.
    const answered = traffic(schedule, (t) => (t < hangAt + 1500 ? { after: 10 } : undefined));
    const mixed = summarizeWithHung(answered, window, { ...o, now: hangAt + 5000 });
    expect(mixed).toMatchObject({ requests: 100, ok: 50, timeouts: 50 });
  });

  it('a latency condition counts a request unanswered past its threshold', () => {
    expect(hungAfterMs(cond('latency.p99 > 800ms for 2s'), TIMEOUT)).toBe(800);
    expect(hungAfterMs(cond('error_rate > 50% for 2s'), TIMEOUT)).toBe(TIMEOUT + RECORD_DELIVERY_GRACE_MS);
    const at = firstAbort([cond('latency.p99 > 800ms for 2s')], schedule, hang, 30_000);
    // The hold counts from the start of the first 1 s window that met it: a p99 is over the threshold
    // as soon as 1% of that window hung, so it may start up to a window before the hang.
    expect(at! - hangAt).toBeGreaterThanOrEqual(2000 - ABORT_WINDOW_MS);
    expect(at! - hangAt).toBeLessThanOrEqual(2000 + 800);
  });

  it('slow answers within the timeout, delivered late or in batches, do not trip an error-rate abort', () => {
    // Every request answers ok after 1.9 s: records lag their window by up to the timeout, and reach
    // the runner in batches (the worker posts every 20 ms; 100 ms here).
    const slow = traffic(schedule, () => ({ after: 1900 }));
    expect(firstAbort([cond('error_rate > 1% for 1s')], schedule, slow, 60_000)).toBeUndefined();
    expect(firstAbort([cond('error_rate > 1% for 1s')], schedule, slow, 60_000, 100)).toBeUndefined();
    // …while a latency condition sees them.
    expect(firstAbort([cond('latency.p50 > 1s for 2s')], schedule, slow, 60_000)).toBeDefined();
  });

  it('fast errors still trip it, and a break in the condition restarts the count', () => {
    // Errors 10–13 s and 14–30 s: the 1 s healthy gap resets the hold, so it trips 5 s after 14 s
    // (judged once the window's slowest request is known: up to the timeout later).
    const errors = traffic(schedule, (t) =>
      (t >= T + 10_000 && t < T + 13_000) || t >= T + 14_000 ? { after: 5, outcome: 'error' } : { after: 5 },
    );
    const at = firstAbort([cond('error_rate > 50% for 5s')], schedule, errors, 30_000);
    expect(at! - (T + 14_000)).toBeGreaterThanOrEqual(5000);
    expect(at! - (T + 14_000)).toBeLessThanOrEqual(5000 + TIMEOUT + RECORD_DELIVERY_GRACE_MS);
  });

  it('finds the intended time of arrival k on a ramping schedule', () => {
    const ramp = new ArrivalSchedule({
      stages: [
        { rate: 50, duration: 4000 },
        { rate: 200, duration: 3000 },
        { rate: 0, duration: 2000 },
      ],
    });
    const offsets = [...ramp.offsets()];
    for (const k of [0, 1, 7, 99, 100, 101, 500, offsets.length - 1])
      expect(Math.abs(offsetOf(ramp, k) - offsets[k]), String(k)).toBeLessThan(0.05);
    // Hung requests on a ramp: the count per window follows the schedule.
    const none: RequestRecord[] = [];
    const s = summarizeWithHung(
      none,
      { from: T + 4000, to: T + 5000 },
      { schedule: ramp, loadStart: T, now: T + 9000, hungAfterMs: TIMEOUT },
    );
    expect(s.requests).toBe(offsets.filter((o) => o >= 4000 && o < 5000).length);
  });
});
