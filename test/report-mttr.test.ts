// "Never breached" is not "MTTR 0", and MTTR carries its resolution, in every report artifact and in
// the trend page (issue 9).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { appendRun, readHistory } from '../src/report/history.ts';
import { renderHtml } from '../src/report/html.ts';
import { parseReport } from '../src/report/json.ts';
import { renderJunit } from '../src/report/junit.ts';
import type { RunReport } from '../src/report/model.ts';
import { renderSummary } from '../src/report/summary.ts';
import { renderTrend } from '../src/report/trend.ts';
import { sampleReport } from './helpers/sample-report.ts';

const dir = mkdtempSync(join(tmpdir(), 'faultline-report-mttr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The sample game day with scenario 0 never breaching its SLOs and scenario 1 recovering ± 10 ms. */
function report(id = 'mttr-run', start?: number): RunReport {
  const r = structuredClone(sampleReport({ id, scenarios: 3, allPass: true, ...(start ? { start } : {}) }));
  const [a, b] = r.scenarios;
  a.measurements.mttrMs = null;
  a.measurements.recoveredAt = undefined;
  a.measurements.mttr = {
    recovered: true,
    breached: false,
    sloSource: 'runbook',
    slos: ['availability >= 99%'],
  };
  b.measurements.mttrMs = 1043.125;
  b.measurements.mttr = {
    recovered: true,
    breached: true,
    resolutionMs: 10,
    sloSource: 'runbook',
    slos: ['availability >= 99%'],
  };
  return r;
}

describe('MTTR in the report artifacts', () => {
  const r = report();
  const a = r.scenarios[0];

  it('report.json carries breached and the resolution, and the schema checks them', () => {
    const back = parseReport(JSON.parse(JSON.stringify(r)));
    expect(back.scenarios[0].measurements.mttr).toEqual(a.measurements.mttr);
    expect(back.scenarios[1].measurements.mttr?.resolutionMs).toBe(10);
    const bad = JSON.parse(JSON.stringify(r));
    bad.scenarios[0].measurements.mttr.breached = 'no';
    expect(() => parseReport(bad)).toThrow(/breached/);
  });

  it('summary.md says "no SLO breach", never "0 ms", and shows ± resolution', () => {
    const md = renderSummary(r);
    expect(md).toContain(`| ${a.name} | PASSED |`);
    expect(md).toMatch(/- \*\*MTTR:\*\* no SLO breach \(target [\d.]+ s, met\)/);
    expect(md).toMatch(/- \*\*MTTR:\*\* 1.04 s ± 10 ms \(target [\d.]+ s, met\)/);
    expect(md).not.toMatch(/MTTR:\*\* 0 ms/);
  });

  it('junit.xml names the breach state and prints the resolution', () => {
    const xml = renderJunit(r);
    expect(xml).toContain('<property name="mttr" value="no SLO breach"/>');
    expect(xml).toContain('<property name="mttr.breached" value="false"/>');
    expect(xml).toContain('<property name="mttr" value="1.04 s ± 10 ms"/>');
    expect(xml).toContain('MTTR no SLO breach');
  });

  it('index.html shows "no SLO breach" in the KPI, the sentence and the overview table', () => {
    const html = renderHtml(r);
    expect(html).toContain('<div class="value">no SLO breach</div>');
    expect(html).toContain('no SLO was breached');
    expect(html).toMatch(/<td class="num">no SLO breach<\/td>/);
    expect(html).toContain('1.04 s ± 10 ms');
  });
});

describe('MTTR in the run history and trend', () => {
  it('keeps never-breached runs out of the MTTR median and counts them separately', () => {
    const db = join(dir, 'h.db');
    const q1 = report('q1', Date.UTC(2025, 1, 12, 9));
    const q2 = report('q2', Date.UTC(2025, 4, 12, 9));
    // In q2 the first scenario did breach: 20 s.
    q2.scenarios[0].measurements.mttrMs = 20_000;
    q2.scenarios[0].measurements.mttr = { ...q2.scenarios[0].measurements.mttr!, breached: true };
    appendRun(db, q1);
    appendRun(db, q2);
    const rows = readHistory(db).filter((x) => x.scenario === q1.scenarios[0].name);
    expect(rows.map((x) => [x.runId, x.mttrMs, x.mttrBreached])).toEqual([
      ['q1', null, false],
      ['q2', 20_000, true],
    ]);
    const html = renderTrend(readHistory(db), { now: Date.UTC(2025, 9, 1) });
    // Median over the one breached run only (not 0 and 20 s → 10 s); the other run counted apart.
    expect(html).toContain('median MTTR 20.0 s');
    expect(html).toContain('1 run with no SLO breach, not counted in the MTTR median');
    expect(html).toMatch(/<td class="num">no SLO breach<\/td>/);
  });

  it('migrates a version-1 history (no mttr_breached column) in place', () => {
    const db = join(dir, 'v1.db');
    const old = new DatabaseSync(db);
    old.exec(`CREATE TABLE scenario_runs (run_id TEXT NOT NULL, run_name TEXT NOT NULL, platform TEXT NOT NULL,
      t INTEGER NOT NULL, scenario TEXT NOT NULL, verdict TEXT NOT NULL, mttd_ms REAL, mttr_ms REAL,
      mttd_target_ms REAL, mttr_target_ms REAL, runbook TEXT, checks_total INTEGER NOT NULL,
      checks_failed INTEGER NOT NULL, PRIMARY KEY (run_id, scenario));
    CREATE TABLE check_results (run_id TEXT NOT NULL, scenario TEXT NOT NULL, idx INTEGER NOT NULL,
      check_expr TEXT NOT NULL, steady INTEGER NOT NULL, phase TEXT NOT NULL, passed INTEGER NOT NULL,
      measured REAL, target REAL, PRIMARY KEY (run_id, scenario, idx));
    INSERT INTO scenario_runs VALUES ('old', 'old', 'local', 1, 's', 'passed', 1, 2, 3, 4, NULL, 0, 0);
    PRAGMA user_version = 1;`);
    old.close();
    appendRun(db, report('new'));
    const rows = readHistory(db);
    expect(rows.find((x) => x.runId === 'old')).toMatchObject({ mttrMs: 2, mttrBreached: null });
    expect(rows.find((x) => x.runId === 'new' && x.mttrMs === null)?.mttrBreached).toBe(false);
  });
});
