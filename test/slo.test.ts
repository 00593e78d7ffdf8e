import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePercentileName, percentilesOf } from '../src/slo/hdr.ts';
import type { Slo, SloRecord, WindowSummary } from '../src/slo/index.ts';
import { mttd, mttr, summarize, timeSeries } from '../src/slo/index.ts';

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
      input: { t0: number; slos: Slo[]; stableForMs: number; endMs: number; resolutionMs: number };
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

describe.each(['outage', 'flapping'])('fixture %s', (name) => {
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

  it('MTTR matches the brute-force definition', () => {
    for (const c of fx.expected.mttr) {
      const got = mttr({ records, ...c.input });
      expect({ name: c.name, ...pick(got) }).toEqual({ name: c.name, ...c.result });
    }
  });
});

function pick(r: ReturnType<typeof mttr>): Record<string, unknown> {
  return r.recovered
    ? { recovered: true, mttrMs: r.mttrMs, recoveredAt: r.recoveredAt }
    : { recovered: false };
}

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
  const good = (a: number, b: number) => span(a, b, (b - a) / 10, (_, t) => rec(t));
  const bad = (a: number, b: number) => span(a, b, (b - a) / 10, (_, t) => rec(t, 'error'));

  it('recovery exactly at the end of observation counts', () => {
    const rs = [...bad(0, 1000), ...good(1000, 6000)];
    const r = mttr({ records: rs, t0: T, slos: [AVAIL], stableForMs: 5000, endMs: T + 6000 });
    expect(r).toMatchObject({
      recovered: true,
      mttrMs: 1000,
      recoveredAt: T + 1000,
      breached: true,
      firstViolationAt: T,
    });
    // One millisecond less observation and the stable period is incomplete.
    expect(mttr({ records: rs, t0: T, slos: [AVAIL], stableForMs: 5000, endMs: T + 5999 }).recovered).toBe(
      false,
    );
  });

  it('never recovered', () => {
    const r = mttr({ records: bad(0, 10_000), t0: T, slos: [AVAIL], endMs: T + 10_000 });
    expect(r.recovered).toBe(false);
    expect(r.mttrMs).toBeUndefined();
    expect(r.breached).toBe(true);
  });

  it('a flapping recovery that relapses before stableFor does not count', () => {
    // good 1–3 s, relapse 3–3.5 s, good again from 3.5 s.
    const rs = [...bad(0, 1000), ...good(1000, 3000), ...bad(3000, 3500), ...good(3500, 12_000)];
    const r = mttr({ records: rs, t0: T, slos: [AVAIL], stableForMs: 5000, endMs: T + 12_000 });
    expect(r).toMatchObject({ recovered: true, mttrMs: 3500 });
    // With a shorter stableFor the first good stretch is enough.
    expect(mttr({ records: rs, t0: T, slos: [AVAIL], stableForMs: 2000, endMs: T + 12_000 }).mttrMs).toBe(
      1000,
    );
  });

  it('an unaffected system recovers at t0 (MTTR 0) and is not breached', () => {
    const r = mttr({ records: good(0, 8000), t0: T, slos: [AVAIL], stableForMs: 5000, endMs: T + 8000 });
    expect(r).toMatchObject({ recovered: true, mttrMs: 0, breached: false });
  });

  it('no requests at all is not a recovery', () => {
    expect(mttr({ records: [], t0: T, slos: [AVAIL], endMs: T + 60_000 }).recovered).toBe(false);
  });

  it('latency SLO fails in a bucket where every request was dropped', () => {
    const rs = [...span(0, 1000, 100, (_, t) => rec(t, 'dropped')), ...good(1000, 7000)];
    const p99: Slo = { metric: 'latency.p99', op: '<=', value: 100 };
    expect(mttr({ records: rs, t0: T, slos: [p99], endMs: T + 7000 }).mttrMs).toBe(1000);
  });

  it('ignores records before t0 and after endMs', () => {
    const rs = [...bad(-5000, 0), ...good(0, 5000), ...bad(5000, 9000)];
    expect(mttr({ records: rs, t0: T, slos: [AVAIL], endMs: T + 5000 }).mttrMs).toBe(0);
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
    expect(() => mttr({ records: [], t0: T, slos: [AVAIL], endMs: T + 1, resolutionMs: 0 })).toThrow(
      /resolutionMs/,
    );
    expect(() => mttr({ records: [], t0: T, slos: [], endMs: T + 1 })).toThrow(/at least one/);
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
