// `faultline report <run-dir>` (re-render every artifact from report.json), `faultline report trend`
// (the history across runs) and `faultline report schema` (the published JSON Schema). Each returns an
// exit code: 0 done, 2 invalid input (the message names the file and what is wrong), 3 infrastructure
// (e.g. Chromium missing for the PDF).
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { historyPath, parseSince, readHistory } from '../../report/history.ts';
import { ReportInputError } from '../../report/json.ts';
import { reportJsonSchemaText } from '../../report/schema.ts';
import { renderTrend } from '../../report/trend.ts';
import { regenerate } from '../../report/write.ts';
import { EXIT } from '../exit.ts';

export interface CommandIo {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export interface ReportCommandOptions extends CommandIo {
  /** Also render report.pdf (Chromium). */
  pdf?: boolean;
  /** Record the run in this history database (or FAULTLINE_HISTORY / default when `true`). */
  history?: string | boolean;
}

function fail(io: CommandIo, e: unknown): number {
  const err = io.stderr ?? process.stderr;
  if (e instanceof ReportInputError) {
    err.write(`error: ${e.message}\n`);
    return EXIT.invalidInput;
  }
  err.write(`error: ${(e as Error).message ?? e}\n`);
  return EXIT.infra;
}

export async function runReport(runDir: string, opts: ReportCommandOptions = {}): Promise<number> {
  const out = opts.stdout ?? process.stdout;
  const dir = resolve(runDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    return fail(
      opts,
      new ReportInputError(
        runDir,
        ['no such run directory (expected a folder containing report.json)'],
        'cannot be used',
      ),
    );
  }
  try {
    const history =
      opts.history === true
        ? historyPath()
        : typeof opts.history === 'string'
          ? historyPath(opts.history)
          : undefined;
    const written = await regenerate(dir, { pdf: opts.pdf, history });
    for (const f of Object.values(written.files)) out.write(`wrote ${f}\n`);
    if (history) out.write(`recorded in ${history}\n`);
    return EXIT.ok;
  } catch (e) {
    return fail(opts, e);
  }
}

export interface TrendCommandOptions extends CommandIo {
  /** `90d`, `12w`, `6mo`, `2q`, `1y` or a date; default: everything recorded. */
  since?: string;
  /** Output HTML file; default trend.html beside the history database. */
  out?: string;
  history?: string;
  now?: number;
}

export async function runTrend(opts: TrendCommandOptions = {}): Promise<number> {
  const out = opts.stdout ?? process.stdout;
  const file = historyPath(opts.history);
  let sinceMs: number | undefined;
  if (opts.since !== undefined) {
    try {
      sinceMs = parseSince(opts.since, opts.now);
    } catch (e) {
      (opts.stderr ?? process.stderr).write(`error: ${(e as Error).message}\n`);
      return EXIT.invalidInput;
    }
  }
  try {
    const rows = readHistory(file, { sinceMs });
    const target = resolve(opts.out ?? join(dirname(file), 'trend.html'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, renderTrend(rows, { since: opts.since, historyFile: file, now: opts.now }));
    out.write(`wrote ${target} (${rows.length} scenario runs)\n`);
    return EXIT.ok;
  } catch (e) {
    return fail(opts, e);
  }
}

/** Prints (or writes) the JSON Schema of report.json. */
export async function runReportSchema(opts: CommandIo & { out?: string } = {}): Promise<number> {
  if (opts.out) writeFileSync(opts.out, reportJsonSchemaText());
  else (opts.stdout ?? process.stdout).write(reportJsonSchemaText());
  return EXIT.ok;
}
