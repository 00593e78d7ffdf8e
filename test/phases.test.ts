import { describe, expect, it } from 'vitest';
import type { RequestRecord } from '../src/load/driver.ts';
import { measure } from '../src/runner/evaluate.ts';
import { JournalIndex } from '../src/runner/signals.ts';
import { afterT0, summarize, timeSeries } from '../src/slo/index.ts';

// The phase rule (docs/measurements.md, "Phases"): a request still in flight at fault start t0 is the
// fault's, not steady state's. The hand-built run below reproduces the report that showed a steady
// phase worse than the steady-state hypothesis it was checked against: every request that completed
// before t0 was fast and ok, and the ones in flight when the replica was killed failed or crawled.

const T0 = 1_000_000 + 20_000;
const FROM = 1_000_000;

function rec(seq: number, tIntended: number, latencyMs: number, outcome: RequestRecord['outcome']) {
  return {
    seq,
    tIntended,
    tSent: tIntended,
    tDone: tIntended + latencyMs,
    latencyMs,
    status: outcome === 'ok' ? 200 : 502,
    outcome,
  } satisfies RequestRecord;
}

function run(): RequestRecord[] {
  const out: RequestRecord[] = [];
  // 100 req/s, 20 ms answers, from FROM to T0 + 10 s.
  for (let i = 0; i < 3000; i++) out.push(rec(i, FROM + i * 10, 20, 'ok'));
  // Three requests sent just before t0 and still in flight at it: one fails, two take 500 ms+.
  const inFlight = out.filter((r) => r.tIntended >= T0 - 30 && r.tIntended < T0);
  expect(inFlight).toHaveLength(3);
  Object.assign(inFlight[0], {
    outcome: 'error',
    status: 502,
    latencyMs: 40,
    tDone: inFlight[0].tIntended + 40,
  });
  Object.assign(inFlight[1], { latencyMs: 527, tDone: inFlight[1].tIntended + 527 });
  Object.assign(inFlight[2], { latencyMs: 600, tDone: inFlight[2].tIntended + 600 });
  return out;
}

describe('phases follow the fault start rule', () => {
  it('afterT0: intended at/after t0, or in flight at t0', () => {
    expect(afterT0({ tIntended: T0, tDone: T0 + 1 }, T0)).toBe(true);
    expect(afterT0({ tIntended: T0 - 5, tDone: T0 + 1 }, T0)).toBe(true);
    expect(afterT0({ tIntended: T0 - 5, tDone: T0 }, T0)).toBe(false);
    expect(afterT0({ tIntended: T0 - 5, tDone: T0 - 1 }, T0)).toBe(false);
  });

  it('a request in flight at t0 counts in the fault phase, so steady state matches the hypothesis', () => {
    const records = run();
    const steadyWin = { from: FROM, to: T0 };
    const faultWin = { from: T0, to: T0 + 10_000 };
    // What the hypothesis saw at t0: only what had completed by then.
    const hypothesis = summarize(
      records.filter((r) => r.tDone <= T0),
      steadyWin,
    );
    expect(hypothesis.availability).toBe(1);
    const steady = summarize(records, steadyWin, T0);
    expect(steady.availability).toBe(1);
    expect(steady.latency.max).toBe(20);
    expect(steady.requests).toBe(hypothesis.requests);
    const fault = summarize(records, faultWin, T0);
    expect(fault.requests).toBe(1000 + 3);
    expect(fault.errors).toBe(1);
    expect(fault.latency.max).toBe(600);
    // Every request lands in exactly one phase.
    expect(steady.requests + fault.requests).toBe(records.length);
  });

  it('measure() and the chart apply the same rule', () => {
    const records = run();
    const phases = {
      steady: { from: FROM, to: T0 },
      fault: { from: T0, to: T0 + 10_000 },
      recovery: { from: T0 + 10_000, to: T0 + 10_000 },
      whole: { from: FROM, to: T0 + 10_000 },
    };
    const m = measure({
      records,
      index: new JournalIndex([]),
      phases,
      t0: T0,
      killedServices: [],
      stableForMs: 5000,
      endMs: T0 + 10_000,
    });
    expect(m.summaries.steady.availability).toBe(1);
    expect(m.summaries.steady.latency.p99).toBeLessThanOrEqual(20.1);
    expect(m.summaries.fault.errors).toBe(1);
    expect(m.summaries.whole.requests).toBe(records.length);
    const series = timeSeries(records, { from: FROM, to: T0 + 10_000, bucketMs: 1000, t0: T0 });
    const before = series.filter((p) => p.t < T0);
    expect(before.every((p) => p.errors === 0 && (p.p99 ?? 0) <= 20.1)).toBe(true);
    expect(series.find((p) => p.t === T0)?.errors).toBe(1);
  });
});
