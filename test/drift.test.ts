import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  binEdges,
  categoricalJensenShannon,
  categoricalPsi,
  countCategories,
  driftStats,
  jensenShannon,
  kolmogorovSf,
  ks2,
  psi,
  SlidingWindow,
  SortedSample,
} from '../src/stats/drift.ts';

// Expected values come from numpy/scipy (and Evidently where it applies): scripts/fixtures/drift_fixtures.py.
interface NumericCase {
  name: string;
  reference: number[];
  current: number[];
  bins: number | null;
  base: number | null;
  expected: {
    n_bins: number;
    edges: number[];
    psi: number;
    js_distance: number;
    ks_statistic: number;
    ks_pvalue: number;
  };
  evidently_checked: boolean;
}
const fx = JSON.parse(readFileSync(new URL('./fixtures/drift.json', import.meta.url), 'utf8')) as {
  numeric: NumericCase[];
  categorical: {
    name: string;
    reference: Record<string, number>;
    current: Record<string, number>;
    base: number | null;
    expected: { psi: number; js_distance: number };
  }[];
  kstwo_sf: { n: number; d: number; sf: number }[];
};

const STAT_TOL = 1e-9;
// p-values: relative 1e-9 (observed worst ~4e-12: scipy sums the Smirnov series in double-double,
// we in log space), plus an absolute floor of 1e-300 because scipy returns subnormal tails (9e-320)
// where cephes-style cut-offs here return 0 — irrelevant to any alert threshold.
function expectPvalue(actual: number, expected: number) {
  expect(Number.isNaN(actual)).toBe(false);
  const err = Math.abs(actual - expected);
  expect(err <= 1e-9 * Math.abs(expected) || err <= 1e-300, `p ${actual} vs scipy ${expected}`).toBe(true);
}

describe('numeric drift statistics match numpy/scipy/Evidently fixtures', () => {
  it('covers the fixture set, most of it cross-checked against Evidently', () => {
    expect(fx.numeric.length).toBeGreaterThanOrEqual(15);
    expect(fx.numeric.filter((c) => c.evidently_checked).length).toBeGreaterThanOrEqual(12);
  });
  for (const c of fx.numeric) {
    it(c.name, () => {
      const opts = { ...(c.bins ? { bins: c.bins } : {}), ...(c.base ? { base: c.base } : {}) };
      const edges = binEdges(c.reference, c.current, opts);
      expect(edges.length - 1).toBe(c.expected.n_bins);
      for (let i = 0; i < edges.length; i++) expect(edges[i]).toBeCloseTo(c.expected.edges[i], 12);
      expect(Math.abs(psi(c.reference, c.current, opts) - c.expected.psi)).toBeLessThanOrEqual(STAT_TOL);
      expect(
        Math.abs(jensenShannon(c.reference, c.current, opts) - c.expected.js_distance),
      ).toBeLessThanOrEqual(STAT_TOL);
      const ks = ks2(c.reference, c.current);
      expect(ks.statistic).toBe(c.expected.ks_statistic);
      expectPvalue(ks.pvalue, c.expected.ks_pvalue);
    });
  }

  it('driftStats equals the individual functions and accepts a pre-sorted reference', () => {
    const c = fx.numeric.find((x) => x.name.startsWith('shifted mean +0.3'))!;
    const ref = SortedSample.of(c.reference);
    const all = driftStats(ref, c.current);
    expect(all.psi).toBe(psi(c.reference, c.current));
    expect(all.js_distance).toBe(jensenShannon(c.reference, c.current));
    expect(all.ks_statistic).toBe(c.expected.ks_statistic);
    expectPvalue(all.ks_pvalue, c.expected.ks_pvalue);
  });
});

describe('Kolmogorov survival function (kstwo.sf) on every branch', () => {
  it(`matches scipy on ${fx.kstwo_sf.length} (n, d) points`, () => {
    for (const { n, d, sf } of fx.kstwo_sf) {
      const got = kolmogorovSf(n, d);
      const err = Math.abs(got - sf);
      expect(err <= 1e-9 * sf || err <= 1e-300, `n=${n} d=${d}: ${got} vs scipy ${sf}`).toBe(true);
    }
  });
});

describe('categorical drift statistics', () => {
  for (const c of fx.categorical) {
    it(c.name, () => {
      const opts = c.base ? { base: c.base } : {};
      expect(Math.abs(categoricalPsi(c.reference, c.current) - c.expected.psi)).toBeLessThanOrEqual(STAT_TOL);
      expect(
        Math.abs(categoricalJensenShannon(c.reference, c.current, opts) - c.expected.js_distance),
      ).toBeLessThanOrEqual(STAT_TOL);
    });
  }
  it('counts labels and accepts Maps', () => {
    const ref = countCategories(['A', 'A', 'B', 'C']);
    expect(ref.get('A')).toBe(2);
    const cur = countCategories(['A', 'B', 'B', 'B']);
    // Hand check: shares ref {A .5, B .25, C .25}, cur {A .25, B .75, C 0→0.0001}.
    const want =
      (0.25 - 0.5) * Math.log(0.25 / 0.5) +
      (0.75 - 0.25) * Math.log(0.75 / 0.25) +
      (0.0001 - 0.25) * Math.log(0.0001 / 0.25);
    expect(categoricalPsi(ref, cur)).toBeCloseTo(want, 14);
  });
});

describe('hand-checked behaviour and edge cases', () => {
  it('zero-share fill: 0.0001, or min non-zero share / 1e6 when that is ≤ 0.0001', () => {
    // 2 bins over [0, 1]: ref all in bin 0, cur split.
    const ref = [0, 0, 0, 0];
    const cur = [0, 1];
    const want = (0.5 - 1) * Math.log(0.5 / 1) + (0.5 - 0.0001) * Math.log(0.5 / 0.0001);
    expect(psi(ref, cur, { bins: 2 })).toBeCloseTo(want, 14);
    // 20 000 reference values, one of them in bin 1 → its share 5e-5 ≤ 1e-4, so the empty bin 2 of the
    // reference is filled with 5e-5 / 1e6.
    const bigRef = new Array(20000).fill(0);
    bigRef[0] = 1;
    const cur3 = [0, 1, 2];
    const r = [19999 / 20000, 1 / 20000, 5e-5 / 1e6];
    const c = [1 / 3, 1 / 3, 1 / 3];
    let w = 0;
    for (let i = 0; i < 3; i++) w += (c[i] - r[i]) * Math.log(c[i] / r[i]);
    expect(psi(bigRef, cur3, { bins: 3 })).toBeCloseTo(w, 12);
  });

  it('identical samples give zero drift and p = 1', () => {
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(psi(x, x)).toBe(0);
    expect(jensenShannon(x, x)).toBe(0);
    expect(ks2(x, x)).toEqual({ statistic: 0, pvalue: 1 });
  });

  it('disjoint samples: KS statistic 1, JS distance 1 in base 2', () => {
    const a = [1, 2, 3, 4, 5];
    const b = [10, 11, 12, 13, 14];
    expect(ks2(a, b).statistic).toBe(1);
    expect(ks2(a, b).pvalue).toBeLessThan(0.05);
    expect(jensenShannon(a, b, { bins: 2, base: 2 })).toBeCloseTo(1, 12);
  });

  it('rejects empty and non-finite samples, bad options', () => {
    expect(() => psi([], [1])).toThrow(/reference: must not be empty/);
    expect(() => ks2([1], [])).toThrow(/current: must not be empty/);
    expect(() => jensenShannon([1, Number.NaN], [1])).toThrow(/index 1/);
    expect(() => psi([1, 2], [1], { bins: 0 })).toThrow(/bins/);
    expect(() => categoricalPsi({ a: 0 }, { a: 1 })).toThrow(/all be zero/);
  });

  it('matches scipy for two samples of size 1 (effective n rounds to 0 → NaN)', () => {
    expect(Number.isNaN(ks2([1], [2]).pvalue)).toBe(true);
  });
});

describe('SlidingWindow', () => {
  it('keeps the most recent values oldest first, bounded by capacity', () => {
    const w = new SlidingWindow(3);
    expect(w.size).toBe(0);
    expect(w.values()).toEqual([]);
    w.push(1);
    w.push(2);
    expect(w.values()).toEqual([1, 2]);
    w.push(3);
    w.push(4);
    w.push(5);
    expect(w.size).toBe(3);
    expect(w.values()).toEqual([3, 4, 5]);
  });
  it('does not store non-finite values', () => {
    const w = new SlidingWindow(2);
    expect(w.push(Number.NaN)).toBe(false);
    expect(w.push(Number.POSITIVE_INFINITY)).toBe(false);
    expect(w.push(7)).toBe(true);
    expect(w.values()).toEqual([7]);
    expect(() => new SlidingWindow(0)).toThrow(/capacity/);
  });
});

describe('cost', () => {
  it('10 features × 1000-value window vs 1000-value reference is far below a second', () => {
    const c = fx.numeric[0];
    const ref = SortedSample.of(c.reference);
    const started = performance.now();
    for (let f = 0; f < 10; f++) driftStats(ref, c.current);
    // Generous bound: measured ~10 ms here; only an accidental O(n²) would come near this.
    expect(performance.now() - started).toBeLessThan(800);
  });
});
