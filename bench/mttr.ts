// Benchmark: does MTTR track the real outage? Runs bench/scenarios/pod-kill-all.yaml (every
// model-server replica SIGKILLed at once) several times through the real CLI and compares, per run,
// the reported MTTR (± its resolution) with the outage read directly from the request records: the
// time from the first to the last failed request (by intended send time). Goal (issue 9): within
// 100 ms on every run.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJournal } from '../src/journal/journal.ts';
import type { RequestRecord } from '../src/load/driver.ts';
import { readReport } from '../src/report/json.ts';
import { log } from './lib.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCENARIO = path.join(ROOT, 'bench', 'scenarios', 'pod-kill-all.yaml');

export interface MttrRun {
  run: number;
  verdict: string;
  /** First → last failed request (intended times), ms; null when nothing failed. */
  outageMs: number | null;
  failed: number;
  /** Fault start → first failed request's intended time (negative: in flight at the kill). */
  firstFailedFromT0Ms: number | null;
  mttrMs: number | null;
  resolutionMs: number | null;
  breached: boolean | null;
  /** mttrMs − outageMs. */
  diffMs: number | null;
  withinGoal: boolean;
  mttrCheck?: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(ROOT, 'src', 'cli', 'main.ts'), ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    p.on('error', reject);
    p.on('exit', (code) => resolve(code ?? -1));
  });
}

export async function benchMttr(o: {
  runs: number;
  goalMs: number;
}): Promise<{ runs: MttrRun[]; goalMs: number }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-mttr-'));
  // Keep the bench out of the user's run history.
  const env = { ...process.env, FAULTLINE_HISTORY: path.join(tmp, 'history.db') };
  const runs: MttrRun[] = [];
  try {
    for (let i = 1; i <= o.runs; i++) {
      const dir = path.join(tmp, `run${i}`);
      const code = await runCli(
        ['run', SCENARIO, '--runbooks', path.join(ROOT, 'runbooks'), '--quiet', '--report-dir', dir],
        env,
      );
      const report = readReport(path.join(dir, 'report.json'));
      const s = report.scenarios[0];
      const t0 = s.faults.map((f) => f.injectedAt).find((t) => t !== undefined);
      const records = readJournal(path.join(dir, s.journal))
        .filter((e) => e.type === 'request')
        .map((e) => (e as unknown as { r: RequestRecord }).r);
      // Failed requests the fault caused: those intended after t0 or still in flight at it.
      const failed = records
        .filter((r) => r.outcome !== 'ok' && t0 !== undefined && (r.tIntended >= t0 || r.tDone > t0))
        .sort((a, b) => a.tIntended - b.tIntended);
      const outageMs = failed.length ? failed.at(-1)!.tIntended - failed[0].tIntended : null;
      const m = s.measurements;
      const diffMs = outageMs !== null && m.mttrMs !== null ? m.mttrMs - outageMs : null;
      const run: MttrRun = {
        run: i,
        verdict: `${s.verdict} (exit ${code})`,
        outageMs,
        failed: failed.length,
        firstFailedFromT0Ms: failed.length && t0 !== undefined ? failed[0].tIntended - t0 : null,
        mttrMs: m.mttrMs,
        resolutionMs: m.mttr?.resolutionMs ?? null,
        breached: m.mttr?.breached ?? null,
        diffMs,
        withinGoal: diffMs !== null && Math.abs(diffMs) <= o.goalMs,
        mttrCheck: s.checks.find((c) => c.metric === 'mttr')?.measuredText,
      };
      runs.push(run);
      log(
        `mttr run ${i}/${o.runs}: outage ${outageMs?.toFixed(1)} ms (${failed.length} failed), MTTR ${m.mttrMs?.toFixed(1)} ± ${run.resolutionMs?.toFixed(1)} ms, diff ${diffMs?.toFixed(1)} ms, ${s.verdict}`,
      );
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { runs, goalMs: o.goalMs };
}
