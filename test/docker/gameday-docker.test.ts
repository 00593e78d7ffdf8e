// The game day on the docker platform, both directions, as test/runner-scenarios.test.ts asserts them
// on local: every shipped scenario passes, and each one fails, naming the same check, with its
// mechanism switched off.
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { failedChecks, readReport, runCli, tempHome } from '../helpers/cli.ts';
import { describeDocker } from './support.ts';

const homes: string[] = [];
afterAll(async () => {
  for (const home of homes) await runCli(['cleanup', '--all'], { home });
});

async function run(args: string[]) {
  const home = tempHome('faultline-docker-');
  homes.push(home);
  const reportDir = path.join(home, 'report');
  const r = await runCli([...args, '--platform', 'docker', '--report-dir', reportDir, '--quiet'], { home });
  return { ...r, reportDir, report: readReport(reportDir) };
}

describeDocker('the game day on docker', () => {
  it('passes every shipped scenario (exit 0)', async () => {
    const r = await run(['gameday', 'scenarios/game-day.yaml']);
    const summary = r.report.scenarios.map(
      (s) => `${s.name}: ${s.verdict} ${failedChecks({ ...r.report, scenarios: [s] }).join(', ')}`,
    );
    expect(r.code, summary.join('\n')).toBe(0);
    expect(r.report.scenarios).toHaveLength(6);
    expect(r.report.scenarios.every((s) => s.verdict === 'passed')).toBe(true);
  }, 900_000);

  // The same cases as on local (test/runner-scenarios.test.ts).
  const cases: [scenario: string, disable: string, check: string][] = [
    ['pod-kill', 'restart', 'mitigation.observed == true'],
    ['pod-kill', 'retries', 'retries.total > 0 during fault'],
    ['feature-corruption', 'fallback', 'availability >= 99.5% during fault'],
    ['latency', 'breaker', 'latency.p90 <= 150ms during fault'],
    ['bad-model-rollout', 'rollback', 'rollback.time <= runbook'],
    ['feature-store-outage', 'fallback', 'availability >= 99% during fault'],
  ];
  for (const [scenario, disable, check] of cases) {
    it(`${scenario} with --disable ${disable} fails "${check}" (exit 1)`, async () => {
      const r = await run(['run', `scenarios/${scenario}.yaml`, '--disable', disable]);
      expect(r.code, r.stdout).toBe(1);
      expect(failedChecks(r.report)).toContain(check);
    }, 300_000);
  }
});
