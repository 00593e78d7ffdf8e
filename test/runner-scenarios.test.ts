import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../src/browser/chromium.ts';
import { readJournal } from '../src/journal/journal.ts';
import { failedChecks, readReport, runCli, tempHome } from './helpers/cli.ts';

// The shipped scenarios, both directions: the game day passes on the reference pipeline, and each
// scenario fails — naming the right check — when the mechanism it tests is switched off.

const homes: string[] = [];
afterAll(async () => {
  for (const home of homes) await runCli(['cleanup', '--all'], { home });
});

async function run(args: string[], env?: Record<string, string>) {
  const home = tempHome();
  homes.push(home);
  const reportDir = path.join(home, 'report');
  const r = await runCli([...args, '--report-dir', reportDir, '--quiet'], { home, env });
  return { ...r, reportDir, report: readReport(reportDir) };
}

/** Opens a run's index.html in Chromium and reads what the charts drew. */
async function openReport(reportDir: string) {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const url = pathToFileURL(path.join(reportDir, 'index.html')).href;
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (q) => requests.push(q.url()));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForFunction('document.documentElement.dataset.chartsReady !== undefined', null, {
      timeout: 15_000,
    });
    const charts = await page.$$eval('section.scenario .chart[data-chart]', (els) =>
      els.map((e) => ({
        scenario: e.closest('section.scenario')?.getAttribute('data-scenario'),
        kind: e.getAttribute('data-chart'),
        points: Number(e.getAttribute('data-points')),
        windows: Number(e.getAttribute('data-fault-windows')),
      })),
    );
    await page.screenshot({ path: path.join(reportDir, 'screenshot.png'), fullPage: true });
    return { charts, requests, problems, url };
  } finally {
    await browser.close();
  }
}

describe('the game day', () => {
  it('passes every shipped scenario on the reference pipeline (exit 0)', async () => {
    const r = await run(['gameday', 'scenarios/game-day.yaml']);
    const summary = r.report.scenarios.map(
      (s) =>
        `${s.name}: ${s.verdict} ${s.reason ?? ''} ${failedChecks({ ...r.report, scenarios: [s] }).join('; ')}`,
    );
    expect(summary.filter((l) => !l.includes(': passed'))).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report.scenarios).toHaveLength(6);
    for (const s of r.report.scenarios) {
      expect(s.faults.length).toBeGreaterThan(0);
      expect(s.faults.every((f) => f.injectedAt && f.revertedAt)).toBe(true);
      // A fault proxy only on the links this scenario injects network faults on.
      const journal = readJournal(path.join(r.reportDir, s.journal));
      const start = journal.find((e) => e.type === 'run.start');
      const latency = s.faults.some((f) => f.type === 'latency');
      expect(start?.fault_links, s.name).toEqual(latency ? ['model-server->feature-server'] : []);
      // The generator (its own worker thread) journals its scheduling lag each second; the report shows it.
      expect(journal.filter((e) => e.type === 'load.lag').length, s.name).toBeGreaterThan(5);
      expect(s.harness?.generatorLagP99Ms, s.name).toBeTypeOf('number');
    }
  }, 600_000);
});

describe('the browser probe (a synthetic user in Chromium)', () => {
  it('records what a user saw during a pod kill, and the checks read it', async () => {
    const r = await run(['run', 'scenarios/user-journey.yaml']);
    const s = r.report.scenarios[0];
    expect(s.verdict, `${s.reason ?? ''} ${failedChecks(r.report).join('; ')}`).toBe('passed');
    expect(r.code).toBe(0);
    expect(s.probes?.length).toBeGreaterThanOrEqual(10);
    expect(s.probes?.every((p) => p.modelVersion)).toBe(true);
    const browserCheck = s.checks.find((c) => c.check === 'browser.success >= 95% during fault');
    expect(browserCheck?.measured).toBeGreaterThanOrEqual(0.95);
    // The synthetic user scored a known customer with the primary model.
    expect(s.probes?.filter((p) => !p.fallback).length).toBeGreaterThanOrEqual(10);

    // The report of this real run, opened in Chromium: every chart drew data with the fault window shaded.
    const page = await openReport(r.reportDir);
    // Four 1 s time series, plus the quality chart when a label-count window filled (at the base 1 %
    // fraud a window of 20 fraud answers spans about 20 s, so it has few points).
    const quality = page.charts.filter((c) => c.kind === 'quality');
    expect(quality.length).toBe(s.quality?.length ? 1 : 0);
    expect(page.charts.length).toBe(4 + quality.length);
    for (const c of page.charts) {
      expect(c.points, `${c.kind} points`).toBeGreaterThan(c.kind === 'quality' ? 0 : 20);
      expect(c.windows, `${c.kind} fault windows`).toBe(s.faults.length);
    }
    expect(page.problems).toEqual([]);
    expect(page.requests).toEqual([page.url]);
    for (const f of ['junit.xml', 'summary.md', 'report.json', 'screenshot.png']) {
      expect(fs.existsSync(path.join(r.reportDir, f)), f).toBe(true);
    }
  }, 240_000);

  it('fails as an infrastructure error (exit 3) naming the fix when Chromium is missing', async () => {
    const r = await run(['run', 'scenarios/user-journey.yaml'], { CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(r.code).toBe(3);
    expect(r.report.scenarios[0].reason).toMatch(
      /Chromium not found at \/nonexistent\/chromium.*CHROMIUM_PATH/,
    );
  }, 240_000);
});

describe('the rollout scenario measures how long users got a worse model (quality SLOs)', () => {
  // The skewed model answers 200 OK with the same ranking (AUC) but flags most traffic: only the
  // runbook's quality.precision SLO can see it, so only it can make `mttr <= runbook` fail.
  it('with rollback, mttr <= runbook passes after a quality breach, and the report charts quality', async () => {
    const r = await run(['run', 'scenarios/bad-model-rollout.yaml']);
    const s = r.report.scenarios[0];
    const steady = s.steadyState.filter((c) => !c.passed).map((c) => `${c.check}: ${c.explanation}`);
    expect({ verdict: s.verdict, reason: s.reason, steady, failed: failedChecks(r.report) }).toEqual({
      verdict: 'passed',
      reason: undefined,
      steady: [],
      failed: [],
    });
    expect(r.code).toBe(0);
    const mttr = s.checks.find((c) => c.check === 'mttr <= runbook')!;
    expect(mttr.explanation).toMatch(/after their last violation \([^)]*quality\.precision/);
    expect(mttr.explanation).toMatch(/resolution ± \d+ ms/);
    expect(s.measurements.mttrMs).toBeGreaterThan(0);
    // Quality windows (label-count sized): a low-precision one while the skewed model served.
    expect(s.quality!.length).toBeGreaterThan(5);
    expect(Math.min(...s.quality!.map((q) => q.precision ?? 1))).toBeLessThan(0.4);
    expect(s.quality!.at(-1)!.precision).toBeGreaterThan(0.4);
    expect(fs.readFileSync(path.join(r.reportDir, 'index.html'), 'utf8')).toContain('data-chart="quality"');
  }, 240_000);

  it('with --disable rollback, mttr <= runbook fails on quality (exit 1)', async () => {
    const r = await run(['run', 'scenarios/bad-model-rollout.yaml', '--disable', 'rollback']);
    expect(r.code).toBe(1);
    expect(failedChecks(r.report)).toContain('mttr <= runbook');
    const s = r.report.scenarios[0];
    // Every request still succeeded: the breach is on quality alone.
    expect(s.checks.find((c) => c.check === 'availability >= 99% during fault')?.passed).toBe(true);
    const mttr = s.checks.find((c) => c.check === 'mttr <= runbook')!;
    expect(mttr.measured).toBeNull();
    expect(mttr.explanation).toMatch(/not recovered.*last violation \([^)]*quality\.precision/);
    expect(mttr.explanation).not.toMatch(/last violation \([^)]*(availability|error_rate)/);
    expect(r.stdout).toContain('✗ mttr <= runbook');
  }, 240_000);
});

describe('each scenario fails, naming the right check, with its mechanism switched off', () => {
  const cases: [scenario: string, disable: string, check: string][] = [
    ['pod-kill', 'restart', 'mitigation.observed == true'],
    ['pod-kill', 'retries', 'retries.total > 0 during fault'],
    ['feature-corruption', 'fallback', 'availability >= 99.5% during fault'],
    ['latency', 'breaker', 'latency.p90 <= 150ms during fault'],
    ['bad-model-rollout', 'rollback', 'rollback.time <= runbook'],
  ];
  for (const [scenario, disable, check] of cases) {
    it(`${scenario} with --disable ${disable} fails "${check}" (exit 1)`, async () => {
      const r = await run(['run', `scenarios/${scenario}.yaml`, '--disable', disable]);
      expect(r.code).toBe(1);
      expect(failedChecks(r.report)).toContain(check);
      expect(r.stdout).toContain(`✗ ${check}`);
    }, 240_000);
  }

  it('feature-store-outage with --disable fallback fails "availability >= 99% during fault"; the abort condition halts the run and reverts every fault within 2 s', async () => {
    // Without the fallback, a feature-store outage fails every request: `error_rate > 50% for 5s` aborts.
    const r = await run(['run', 'scenarios/feature-store-outage.yaml', '--disable', 'fallback']);
    const s = r.report.scenarios[0];
    expect(r.code).toBe(1);
    expect(s.verdict).toBe('aborted');
    expect(s.reason).toMatch(/abort condition met: error_rate > 50% for 5s/);
    expect(failedChecks(r.report)).toContain('availability >= 99% during fault');
    expect(r.stdout).toContain('✗ availability >= 99% during fault');
    const journal = readJournal(path.join(r.reportDir, s.journal));
    const abortedAt = journal.find((e) => e.type === 'run.interrupted')!.ts_ms;
    const reverted = journal.filter((e) => e.type === 'fault.reverted');
    expect(reverted).toHaveLength(s.faults.length);
    expect(Math.max(...reverted.map((e) => e.ts_ms)) - abortedAt).toBeLessThan(2000);
  }, 240_000);
});
