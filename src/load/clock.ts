/**
 * A clock that reads like Date.now() (epoch ms, so load records line up with journal entries and
 * with other processes' `ts_ms`) but advances monotonically with sub-millisecond resolution from
 * its anchor, so schedules and latencies never jump with wall-clock adjustments. The load driver
 * anchors a new one at each run start, which bounds the divergence from Date.now() to the clock
 * slew during one run.
 */
export function createClock(): () => number {
  const wall = Date.now();
  const mono = performance.now();
  return () => wall + (performance.now() - mono);
}

/** Process-wide instance of the clock (anchored at first import). */
export const nowMs: () => number = createClock();
