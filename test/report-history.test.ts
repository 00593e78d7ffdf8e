import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runTrend } from '../src/cli/commands/report.ts';
import { launchChromium } from '../src/report/browser.ts';
import { appendRun, DEFAULT_HISTORY, historyPath, parseSince, readHistory } from '../src/report/history.ts';
import { periodOf, summarizeTrend } from '../src/report/trend.ts';
import { writeRunReport } from '../src/report/write.ts';
import { sampleReport } from './helpers/sample-report.ts';

const dir = mkdtempSync(join(tmpdir(), 'faultline-history-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sink() {
  let text = '';
  const write = (s: string) => {
    text += s;
    return true;
  };
  return { stream: { write } as unknown as NodeJS.WritableStream, text: () => text };
}

// Three quarterly game days; MTTR improves each quarter, the last one passes everything.
const RUNS = [
  sampleReport({ id: 'gd-2025q1', start: Date.UTC(2025, 1, 12, 9), scenarios: 3, mttrFactor: 1.5 }),
  sampleReport({ id: 'gd-2025q2', start: Date.UTC(2025, 4, 14, 9), scenarios: 3, mttrFactor: 1.0 }),
  sampleReport({
    id: 'gd-2025q3',
    start: Date.UTC(2025, 7, 13, 9),
    scenarios: 3,
    mttrFactor: 0.6,
    allPass: true,
  }),
];
const NOW = Date.UTC(2025, 9, 1);

describe('run history', () => {
  const db = join(dir, 'h', 'history.db');

  it('appends every scenario run with verdict, MTTD/MTTR, targets and per-check results; re-appending replaces', () => {
    for (const r of RUNS) appendRun(db, r);
    appendRun(db, RUNS[1]);
    const rows = readHistory(db);
    expect(rows).toHaveLength(9);
    expect(new Set(rows.map((r) => r.runId))).toEqual(new Set(['gd-2025q1', 'gd-2025q2', 'gd-2025q3']));
    const q1 = rows.find((r) => r.runId === 'gd-2025q1' && r.scenario === 'bad-model-rollout')!;
    const src = RUNS[0].scenarios.find((s) => s.name === 'bad-model-rollout')!;
    expect(q1).toMatchObject({
      verdict: 'failed',
      t: src.startedAt,
      mttdMs: src.measurements.mttdMs,
      mttrMs: src.measurements.mttrMs,
      mttdTargetMs: src.runbook!.detection.withinMs,
      mttrTargetMs: src.runbook!.mttrTargetMs,
      runbook: 'bad-model-rollout',
      checksTotal: src.steadyState.length + src.checks.length,
    });
    expect(q1.checks.map((c) => [c.check, c.passed, c.steady])).toEqual([
      ...src.steadyState.map((c) => [c.check, c.passed, true]),
      ...src.checks.map((c) => [c.check, c.passed, false]),
    ]);
    expect(q1.checksFailed).toBe(q1.checks.filter((c) => !c.passed).length);
    expect(q1.checksFailed).toBeGreaterThan(0);
    expect(readHistory(db, { sinceMs: Date.UTC(2025, 6, 1) }).map((r) => r.runId)).toEqual([
      'gd-2025q3',
      'gd-2025q3',
      'gd-2025q3',
    ]);
  });

  it('summarizes pass rate per scenario per quarter', () => {
    const t = summarizeTrend(readHistory(db));
    expect(t.granularity).toBe('quarter');
    expect(t.periods.map((p) => p.key)).toEqual(['2025-Q1', '2025-Q2', '2025-Q3']);
    const rollout = t.scenarios.find((s) => s.name === 'bad-model-rollout')!;
    expect(rollout.passRate).toEqual([0, 0, 1]);
    expect(rollout.counts).toEqual([1, 1, 1]);
    expect(periodOf(Date.UTC(2025, 11, 31), 'quarter').key).toBe('2025-Q4');
  });

  it('`faultline report trend` writes a page listing every scenario with its values; its charts draw offline', async () => {
    const out = join(dir, 'trend.html');
    const so = sink();
    expect(await runTrend({ history: db, since: '1y', out, now: NOW, stdout: so.stream })).toBe(0);
    expect(so.text()).toContain(`wrote ${out} (9 scenario runs)`);
    const html = readFileSync(out, 'utf8');
    for (const s of RUNS[0].scenarios) {
      expect(html).toContain(`data-scenario="${s.name}"`);
      for (const r of RUNS) {
        const m = r.scenarios.find((x) => x.name === s.name)!.measurements;
        // fmtMs of each run's MTTR appears in the per-run table.
        expect(html).toContain(`${(m.mttrMs! / 1000).toFixed(1)} s`);
      }
    }
    expect(html).toContain('2025-Q1');
    expect(html).toContain('2025-Q3');
    expect(html).toMatch(/Median MTTR improved: 37\.0 s in 2025-Q1 → 29\.8 s in 2025-Q3/);

    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(out).href);
      await page.waitForFunction('document.documentElement.dataset.chartsReady !== undefined', null, {
        timeout: 15_000,
      });
      const points = await page.$$eval('.chart[data-chart]', (els) =>
        els.map((e) => [e.getAttribute('data-chart'), Number(e.getAttribute('data-points'))]),
      );
      // Pass-rate chart: 3 scenarios × 3 quarters; each MTTD/MTTR chart: 3 runs × (MTTD, MTTR, 2 targets).
      expect(points).toEqual([
        ['pass-rate', 9],
        ['mttr', 12],
        ['mttr', 12],
        ['mttr', 12],
      ]);
      expect(errors).toEqual([]);
      expect(requests).toEqual([pathToFileURL(out).href]);
    } finally {
      await browser.close();
    }
  });

  it('--since narrows the page; bad --since and a missing or corrupt history exit 2 naming the problem', async () => {
    const out = join(dir, 'trend-90d.html');
    expect(await runTrend({ history: db, since: '90d', out, now: NOW, stdout: sink().stream })).toBe(0);
    expect(readFileSync(out, 'utf8')).not.toContain('gd-2025q1');
    const e1 = sink();
    expect(await runTrend({ history: db, since: 'last tuesday', stderr: e1.stream })).toBe(2);
    expect(e1.text()).toContain('--since: expected a period like 90d');
    const e2 = sink();
    expect(await runTrend({ history: join(dir, 'none.db'), stderr: e2.stream })).toBe(2);
    expect(e2.text()).toContain(`${join(dir, 'none.db')} cannot be read`);
    const junk = join(dir, 'junk.db');
    writeFileSync(junk, 'this is not sqlite '.repeat(100));
    const e3 = sink();
    expect(await runTrend({ history: junk, stderr: e3.stream })).toBe(2);
    expect(e3.text()).toContain(`${junk} is not a usable faultline history database`);
  });

  it('an empty period still renders a page that says so', async () => {
    const out = join(dir, 'empty.html');
    expect(await runTrend({ history: db, since: '2030-01-01', out, stdout: sink().stream })).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('No runs recorded in this period.');
  });

  it('the history path comes from --history, else FAULTLINE_HISTORY, else .faultline/history.db', () => {
    const saved = process.env.FAULTLINE_HISTORY;
    try {
      process.env.FAULTLINE_HISTORY = join(dir, 'env.db');
      expect(historyPath('x/explicit.db')).toBe(resolve('x/explicit.db'));
      expect(historyPath()).toBe(join(dir, 'env.db'));
      delete process.env.FAULTLINE_HISTORY;
      expect(historyPath()).toBe(resolve(DEFAULT_HISTORY));
    } finally {
      if (saved === undefined) delete process.env.FAULTLINE_HISTORY;
      else process.env.FAULTLINE_HISTORY = saved;
    }
  });

  it('writeRunReport (the runner entry point) records the run in the history', async () => {
    const hist = join(dir, 'runner.db');
    const files = await writeRunReport(join(dir, 'run-a'), RUNS[2], { history: hist });
    expect(files.map((f) => f.slice(f.lastIndexOf('/') + 1)).sort()).toEqual([
      'index.html',
      'junit.xml',
      'report.json',
      'summary.md',
    ]);
    expect(readHistory(hist).map((r) => r.scenario)).toEqual(RUNS[2].scenarios.map((s) => s.name));
  });

  it('writeRunReport still writes the report when the history cannot be written', async () => {
    const junk = join(dir, 'junk-runner.db');
    writeFileSync(junk, 'not a database '.repeat(100));
    const files = await writeRunReport(join(dir, 'run-b'), RUNS[0], { history: junk });
    expect(files).toHaveLength(4);
  });

  it('parseSince accepts periods and dates', () => {
    expect(parseSince('1y', NOW)).toBe(NOW - 365.25 * 86_400_000);
    expect(parseSince('2q', NOW)).toBe(NOW - 2 * 91.3125 * 86_400_000);
    expect(parseSince('2025-04-01', NOW)).toBe(Date.UTC(2025, 3, 1));
    expect(() => parseSince('1m')).toThrow(/--since/);
  });
});
