// The run history: every scenario run of every faultline run, in one SQLite file (node:sqlite, no native
// addon), so the trend across game days — did MTTR improve this quarter? — can be drawn from it.
// Appending the same run again replaces its rows (regenerating a report never double-counts).
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ReportInputError } from './json.ts';
import type { RunReport, Verdict } from './model.ts';

export const DEFAULT_HISTORY = '.faultline/history.db';
// 2: mttr_breached (a run that never breached its SLOs has no MTTR, not an MTTR of 0).
const SCHEMA_VERSION = 2;

/** --history, else FAULTLINE_HISTORY, else .faultline/history.db (relative to the working directory). */
export function historyPath(explicit?: string): string {
  return resolve(explicit || process.env.FAULTLINE_HISTORY || DEFAULT_HISTORY);
}

export interface HistoryCheck {
  check: string;
  steady: boolean;
  phase: string;
  passed: boolean;
  measured: number | null;
  target: number | null;
}

export interface HistoryRow {
  runId: string;
  runName: string;
  platform: string;
  /** Scenario start, epoch ms. */
  t: number;
  scenario: string;
  verdict: Verdict;
  mttdMs: number | null;
  /** null when not recovered, or when no SLO was breached (then mttrBreached is false). */
  mttrMs: number | null;
  /** false: "no SLO breach" (kept out of MTTR medians); null: unknown (no MTTR measured, or recorded before v2). */
  mttrBreached: boolean | null;
  mttdTargetMs: number | null;
  mttrTargetMs: number | null;
  runbook: string | null;
  checksTotal: number;
  checksFailed: number;
  checks: HistoryCheck[];
}

function open(file: string, create: boolean): DatabaseSync {
  if (create) mkdirSync(dirname(file), { recursive: true });
  else if (!existsSync(file)) {
    throw new ReportInputError(
      file,
      ['no such file: no run has been recorded there yet (faultline run and gameday record each run)'],
      'cannot be read',
    );
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file, { open: true, readOnly: !create });
    db.exec('PRAGMA busy_timeout = 5000');
    const { user_version: v } = db.prepare('PRAGMA user_version').get() as { user_version: number };
    if (v > SCHEMA_VERSION) {
      db.close();
      throw new ReportInputError(
        file,
        [`history schema version ${v} is newer than this faultline reads (${SCHEMA_VERSION})`],
        'cannot be used',
      );
    }
    if (create && v < SCHEMA_VERSION) migrate(db);
  } catch (e) {
    if (e instanceof ReportInputError) throw e;
    throw new ReportInputError(file, [(e as Error).message], 'is not a usable faultline history database');
  }
  return db;
}

function migrate(db: DatabaseSync): void {
  const hasRuns = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'scenario_runs'")
    .get();
  const cols = hasRuns ? (db.prepare('PRAGMA table_info(scenario_runs)').all() as { name: string }[]) : [];
  if (hasRuns && !cols.some((c) => c.name === 'mttr_breached'))
    db.exec('ALTER TABLE scenario_runs ADD COLUMN mttr_breached INTEGER');
  db.exec(`
    CREATE TABLE IF NOT EXISTS scenario_runs (
      run_id TEXT NOT NULL,
      run_name TEXT NOT NULL,
      platform TEXT NOT NULL,
      t INTEGER NOT NULL,
      scenario TEXT NOT NULL,
      verdict TEXT NOT NULL,
      mttd_ms REAL,
      mttr_ms REAL,
      mttd_target_ms REAL,
      mttr_target_ms REAL,
      runbook TEXT,
      mttr_breached INTEGER,
      checks_total INTEGER NOT NULL,
      checks_failed INTEGER NOT NULL,
      PRIMARY KEY (run_id, scenario)
    );
    CREATE INDEX IF NOT EXISTS scenario_runs_t ON scenario_runs (t);
    CREATE TABLE IF NOT EXISTS check_results (
      run_id TEXT NOT NULL,
      scenario TEXT NOT NULL,
      idx INTEGER NOT NULL,
      check_expr TEXT NOT NULL,
      steady INTEGER NOT NULL,
      phase TEXT NOT NULL,
      passed INTEGER NOT NULL,
      measured REAL,
      target REAL,
      PRIMARY KEY (run_id, scenario, idx)
    );
    PRAGMA user_version = ${SCHEMA_VERSION};
  `);
}

/** Records every scenario of a run (replacing an earlier record of the same run id). */
export function appendRun(file: string, report: RunReport): void {
  const db = open(file, true);
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.prepare('DELETE FROM scenario_runs WHERE run_id = ?').run(report.run.id);
      db.prepare('DELETE FROM check_results WHERE run_id = ?').run(report.run.id);
      const insRun = db.prepare(
        'INSERT INTO scenario_runs (run_id, run_name, platform, t, scenario, verdict, mttd_ms, mttr_ms, mttd_target_ms, mttr_target_ms, runbook, checks_total, checks_failed, mttr_breached) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      const insCheck = db.prepare(
        'INSERT INTO check_results (run_id, scenario, idx, check_expr, steady, phase, passed, measured, target) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const s of report.scenarios) {
        const all = [
          ...s.steadyState.map((c) => ({ c, steady: 1 })),
          ...s.checks.map((c) => ({ c, steady: 0 })),
        ];
        insRun.run(
          report.run.id,
          report.run.name,
          report.run.platform,
          s.startedAt,
          s.name,
          s.verdict,
          s.measurements.mttdMs,
          s.measurements.mttrMs,
          s.runbook?.detection.withinMs ?? null,
          s.runbook?.mttrTargetMs ?? null,
          s.runbook?.id ?? null,
          all.length,
          all.filter((x) => !x.c.passed).length,
          s.measurements.mttr ? (s.measurements.mttr.breached ? 1 : 0) : null,
        );
        all.forEach(({ c, steady }, i) => {
          insCheck.run(
            report.run.id,
            s.name,
            i,
            c.check,
            steady,
            c.phase,
            c.passed ? 1 : 0,
            c.measured,
            c.target,
          );
        });
      }
      db.exec('COMMIT');
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
  } finally {
    db.close();
  }
}

/** Scenario runs since `sinceMs` (epoch ms), oldest first, each with its per-check results. */
export function readHistory(file: string, opts: { sinceMs?: number } = {}): HistoryRow[] {
  const db = open(file, false);
  try {
    const rows = db
      .prepare('SELECT * FROM scenario_runs WHERE t >= ? ORDER BY t, scenario')
      .all(opts.sinceMs ?? Number.MIN_SAFE_INTEGER) as Record<string, string | number | null>[];
    const checks = db.prepare('SELECT * FROM check_results WHERE run_id = ? AND scenario = ? ORDER BY idx');
    return rows.map((r) => ({
      runId: String(r.run_id),
      runName: String(r.run_name),
      platform: String(r.platform),
      t: Number(r.t),
      scenario: String(r.scenario),
      verdict: r.verdict as Verdict,
      mttdMs: r.mttd_ms as number | null,
      mttrMs: r.mttr_ms as number | null,
      mttrBreached: r.mttr_breached === null || r.mttr_breached === undefined ? null : r.mttr_breached === 1,
      mttdTargetMs: r.mttd_target_ms as number | null,
      mttrTargetMs: r.mttr_target_ms as number | null,
      runbook: r.runbook as string | null,
      checksTotal: Number(r.checks_total),
      checksFailed: Number(r.checks_failed),
      checks: (checks.all(r.run_id, r.scenario) as Record<string, string | number | null>[]).map((c) => ({
        check: String(c.check_expr),
        steady: c.steady === 1,
        phase: String(c.phase),
        passed: c.passed === 1,
        measured: c.measured as number | null,
        target: c.target as number | null,
      })),
    }));
  } finally {
    db.close();
  }
}

const SINCE_UNITS: Record<string, number> = {
  d: 86_400_000,
  w: 7 * 86_400_000,
  mo: 30.4375 * 86_400_000,
  q: 91.3125 * 86_400_000,
  y: 365.25 * 86_400_000,
};

/** `--since`: `90d`, `12w`, `6mo`, `2q`, `1y`, or an ISO date. Returns epoch ms, or throws naming the problem. */
export function parseSince(since: string, now = Date.now()): number {
  const m = /^(\d+(?:\.\d+)?)(d|w|mo|q|y)$/.exec(since.trim());
  if (m) return now - Number(m[1]) * SINCE_UNITS[m[2]];
  if (/^\d{4}-\d{2}(-\d{2})?/.test(since)) {
    const t = Date.parse(since);
    if (Number.isFinite(t)) return t;
  }
  throw new Error(
    `--since: expected a period like 90d, 12w, 6mo, 2q or 1y, or a date like 2025-01-01, found ${JSON.stringify(since)}`,
  );
}
