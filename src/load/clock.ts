/**
 * A clock that reads like Date.now() (epoch ms, so load records line up with journal entries and
 * with other processes' `ts_ms`) but advances monotonically with sub-millisecond resolution from
 * its anchor, so schedules and latencies never jump with wall-clock adjustments. The load driver
 * anchors a new one at each run start, which bounds the divergence from Date.now() to the clock
 * slew during one run.
 *
 * The monotonic part is process.hrtime (CLOCK_MONOTONIC), which every thread of the process reads
 * alike (performance.now() is relative to each thread's own start). A load worker thread adopts the
 * main thread's anchor (adoptClock), so its records' times and the main thread's nowMs() (fault
 * injection instants, drift start times) are readings of one clock, not two clocks anchored apart.
 */

/** One instant read on both clocks: epoch ms and the process-wide monotonic ms. */
export interface ClockAnchor {
  epochMs: number;
  monoMs: number;
}

const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

let adopted: ClockAnchor | undefined;

function clockOf(a: ClockAnchor): () => number {
  const offset = a.epochMs - a.monoMs;
  return () => offset + monoMs();
}

/** A new clock anchored now; in a thread that adopted an anchor, that anchor's clock instead. */
export function createClock(): () => number {
  return clockOf(adopted ?? { epochMs: Date.now(), monoMs: monoMs() });
}

let threadAnchor: ClockAnchor = { epochMs: Date.now(), monoMs: monoMs() };
let threadClock = clockOf(threadAnchor);

/** Thread-wide instance of the clock (anchored at first import, or adopted). */
export const nowMs = (): number => threadClock();

/** The anchor of this thread's nowMs(), to hand to a worker thread. */
export function clockAnchor(): ClockAnchor {
  return { ...threadAnchor };
}

/** Makes nowMs() and every clock created afterwards in this thread read the given anchor's time. */
export function adoptClock(anchor: ClockAnchor): void {
  adopted = { ...anchor };
  threadAnchor = { ...anchor };
  threadClock = clockOf(threadAnchor);
}
