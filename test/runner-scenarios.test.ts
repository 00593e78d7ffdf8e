import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { failedChecks, readReport, runCli, tempHome } from './helpers/cli.ts';

// The shipped scenarios, both directions: the game day passes on the reference pipeline, and each
// scenario fails — naming the right check — when the mechanism it tests is switched off.

const homes: string[] = [];
afterAll(async () => {
  for (const home of homes) await runCli(['cleanup', '--all'], { home });
});

async function run(args: string[]) {
  const home = tempHome();
  homes.push(home);
  const reportDir = path.join(home, 'report');
  const r = await runCli([...args, '--report-dir', reportDir, '--quiet'], { home });
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

describe('each scenario fails, naming the right check, with its mechanism switched off', () => {
  const cases: [scenario: string, disable: string, check: string][] = [
    ['pod-kill', 'restart', 'mitigation.observed == true'],
    ['pod-kill', 'retries', 'availability >= 99.5% during fault'],
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
