// `faultline run <scenario> --load-from k6.json[,…] [--journal journal.ndjson]`: the report of a
// scenario whose load k6 ran elsewhere (src/runner/load-from.ts). No pipeline, no faults.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPORT_SCHEMA_VERSION, type RunReport, type ScenarioReport } from '../../report/model.ts';
import { writeRunReport } from '../../report/write.ts';
import { evaluateK6Output } from '../../runner/load-from.ts';
import { DEFINITIONS, exitCodeOf, resolveRunbook } from '../../runner/suite.ts';
import type { LoadedScenario } from '../../scenario/load.ts';
import { UsageError } from '../exit.ts';
import type { RunFlags } from './run.ts';

export async function evaluateLoadFrom(scenarios: LoadedScenario[], flags: RunFlags): Promise<number> {
  const files = (flags.loadFrom ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  if (files.length === 0) throw new UsageError('--load-from: give k6 JSON output files (comma-separated)');
  for (const f of files) if (!fs.existsSync(f)) throw new UsageError(`--load-from: no such file: ${f}`);
  if (flags.journal !== undefined && !fs.existsSync(flags.journal))
    throw new UsageError(`--journal: no such file: ${flags.journal}`);
  if (scenarios.length !== 1)
    throw new UsageError(
      `--load-from evaluates one scenario (the one k6's load belonged to); got ${scenarios.length}`,
    );
  const s = scenarios[0];
  const name = s.scenario.metadata.name;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const runDir = path.resolve(flags.reportDir ?? path.join('reports', `${stamp}-${name}`));
  fs.mkdirSync(runDir, { recursive: true });
  const startedAt = new Date();
  let report: ScenarioReport;
  try {
    report = await evaluateK6Output(s, {
      files: files.map((f) => path.resolve(f)),
      journal: flags.journal && path.resolve(flags.journal),
      dir: path.join(runDir, 'scenarios', `01-${name}`),
      runDir,
      runbook: s.runbook ? resolveRunbook(s.runbook) : undefined,
    });
  } catch (e) {
    throw new UsageError(`--load-from: ${(e as Error).message}`);
  }
  const run: RunReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    run: {
      id: path.basename(runDir),
      name,
      startedAt: startedAt.toISOString(),
      endedAt: new Date().toISOString(),
      platform: 'recorded (k6 output)',
      seed: s.scenario.spec.load.seed,
      faultlineVersion: '0.1.0',
      host: os.hostname(),
      command: `faultline run ${process.argv.slice(3).join(' ')}`.trim(),
      exitCode: exitCodeOf(report.verdict, [report]),
      verdict: report.verdict,
      disabled: [],
    },
    definitions: DEFINITIONS,
    scenarios: [report],
  };
  const written = await writeRunReport(runDir, run, { pdf: flags.pdf });
  process.stdout.write(`\n${report.verdict.toUpperCase()}: ${name} (load from ${files.join(', ')})\n`);
  for (const c of report.checks.filter((c) => !c.passed))
    process.stdout.write(
      c.status === 'inconclusive'
        ? `      ? ${c.check}: ${c.explanation} (target ${c.op} ${c.targetText})\n`
        : `      ✗ ${c.check}: measured ${c.measuredText}, target ${c.op} ${c.targetText} — ${c.explanation}\n`,
    );
  if (report.reason) process.stdout.write(`      ${report.reason}\n`);
  process.stdout.write(`report: ${written.join(', ')}\n`);
  return run.run.exitCode;
}
