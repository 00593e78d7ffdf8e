// The runbook alert export as Prometheus sees it: `promtool check rules` and `promtool test rules`
// with the unit tests in test/fixtures/alert-tests.yml (a firing and a quiet case per alert).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type CliIO, runRunbooksExport } from '../src/cli/commands/validate.ts';

const ROOT = join(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'faultline-alert-tests-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const quiet: CliIO = { out: () => {}, err: () => {} };

function promtool(args: string[], cwd: string) {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  // CI installs promtool (Debian `prometheus`); missing is a failure, not a skip.
  if (r.error) throw new Error(`promtool: ${r.error.message} (apt-get install -y prometheus)`);
  return r;
}

interface RuleTest {
  name: string;
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
}

describe('runbook alert rules under promtool', () => {
  it('pass check rules and a unit test per alert (one that fires, one that must not)', async () => {
    const rules = join(tmp, 'rules.yml');
    // Links as `runbooks/<id>.md`, the form the fixture's expected annotations use.
    expect(
      await runRunbooksExport(join(ROOT, 'runbooks'), {
        io: quiet,
        output: rules,
        runbookBaseUrl: 'runbooks',
      }),
    ).toBe(0);
    copyFileSync(join(ROOT, 'test/fixtures/alert-tests.yml'), join(tmp, 'alert-tests.yml'));

    const check = promtool(['check', 'rules', 'rules.yml'], tmp);
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);

    const unit = promtool(['test', 'rules', 'alert-tests.yml'], tmp);
    expect(`${unit.stdout}${unit.stderr}`).toContain('SUCCESS');
    expect(unit.status, unit.stdout + unit.stderr).toBe(0);

    // Coverage: every exported alert has a firing case and a quiet case.
    const alerts: string[] = parse(readFileSync(rules, 'utf8')).groups.flatMap(
      (g: { rules: { alert: string }[] }) => g.rules.map((r) => r.alert),
    );
    expect(alerts.length).toBeGreaterThanOrEqual(6);
    const cases = (parse(readFileSync(join(tmp, 'alert-tests.yml'), 'utf8')).tests as RuleTest[]).flatMap(
      (t) => t.alert_rule_test ?? [],
    );
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${alert}: a case where it fires`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${alert}: a case where it must not`,
      ).toBe(true);
    }
  });

  it('fail when an alert expression stops matching what the pipeline exposes', async () => {
    // The unit tests mean something: the restart case fails on the old, unprefixed metric name.
    const dir = mkdtempSync(join(tmp, 'broken-'));
    expect(
      await runRunbooksExport(join(ROOT, 'runbooks'), {
        io: quiet,
        output: join(dir, 'rules.yml'),
        runbookBaseUrl: 'runbooks',
      }),
    ).toBe(0);
    const rules = readFileSync(join(dir, 'rules.yml'), 'utf8');
    expect(rules).toContain('model_server_process_start_time_seconds');
    writeFileSync(
      join(dir, 'rules.yml'),
      rules.replace('model_server_process_start_time_seconds', 'process_start_time_seconds'),
    );
    copyFileSync(join(ROOT, 'test/fixtures/alert-tests.yml'), join(dir, 'alert-tests.yml'));
    const unit = promtool(['test', 'rules', 'alert-tests.yml'], dir);
    expect(unit.status).not.toBe(0);
    expect(unit.stdout + unit.stderr).toContain('ModelServerReplicaDown fires after a replica restarted');
  });
});
