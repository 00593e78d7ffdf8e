import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { BuiltinLoadDriver, seededPayload } from '../src/load/builtin.ts';
import type { RequestRecord } from '../src/load/driver.ts';
import { PayloadGenerator } from '../src/pipeline/trainer/data.ts';
import { chartData } from '../src/report/html.ts';
import { sampleReport } from '../src/report/sample.ts';
import { evaluate, measure } from '../src/runner/evaluate.ts';
import { JournalIndex } from '../src/runner/signals.ts';
import { parseCheck } from '../src/scenario/checks.ts';
import { mttr } from '../src/slo/mttr.ts';
import { QUALITY_MIN_LABELS, wilson } from '../src/slo/quality.ts';
import { qualityEvidence, type SloRecord, sliGetter, WindowStats } from '../src/slo/stats.ts';
import { qualitySeries } from '../src/slo/timeseries.ts';

// Expected values: scripts/fixtures/quality_fixtures.py (scikit-learn roc_auc_score, recall_score,
// precision_score, log_loss; scipy's Wilson interval; Hanley–McNeil written from the paper's formula).
interface QualityFixture {
  cases: { name: string; records: SloRecord[]; expected: Record<string, unknown> }[];
}
const fx = JSON.parse(
  readFileSync(new URL('./fixtures/quality.json', import.meta.url), 'utf8'),
) as QualityFixture;

function close(actual: unknown, expected: unknown, path: string): void {
  if (expected === null || expected === undefined) {
    expect(actual ?? null, path).toBeNull();
  } else if (typeof expected === 'number') {
    expect(actual, path).toBeTypeOf('number');
    expect(Math.abs((actual as number) - expected), `${path}: ${actual} vs ${expected}`).toBeLessThan(1e-9);
  } else if (typeof expected === 'object') {
    for (const [k, v] of Object.entries(expected))
      close((actual as Record<string, unknown>)?.[k], v, `${path}.${k}`);
  } else expect(actual, path).toEqual(expected);
}

describe('quality SLIs against scikit-learn', () => {
  for (const c of fx.cases) {
    it(`${c.name}`, () => {
      const s = new WindowStats();
      for (const r of c.records) s.add(r);
      close(s.quality, c.expected, c.name);
      // The SLI getters read the same figures.
      expect(sliGetter('quality.auc')(s)).toBe(s.quality.auc);
      expect(sliGetter('quality.recall')(s)).toBe(s.quality.recall);
      expect(sliGetter('quality.precision')(s)).toBe(s.quality.precision);
      expect(sliGetter('quality.logloss')(s)).toBe(s.quality.logloss);
    });
  }

  it('covers ties, one-class and empty windows', () => {
    const names = fx.cases.map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining(['ties-on-a-grid', 'all-tied', 'all-negative', 'all-positive']),
    );
    const tied = fx.cases.find((c) => c.name === 'all-tied')!;
    expect(tied.expected.auc).toBe(0.5);
  });

  it('Wilson interval matches the textbook value', () => {
    // Newcombe (1998), Stat Med 17:857, method 3 example: 81/263 → 0.2553–0.3662.
    const ci = wilson(81, 263)!;
    expect(ci.lo).toBeCloseTo(0.2553, 4);
    expect(ci.hi).toBeCloseTo(0.3662, 4);
  });

  it('needs enough positives and negatives before a window judges quality', () => {
    const enough = qualityEvidence('quality.auc')!;
    expect(qualityEvidence('availability')).toBeUndefined();
    const s = new WindowStats();
    for (let i = 0; i < QUALITY_MIN_LABELS; i++) {
      s.add({ tIntended: i, outcome: 'ok', latencyMs: 1, label: 0, score: 0.1, decision: 'approve' });
      if (i < QUALITY_MIN_LABELS - 1)
        s.add({ tIntended: i, outcome: 'ok', latencyMs: 1, label: 1, score: 0.9, decision: 'decline' });
    }
    expect(enough(s)).toBe(false);
    s.add({ tIntended: 99, outcome: 'ok', latencyMs: 1, label: 1, score: 0.8, decision: 'review' });
    expect(enough(s)).toBe(true);
  });
});

// Deterministic pseudo-random stream for synthetic scored traffic.
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

const T = 1_800_000_000_000;
/** 100 req/s, `share` fraud; a good model separates the classes, a bad one (inverted) ranks them backwards. */
function scored(from: number, to: number, share: number, bad: (t: number) => boolean): RequestRecord[] {
  const u = lcg(7);
  const out: RequestRecord[] = [];
  let seq = 0;
  for (let t = from; t < to; t += 10) {
    const label: 0 | 1 = u() < share ? 1 : 0;
    const z = (label ? 1.5 : -1.5) + (u() - 0.5) * 4;
    const score = 1 / (1 + Math.exp(bad(t) ? z : -z));
    out.push({
      seq: seq++,
      tIntended: t,
      tSent: t,
      tDone: t + 10,
      latencyMs: 10,
      status: 200,
      outcome: 'ok',
      modelVersion: bad(t) ? '3' : '2',
      label,
      score,
      decision: score >= 0.5 ? 'review' : 'approve',
    });
  }
  return out;
}

describe('quality in MTTR', () => {
  const auc = [{ metric: 'quality.auc' as const, op: '>=' as const, value: 0.85 }];

  it('a model that answers 200 but ranks badly breaches the quality SLO until it is replaced', () => {
    // Bad model from T+10 s to T+25 s; every request succeeds throughout.
    const recs = scored(T, T + 45_000, 0.2, (t) => t >= T + 10_000 && t < T + 25_000);
    const availability = mttr({
      records: recs,
      t0: T + 10_000,
      slos: [{ metric: 'availability', op: '>=', value: 0.99 }],
      endMs: T + 45_000,
    });
    expect(availability.breached).toBe(false);
    const r = mttr({ records: recs, t0: T + 10_000, slos: auc, endMs: T + 45_000 });
    expect(r.breached).toBe(true);
    expect(r.recovered).toBe(true);
    // Recovered where the label-count windows stop failing: within one quality window (20 positives
    // at 20 fraud/s ≈ 1 s, so well under 3 s) of the bad model's last answer at 15 s.
    expect(Math.abs(r.mttrMs! - 15_000)).toBeLessThan(3000);
    expect(r.resolutionMs).toBeGreaterThan(0);
  });

  it('never recovers while the bad model serves to the end', () => {
    const recs = scored(T, T + 45_000, 0.2, (t) => t >= T + 10_000);
    const r = mttr({ records: recs, t0: T + 10_000, slos: auc, endMs: T + 45_000 });
    expect(r).toMatchObject({ breached: true, recovered: false });
  });

  it('says so when no window ever held enough labels (missing evidence, not health)', () => {
    const recs = scored(T, T + 20_000, 0.005, () => false);
    const r = mttr({ records: recs, t0: T + 10_000, slos: auc, endMs: T + 20_000 });
    expect(r.recovered).toBe(false);
    expect(r.insufficient).toMatch(/quality\.auc/);
  });
});

describe('quality checks in the evaluation', () => {
  const phases = {
    steady: { from: T, to: T + 10_000 },
    fault: { from: T + 10_000, to: T + 25_000 },
    recovery: { from: T + 25_000, to: T + 45_000 },
    whole: { from: T, to: T + 45_000 },
  };
  const base = {
    index: new JournalIndex([]),
    phases,
    t0: T + 10_000,
    killedServices: [],
    stableForMs: 5000,
    endMs: T + 45_000,
  };
  const check = (src: string) => {
    const r = parseCheck(src);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };

  it('measures AUC per phase with its Hanley–McNeil SE and the fallback share', () => {
    const recs = scored(T, T + 45_000, 0.2, (t) => t >= T + 10_000 && t < T + 25_000).map((r, i) =>
      i % 10 === 0 ? { ...r, fallback: 'breaker_open' } : r,
    );
    const [steady, fault] = evaluate(
      [check('quality.auc >= 0.85 during steady'), check('quality.auc >= 0.85 during fault')],
      { ...base, records: recs },
    );
    expect(steady.passed).toBe(true);
    expect(steady.measured).toBeGreaterThan(0.85);
    expect(steady.quality!.se).toBeGreaterThan(0);
    expect(steady.quality!.fallback).toBeGreaterThan(0);
    expect(steady.explanation).toMatch(/Hanley–McNeil/);
    expect(steady.explanation).toMatch(/from the fallback model/);
    expect(fault.passed).toBe(false);
    expect(fault.measured).toBeLessThan(0.5);
  });

  it('a phase without enough positives is missing evidence: n/a with the counts', () => {
    const recs = scored(T, T + 45_000, 0.005, () => false);
    const [r] = evaluate([check('quality.recall >= 50% during fault')], { ...base, records: recs });
    expect(r.measured).toBeNull();
    expect(r.passed).toBe(false);
    const positives = r.quality!.positives;
    expect(positives).toBeLessThan(QUALITY_MIN_LABELS);
    expect(r.explanation).toContain(`${positives} fraud`);
    expect(r.explanation).toMatch(/needs at least 20 of each/);
  });

  it('mttr on a quality SLO recovers after the bad answers; without enough labels it is inconclusive', () => {
    const runbook = {
      id: 'rb',
      detection: { signal: 'controller-alert', withinMs: 30_000 },
      mitigation: { automated: 'rollback', withinMs: 45_000 },
      mttrTargetMs: 90_000,
      slos: [{ metric: 'quality.auc' as const, op: '>=' as const, value: 0.85 }],
    };
    const good = scored(T, T + 45_000, 0.2, (t) => t >= T + 10_000 && t < T + 25_000);
    const m = measure({ ...base, records: good, runbook });
    expect(m.mttr).toMatchObject({ recovered: true, breached: true });
    expect(m.mttr!.resolutionMs).toBeGreaterThan(0);
    const rare = scored(T, T + 45_000, 0.001, () => false);
    const [r] = evaluate([check('mttr <= runbook')], { ...base, records: rare, runbook });
    expect(r.measured).toBeNull();
    expect(r.status).toBe('inconclusive');
    expect(r.explanation).toMatch(/not enough requests after fault start to judge quality\.auc/);
  });
});

describe('labels and scores in records', () => {
  it('seededPayload attaches the generator truth and raises the fraud share by rejection sampling', async () => {
    const base = await seededPayload(5);
    const hi = await seededPayload(5, { fraudShare: 0.2 });
    const again = await seededPayload(5, { fraudShare: 0.2 });
    const truth = new PayloadGenerator(5);
    const byId = new Map<string, 0 | 1>();
    let baseFraud = 0;
    for (let i = 0; i < 2000; i++) {
      const p = base();
      const t = truth.nextLabeled();
      expect(p.transaction_id).toBe(t.tx.transaction_id);
      expect(Object.getOwnPropertySymbols(p).map((s) => (p as Record<symbol, unknown>)[s])).toEqual([
        t.label,
      ]);
      baseFraud += t.label;
    }
    expect(baseFraud / 2000).toBeLessThan(0.03);
    // The labelled stream is a subsequence of the generator's own stream: each label is its truth.
    const gen = new PayloadGenerator(5);
    for (let i = 0; i < 300_000; i++) {
      const t = gen.nextLabeled();
      byId.set(t.tx.transaction_id!, t.label);
    }
    let fraud = 0;
    for (let i = 0; i < 2000; i++) {
      const p = hi();
      const q = again();
      expect(q).toEqual(p); // deterministic
      const label = (p as Record<symbol, unknown>)[Object.getOwnPropertySymbols(p)[0]];
      expect(byId.get(p.transaction_id as string)).toBe(label);
      expect(JSON.parse(JSON.stringify(p))).not.toHaveProperty('label');
      fraud += label as number;
    }
    expect(fraud / 2000).toBeGreaterThan(0.17);
    expect(fraud / 2000).toBeLessThan(0.23);
    await expect(seededPayload(5, { fraudShare: 1.5 })).rejects.toThrow(/fraudShare/);
  });

  it('the driver records the label (before drift transforms) and the answer score and decision', async () => {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        // The label is never sent; the drift transform below zeroed the amount.
        const score = body.label === undefined && body.amount === 0 ? 0.75 : 0;
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            transaction_id: body.transaction_id,
            score,
            decision: 'review',
            model_name: 'fraud-primary',
            model_version: '1',
            fallback: { used: false, reason: null },
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const payload = await seededPayload(3, { fraudShare: 0.5 });
      const expected = await seededPayload(3, { fraudShare: 0.5 });
      const driver = new BuiltinLoadDriver({
        url: `http://127.0.0.1:${port}`,
        rate: 100,
        durationMs: 300,
        payload,
        transform: (p) => ({ ...p, amount: 0 }),
        keepRecords: true,
      });
      await driver.start();
      const res = await driver.done;
      const recs = res.records!.sort((a, b) => a.seq - b.seq);
      expect(recs.length).toBeGreaterThan(10);
      for (const r of recs) {
        const p = expected();
        const label = (p as Record<symbol, unknown>)[Object.getOwnPropertySymbols(p)[0]];
        expect(r).toMatchObject({ outcome: 'ok', label, score: 0.75, decision: 'review' });
      }
      expect(new Set(recs.map((r) => r.label))).toEqual(new Set([0, 1]));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('quality series for the report', () => {
  it('cuts consecutive windows by label count, not time, and the chart plots them', () => {
    const recs = scored(T, T + 45_000, 0.1, (t) => t >= T + 10_000 && t < T + 25_000);
    const series = qualitySeries(recs);
    expect(series.length).toBeGreaterThan(5);
    for (const [i, q] of series.entries()) {
      expect(Math.min(q.positives, q.negatives)).toBeGreaterThanOrEqual(QUALITY_MIN_LABELS);
      // Each window closes on the answer that completed its evidence: one class sits exactly at 20.
      expect(q.positives === QUALITY_MIN_LABELS || q.negatives === QUALITY_MIN_LABELS).toBe(true);
      if (i) expect(q.from).toBeGreaterThan(series[i - 1].to);
      // Independent recount over the same answers.
      const inside = recs.filter((r) => r.tIntended >= q.from && r.tIntended <= q.to);
      expect(inside.filter((r) => r.label === 1)).toHaveLength(q.positives);
    }
    const bad = series.filter((q) => q.from >= T + 10_000 && q.to < T + 25_000);
    expect(bad.length).toBeGreaterThan(0);
    for (const q of bad) expect(q.auc).toBeLessThan(0.5);
    const report = sampleReport();
    const s = { ...report.scenarios[0], quality: series };
    const c = chartData(s);
    expect(c.quality!.x).toHaveLength(series.length);
    expect(c.quality!.auc[0]).toBeCloseTo(series[0].auc! * 100, 2);
    expect(chartData(report.scenarios[0]).quality).toBeUndefined();
  });
});
