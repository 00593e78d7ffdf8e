import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
  return { ...r, report: readReport(reportDir) };
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
    const browser = s.checks.find((c) => c.check === 'browser.success >= 95% during fault');
    expect(browser?.measured).toBeGreaterThanOrEqual(0.95);
  }, 240_000);

  it('fails as an infrastructure error (exit 3) naming the fix when Chromium is missing', async () => {
    const r = await run(['run', 'scenarios/user-journey.yaml'], { CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(r.code).toBe(3);
    expect(r.report.scenarios[0].reason).toMatch(
      /Chromium not found at \/nonexistent\/chromium.*CHROMIUM_PATH/,
    );
  }, 240_000);
});

describe('each scenario fails, naming the right check, with its mechanism switched off', () => {
  const cases: [scenario: string, disable: string, check: string][] = [
    ['pod-kill', 'restart', 'mitigation.observed == true'],
    ['pod-kill', 'retries', 'retries.total > 0 during fault'],
    ['feature-corruption', 'fallback', 'availability >= 99.5% during fault'],
    ['feature-store-outage', 'fallback', 'availability >= 99% during fault'],
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
});
