import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Slo, SloRecord, WindowSummary } from '../src/slo/index.ts';
import {
  minSamplesForPercentile,
  mttd,
  mttr,
  sliSpec,
  summarize,
  timeSeries,
  WindowStats,
} from '../src/slo/index.ts';
import { parsePercentileName, percentilesOf } from '../src/stats/hdr.ts';

// Expected values come from scripts/fixtures/slo_fixtures.py (numpy + the hdrhistogram PyPI package),
// an independent implementation of docs/measurements.md.
interface Fixture {
  records: {
    base: number;
    tOffsetMs: number[];
    outcome: string;
    latencyUs: number[];
    fallbackReasons: string[];
    fallback: number[];
    versions: string[];
    version: number[];
  };
  expected: {
    summaries: ({ name: string; window: { from: number; to: number } } & Record<string, unknown>)[];
    timeSeries: { bucketMs: number; from: number; to: number; points: Record<string, unknown>[] };
    mttr: {
      name: string;
      input: { t0: number; slos: Slo[]; stableForMs: number; endMs: number };
      result: Record<string, unknown>;
    }[];
  };
}

const OUTCOME = { o: 'ok', e: 'error', t: 'timeout', d: 'dropped' } as const;

function load(name: string): { fx: Fixture; records: SloRecord[] } {
  const fx = JSON.parse(
    readFileSync(new URL(`./fixtures/slo/${name}.json`, import.meta.url), 'utf8'),
  ) as Fixture;
  const c = fx.records;
  const records: SloRecord[] = c.tOffsetMs.map((off, i) => {
    const r: SloRecord = {
      tIntended: c.base + off,
      outcome: OUTCOME[c.outcome[i] as keyof typeof OUTCOME],
      latencyMs: c.latencyUs[i] < 0 ? null : c.latencyUs[i] / 1000,
    };
    // Completion = intended + latency, as the script computes it (MTTR counts requests in flight at t0).
    if (c.latencyUs[i] >= 0) r.tDone = r.tIntended + c.latencyUs[i] / 1000;
    if (c.fallback[i]) r.fallback = c.fallbackReasons[c.fallback[i] - 1];
    if (c.version[i]) r.modelVersion = c.versions[c.version[i] - 1];
    return r;
  });
  return { fx, records };
}

/** Deep comparison with a float tolerance (fixtures went through a different float pipeline). */
function expectClose(actual: unknown, expected: unknown, path = ''): void {
  if (typeof expected === 'number') {
    expect(typeof actual, path).toBe('number');
    expect(Math.abs((actual as number) - expected), `${path}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
      1e-9 * Math.max(1, Math.abs(expected)),
    );
  } else if (expected === null || typeof expected !== 'object') {
    expect(actual, path).toEqual(expected);
  } else {
    for (const [k, v] of Object.entries(expected))
      expectClose((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
  }
}

const FIXTURES = ['outage', 'flapping', 'breaks-later', 'outage-1050ms', 'relapse', 'two-errors'];

describe.each(FIXTURES)('fixture %s', (name) => {
  const { fx, records } = load(name);

  it('summaries match the independent computation', () => {
    for (const exp of fx.expected.summaries) {
      const { name: _n, ...want } = exp;
      expectClose(summarize(records, exp.window), want, exp.name);
    }
  });

  it('summaries accept any iterable, not only arrays', () => {
    const w = fx.expected.summaries[0].window;
    expect(summarize(new Set(records), w)).toEqual(summarize(records, w));
  });

  it('time series matches', () => {
    const ts = fx.expected.timeSeries;
    const got = timeSeries(records, { bucketMs: ts.bucketMs, from: ts.from, to: ts.to });
    expect(got.length).toBe(ts.points.length);
    got.forEach((p, i) => {
      expectClose(p, ts.points[i], `${name}[${i}]`);
    });
  });

  it('MTTR matches the independent computation of the definition', () => {
    for (const c of fx.expected.mttr) {
      const got = mttr({ records, ...c.input });
      expectClose({ name: c.name, ...pick(got) }, { name: c.name, ...c.result }, c.name);
      expect(Object.keys(pick(got)).sort(), c.name).toEqual(Object.keys(c.result).sort());
    }
  });
});

function pick(r: ReturnType<typeof mttr>): Record<string, unknown> {
  const { recovered, breached, mttrMs, recoveredAt, resolutionMs } = r;
  return Object.fromEntries(
    Object.entries({ recovered, breached, mttrMs, recoveredAt, resolutionMs }).filter(
      ([, v]) => v !== undefined,
    ),
  );
}

/** The fixture case `name` of fixture `file`, run through mttr(), with the fixture's own expectation. */
function fixtureCase(file: string, name: string) {
  const { fx, records } = load(file);
  const c = fx.expected.mttr.find((x) => x.name === name)!;
  return { got: mttr({ records, ...c.input }), want: c.result, input: c.input, records };
}

// Issue 9: each of these read wrong with 1 s (or 250 ms) buckets aligned to t0 and the FIRST stable period.
describe('MTTR after the damage, resolved per request', () => {
  it('passes for stableFor, then breaks and never recovers: not recovered (was "recovered, MTTR 0")', () => {
    const { got } = fixtureCase('breaks-later', 'pass-then-break-never-recovers');
    expect(got).toMatchObject({ recovered: false, breached: true });
    expect(got.mttrMs).toBeUndefined();
  });

  it('a relapse after a claimed recovery moves recovery past the relapse', () => {
    const { got, input } = fixtureCase('relapse', 'relapse');
    // Errors t0..t0+1 s, good for 6 s (> stableFor), errors t0+7..t0+7.3 s: recovery after the relapse.
    expect(got.recovered).toBe(true);
    expect(got.recoveredAt! - input.t0).toBeGreaterThan(7000);
    expect(Math.abs(got.mttrMs! - 7300)).toBeLessThanOrEqual(got.resolutionMs! + 10);
  });

  it('a 1.05 s outage reads 1.05 s within its stated resolution, not 2 s', () => {
    const { got, records, input } = fixtureCase('outage-1050ms', 'outage-1.05s');
    const failed = records.filter((r) => r.outcome !== 'ok' && r.tIntended < input.endMs);
    // The outage as observed from t0: requests in flight at t0 count at t0, the last failed one at its time.
    const outage = failed.at(-1)!.tIntended - input.t0;
    expect(got.resolutionMs).toBe(10); // the request spacing at 100 req/s
    expect(Math.abs(got.mttrMs! - 1050)).toBeLessThanOrEqual(got.resolutionMs!);
    expect(Math.abs(got.mttrMs! - outage)).toBeLessThanOrEqual(got.resolutionMs!);
  });

  it('requests in flight at t0 belong to the fault: observed from t0', () => {
    const { got, records, input } = fixtureCase('outage-1050ms', 'outage-1.05s');
    expect(got.firstViolationAt).toBe(input.t0);
    // Without completion times the requests intended just before t0 are not observed: the first
    // anchor is then the first request intended after t0.
    const noDone = records.map(({ tDone: _d, ...x }) => x);
    const firstAfter = records.find((r) => r.tIntended >= input.t0)!.tIntended;
    expect(firstAfter).toBeGreaterThan(input.t0);
    expect(mttr({ records: noDone, ...input }).firstViolationAt).toBe(firstAfter);
  });

  it('the same errors shifted against a bucket grid give the same recovery (MTTR moves by the shift only)', () => {
    const a = fixtureCase('two-errors', 'aligned');
    const b = fixtureCase('two-errors', 'shifted-100ms');
    const c = fixtureCase('two-errors', 'shifted-370ms');
    // With 1 s buckets from t0 these two errors read "no breach" (0 s) aligned and 2 s shifted.
    for (const x of [a, b, c]) expect(x.got).toMatchObject({ recovered: true, breached: true });
    expect(b.got.recoveredAt).toBe(a.got.recoveredAt);
    expect(c.got.recoveredAt).toBe(a.got.recoveredAt);
    expect(b.got.mttrMs! - a.got.mttrMs!).toBeCloseTo(100, 9);
    expect(c.got.mttrMs! - a.got.mttrMs!).toBeCloseTo(370, 9);
  });

  it('never breached is "no SLO breach", not MTTR 0', () => {
    const { got } = fixtureCase('breaks-later', 'never-breached');
    expect(got).toMatchObject({ recovered: true, breached: false });
    expect(got.mttrMs).toBeUndefined();
    expect(got.recoveredAt).toBeUndefined();
    // …and only when the run observed stableFor after t0.
    expect(fixtureCase('breaks-later', 'never-breached-too-short').got.recovered).toBe(false);
  });
});

describe('fixture sanity', () => {
  it('the outage fixture exercises what it claims', () => {
    const { fx } = load('outage');
    const s = Object.fromEntries(fx.expected.summaries.map((x) => [x.name, x])) as unknown as Record<
      string,
      WindowSummary
    >;
    expect(s.outage.availability!).toBeLessThan(0.2);
    expect(s.outage.dropped).toBeGreaterThan(0);
    expect(s.outage.timeouts).toBeGreaterThan(0);
    expect(s.spike.latency.p50!).toBeGreaterThan(250);
    expect(s.fallback.fallbackShare!).toBeGreaterThan(0.25);
    expect(s.empty.requests).toBe(0);
  });
});

// ----- hand-made edge cases
const T = 1_000_000;
function rec(
  tRel: number,
  outcome: SloRecord['outcome'] = 'ok',
  latencyMs: number | null = 10,
  fallback?: string,
): SloRecord {
  return {
    tIntended: T + tRel,
    outcome,
    latencyMs: outcome === 'dropped' ? null : latencyMs,
    ...(fallback ? { fallback } : {}),
  };
}
/** n evenly spaced records over [fromRel, toRel). */
function span(
  fromRel: number,
  toRel: number,
  n: number,
  f: (i: number, t: number) => SloRecord,
): SloRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const t = fromRel + ((toRel - fromRel) * i) / n;
    return f(i, t);
  });
}
const AVAIL: Slo = { metric: 'availability', op: '>=', value: 0.99 };

describe('summarize edge cases', () => {
  it('empty window: zero counts, null SLIs', () => {
    const s = summarize([rec(5)], { from: T + 100, to: T + 200 });
    expect(s.requests).toBe(0);
    expect(s.availability).toBeNull();
    expect(s.errorRate).toBeNull();
    expect(s.fallbackShare).toBeNull();
    expect(s.latency).toEqual({
      count: 0,
      p50: null,
      p90: null,
      p95: null,
      p99: null,
      p999: null,
      max: null,
      mean: null,
    });
    expect(s.throughput).toBe(0);
  });

  it('all errors: availability 0, fallback share undefined, latency still measured', () => {
    const s = summarize(
      span(0, 1000, 10, (_, t) => rec(t, 'error', 1)),
      { from: T, to: T + 1000 },
    );
    expect(s.availability).toBe(0);
    expect(s.errorRate).toBe(1);
    expect(s.errors).toBe(10);
    expect(s.fallbackShare).toBeNull();
    expect(s.latency.count).toBe(10);
    expect(s.latency.p99).toBe(1);
  });

  it('dropped requests count against availability but carry no latency', () => {
    const rs = [rec(0), rec(1, 'dropped'), rec(2, 'timeout', 2000), rec(3, 'ok', 20, 'breaker_open')];
    const s = summarize(rs, { from: T, to: T + 1000 });
    expect(s).toMatchObject({
      requests: 4,
      ok: 2,
      errors: 1,
      timeouts: 1,
      dropped: 1,
      availability: 0.5,
      errorRate: 0.5,
      fallbackCount: 1,
      fallbackShare: 0.5,
    });
    expect(s.latency.count).toBe(3);
    expect(s.latency.max).toBe(2000);
    expect(s.throughput).toBe(2);
    expect(s.offeredRate).toBe(4);
  });

  it('window is half-open on intended time', () => {
    const s = summarize([rec(0), rec(1000)], { from: T, to: T + 1000 });
    expect(s.requests).toBe(1);
  });

  it('percentiles use the ceiling rank, like HdrHistogram (not round-half-up)', () => {
    // Below 2048 µs buckets are 1 µs wide, so 0.1 … 1.0 ms are exact.
    // p90 → rank ceil(9) = 9; p95 → ceil(9.5) = 10; p84 → ceil(8.4) = 9 (round-half-up would give 8).
    const vals = Array.from({ length: 10 }, (_, i) => (i + 1) / 10);
    expect(percentilesOf(vals, [90, 95, 84, 100])).toEqual([0.9, 1, 0.9, 1]);
    // Above 2048 µs buckets are 2 µs wide, above 8192 µs 8 µs wide: the value reported is the
    // bucket's highest equivalent value, as HdrHistogram does.
    expect(percentilesOf([2.05], [50])).toEqual([2.051]);
    expect(percentilesOf([9], [50])).toEqual([9.007]);
  });

  it('parses percentile names', () => {
    expect(parsePercentileName('p99')).toBe(99);
    expect(parsePercentileName('p999')).toBe(99.9);
    expect(parsePercentileName('p99.99')).toBe(99.99);
    expect(parsePercentileName('p100')).toBe(100);
    expect(parsePercentileName('p0')).toBeUndefined();
    expect(parsePercentileName('median')).toBeUndefined();
  });
});

describe('timeSeries', () => {
  it('keeps empty buckets and counts model versions', () => {
    const rs = [
      { ...rec(100), modelVersion: '3' },
      { ...rec(200), modelVersion: '3' },
      { ...rec(2100), modelVersion: '4' },
    ];
    const ts = timeSeries(rs, { bucketMs: 1000, from: T, to: T + 3000 });
    expect(ts.map((p) => p.requests)).toEqual([2, 0, 1]);
    expect(ts[1].availability).toBeNull();
    expect(ts[0].modelVersions).toEqual({ '3': 2 });
    expect(ts[2].modelVersions).toEqual({ '4': 1 });
    expect(timeSeries([])).toEqual([]);
  });
});

describe('mttr edge cases', () => {
  // 100 req/s: a ratio SLO needs 100 requests per window, so windows span ~1 s.
  const at = (a: number, b: number, outcome: SloRecord['outcome'] = 'ok') =>
    span(a, b, (b - a) / 10, (_, t) => rec(t, outcome));
  const good = (a: number, b: number) => at(a, b);
  const bad = (a: number, b: number) => at(a, b, 'error');

  it('recovery exactly at the end of observation counts', () => {
    const rs = [...bad(0, 1000), ...good(1000, 7000)];
    // The last violating anchor is the second-to-last error (one error in 100 still meets 99 %).
    const r = mttr({ records: rs, t0: T, slos: [AVAIL], stableForMs: 5000, endMs: T + 5990 });
    expect(r).toMatchObject({
      recovered: true,
      mttrMs: 990,
      recoveredAt: T + 990,
      resolutionMs: 10,
      breached: true,
      firstViolationAt: T,
      lastViolationAt: T + 980,
    });
    // One millisecond less observation and the stable period is incomplete.
    expect(mttr({ records: rs, t0: T, slos: [AVAIL], stableForMs: 5000, endMs: T + 5989 }).recovered).toBe(
      false,
    );
  });

  it('never recovered', () => {
    const r = mttr({ records: bad(0, 10_000), t0: T, slos: [AVAIL], endMs: T + 10_000 });
    expect(r).toMatchObject({ recovered: false, breached: true });
    expect(r.mttrMs).toBeUndefined();
  });

  it('a violation in the last window (no later evidence) is not recovered', () => {
    const rs = [...good(0, 9950), ...bad(9950, 10_000)];
    expect(mttr({ records: rs, t0: T, slos: [AVAIL], stableForMs: 0, endMs: T + 10_000 })).toMatchObject({
      recovered: false,
      breached: true,
    });
  });

  it('a recovery that relapses counts only after the relapse', () => {
    // good 1–7 s (longer than stableFor), relapse 7–7.5 s, good again.
    const rs = [...bad(0, 1000), ...good(1000, 7000), ...bad(7000, 7500), ...good(7500, 15_000)];
    const r = mttr({ records: rs, t0: T, slos: [AVAIL], stableForMs: 5000, endMs: T + 15_000 });
    expect(r).toMatchObject({ recovered: true, mttrMs: 7490, breached: true });
  });

  it('an unaffected system has no SLO breach and no MTTR', () => {
    const r = mttr({ records: good(0, 8000), t0: T, slos: [AVAIL], stableForMs: 5000, endMs: T + 8000 });
    expect(r).toEqual({ recovered: true, breached: false });
  });

  it('too few requests to judge an SLI is inconclusive, not a recovery', () => {
    expect(mttr({ records: [], t0: T, slos: [AVAIL], endMs: T + 60_000 })).toMatchObject({
      recovered: false,
      insufficient: expect.stringContaining('availability'),
    });
    const p999: Slo = { metric: 'latency.p999', op: '<=', value: 100 };
    expect(mttr({ records: good(0, 9000), t0: T, slos: [p999], endMs: T + 9000 }).insufficient).toContain(
      'latency.p999',
    );
  });

  it('dropped requests breach availability; they carry no latency evidence', () => {
    const rs = [...at(0, 1000, 'dropped'), ...good(1000, 7000)];
    const p99: Slo = { metric: 'latency.p99', op: '<=', value: 100 };
    // A latency window grows past the drops to 100 latency samples, all fast.
    expect(mttr({ records: rs, t0: T, slos: [p99], endMs: T + 7000 })).toEqual({
      recovered: true,
      breached: false,
    });
    expect(mttr({ records: rs, t0: T, slos: [AVAIL, p99], endMs: T + 7000 })).toMatchObject({
      mttrMs: 990,
      resolutionMs: 10,
      violated: ['availability'],
    });
  });

  it('percentile windows tolerate what the percentile tolerates', () => {
    // One slow request in every 100 keeps p99 at the 99th value; two in a window break it.
    const rs = span(0, 10_000, 1000, (i, t) => rec(t, 'ok', i % 100 === 50 ? 900 : 10));
    const p99: Slo = { metric: 'latency.p99', op: '<=', value: 500 };
    expect(mttr({ records: rs, t0: T, slos: [p99], endMs: T + 10_000 })).toEqual({
      recovered: true,
      breached: false,
    });
    const twice = span(0, 10_000, 1000, (i, t) => rec(t, 'ok', i % 100 === 50 || i === 52 ? 900 : 10));
    expect(mttr({ records: twice, t0: T, slos: [p99], endMs: T + 10_000 })).toMatchObject({
      breached: true,
      // The window anchored at request 52 holds 52 and 150 (two slow in 100): the last violation.
      lastViolationAt: T + 520,
      recoveredAt: T + 530,
    });
  });

  it('ignores records before t0 (unless in flight at t0) and after endMs', () => {
    const rs = [...bad(-5000, 0), ...good(0, 5000), ...bad(5000, 9000)];
    expect(mttr({ records: rs, t0: T, slos: [AVAIL], endMs: T + 5000 })).toEqual({
      recovered: true,
      breached: false,
    });
    // The same errors, still in flight at t0, belong to the fault.
    const inFlight = rs.map((r) => (r.tIntended < T && r.tIntended >= T - 50 ? { ...r, tDone: T + 20 } : r));
    expect(mttr({ records: inFlight, t0: T, slos: [AVAIL], endMs: T + 5000 })).toMatchObject({
      breached: true,
      firstViolationAt: T,
    });
  });

  it('rejects unknown SLIs and bad parameters', () => {
    expect(() =>
      mttr({
        records: [],
        t0: T,
        slos: [{ metric: 'latency.median' as never, op: '<', value: 1 }],
        endMs: T + 1,
      }),
    ).toThrow(/unknown SLI/);
    expect(() =>
      mttr({
        records: [],
        t0: T,
        slos: [{ metric: 'availability', op: '=>' as never, value: 1 }],
        endMs: T + 1,
      }),
    ).toThrow(/operator/);
    expect(() => mttr({ records: [], t0: T, slos: [AVAIL], endMs: T + 1, stableForMs: -1 })).toThrow(
      /stableForMs/,
    );
    expect(() => mttr({ records: [], t0: T, slos: [], endMs: T + 1 })).toThrow(/at least one/);
  });
});

describe('sliSpec evidence minimums', () => {
  const stats = (n: number, outcome: SloRecord['outcome'] = 'ok') => {
    const s = new WindowStats();
    for (let i = 0; i < n; i++) s.add(rec(i, outcome));
    return s;
  };
  it.each([
    ['availability', 100],
    ['error_rate', 100],
    ['fallback.share', 100],
    ['latency.p50', 2],
    ['latency.p90', 10],
    ['latency.p95', 20],
    ['latency.p99', 100],
    ['latency.p999', 1000],
    ['latency.p99.99', 10_000],
    ['latency.max', 1],
    ['latency.mean', 1],
  ])('%s needs %i', (metric, n) => {
    const spec = sliSpec(metric);
    expect(spec.enough(stats(n - 1))).toBe(false);
    expect(spec.enough(stats(n))).toBe(true);
    expect(spec.get(stats(n))).not.toBeNull();
  });
  it('a percentile at its minimum is not the maximum sample', () => {
    for (const p of [50, 90, 95, 99, 99.9]) {
      const n = minSamplesForPercentile(p);
      expect(Math.ceil((p / 100) * n - 1e-9), String(p)).toBeLessThan(n);
      expect(Math.ceil((p / 100) * (n - 1) - 1e-9), String(p)).toBe(n - 1);
    }
  });
  it('fallback.share counts ok answers, dropped requests give no latency evidence', () => {
    expect(sliSpec('fallback.share').enough(stats(150, 'error'))).toBe(false);
    expect(sliSpec('latency.max').enough(stats(5, 'dropped'))).toBe(false);
    expect(() => sliSpec('throughput')).toThrow(/unknown SLI/);
  });
});

describe('mttd', () => {
  const signals = [
    { t: T - 100, name: 'alert' },
    { t: T + 900, name: 'breaker_open' },
    { t: T + 400, name: 'alert' },
    { t: T + 300, name: 'rollback' },
  ];
  it('first matching signal at or after t0', () => {
    expect(mttd(T, signals, 'alert')).toEqual({ detected: true, mttdMs: 400, signal: signals[2] });
    expect(mttd(T, signals, ['breaker_open', 'rollback']).mttdMs).toBe(300);
    expect(mttd(T, signals, (s) => s.name === 'breaker_open').mttdMs).toBe(900);
    expect(mttd(T, signals, 'retrain')).toEqual({ detected: false });
    expect(mttd(T - 100, signals, 'alert').mttdMs).toBe(0);
  });
});
