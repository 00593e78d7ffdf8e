// One folder per run: report.json, junit.xml, summary.md, index.html and (optionally) report.pdf, all
// rendered from the RunReport. `regenerate` re-renders everything but report.json from report.json alone.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserOptions } from './browser.ts';
import { renderPdf } from './browser.ts';
import { appendRun, historyPath } from './history.ts';
import { renderHtml } from './html.ts';
import { parseReport, readReport, writeReportJson } from './json.ts';
import { renderJunit } from './junit.ts';
import type { RunReport } from './model.ts';
import { renderSummary } from './summary.ts';

export const REPORT_FILES = {
  json: 'report.json',
  junit: 'junit.xml',
  summary: 'summary.md',
  html: 'index.html',
  pdf: 'report.pdf',
} as const;

export interface WriteOptions extends BrowserOptions {
  /** Render report.pdf with Chromium (slower; needs /usr/bin/chromium or CHROMIUM_PATH). */
  pdf?: boolean;
  /** Append the run to this history database (see history.ts); false or absent: do not record. */
  history?: string | false;
  /** Write report.json too (default true; regenerate leaves the original untouched). */
  json?: boolean;
}

export interface WrittenReports {
  dir: string;
  files: Partial<Record<keyof typeof REPORT_FILES, string>>;
  /** Milliseconds spent per artifact. */
  timings: Record<string, number>;
}

/** Write-then-rename, so a crash mid-write never leaves a truncated artifact in the archive. */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export async function writeReports(
  runDir: string,
  report: RunReport,
  opts: WriteOptions = {},
): Promise<WrittenReports> {
  // Refuse to render a report that would not read back: the archive must be regenerable.
  parseReport(report, join(runDir, REPORT_FILES.json));
  mkdirSync(runDir, { recursive: true });
  const out: WrittenReports = { dir: runDir, files: {}, timings: {} };
  const step = async (name: keyof typeof REPORT_FILES, fn: (file: string) => void | Promise<void>) => {
    const file = join(runDir, REPORT_FILES[name]);
    const t = performance.now();
    await fn(file);
    out.timings[name] = performance.now() - t;
    out.files[name] = file;
  };
  if (opts.json !== false) await step('json', (f) => writeReportJson(f, report));
  await step('junit', (f) => writeAtomic(f, renderJunit(report)));
  await step('html', (f) => writeAtomic(f, renderHtml(report)));
  await step('summary', (f) =>
    writeAtomic(
      f,
      renderSummary(report, {
        html: REPORT_FILES.html,
        pdf: opts.pdf ? REPORT_FILES.pdf : undefined,
        junit: REPORT_FILES.junit,
        json: REPORT_FILES.json,
      }),
    ),
  );
  if (opts.pdf) await step('pdf', (f) => renderPdf(join(runDir, REPORT_FILES.html), f, opts));
  if (opts.history) {
    const t = performance.now();
    appendRun(opts.history, report);
    out.timings.history = performance.now() - t;
  }
  return out;
}

/**
 * The runner's entry point: every artifact, and the run recorded in the history database
 * (FAULTLINE_HISTORY or .faultline/history.db unless `history: false`). Returns the files written.
 */
export async function writeRunReport(
  runDir: string,
  report: RunReport,
  opts: WriteOptions = {},
): Promise<string[]> {
  const history = opts.history ?? historyPath();
  const written = await writeReports(runDir, report, { ...opts, history: false });
  if (history) {
    // The run's verdict and artifacts stand even if the history cannot be written: warn, don't fail.
    try {
      appendRun(history, report);
    } catch (e) {
      process.stderr.write(`warning: run not recorded in the history: ${(e as Error).message}\n`);
    }
  }
  return Object.values(written.files);
}

/** `faultline report <run-dir>`: every artifact again from report.json (validated) alone. */
export async function regenerate(
  runDir: string,
  opts: Omit<WriteOptions, 'json'> = {},
): Promise<WrittenReports> {
  const report = readReport(join(runDir, REPORT_FILES.json));
  return writeReports(runDir, report, { ...opts, json: false });
}
