// report.json on disk: written as-is, read back with validation that names the file, the JSON path and
// what is wrong, so a hand-edited or truncated report fails with a message a person can act on.
import { readFileSync, writeFileSync } from 'node:fs';
import type { z } from 'zod';
import { REPORT_SCHEMA_VERSION, type RunReport } from './model.ts';
import { RunReportSchema } from './schema.ts';

/** report.json (or another input) is missing, not JSON, or does not match the schema. */
export class ReportInputError extends Error {
  readonly file: string;
  readonly problems: string[];
  constructor(file: string, problems: string[], summary = 'is not a valid faultline report') {
    super(`${file} ${summary}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ReportInputError';
    this.file = file;
    this.problems = problems;
  }
}

export function writeReportJson(file: string, report: RunReport): void {
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

/** `scenarios[1].timeline[3].p99` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const key = String(seg);
      out += /^[A-Za-z_$][\w$]*$/.test(key) ? `${out ? '.' : ''}${key}` : `[${JSON.stringify(key)}]`;
    }
  }
  return out || '(root)';
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const where = formatPath(issue.path);
  let msg = issue.message.replace(/^Invalid input: /, '');
  if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined)
    msg = `missing (${msg.replace(/, received undefined$/, '')})`;
  else if (issue.code === 'invalid_type' || issue.code === 'invalid_value')
    msg += ` (found ${describe(valueAt(input, issue.path))})`;
  return `${where}: ${msg}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const MAX_PROBLEMS = 20;

/** Validates an already-parsed report; `file` only names the source in errors. */
export function parseReport(data: unknown, file = 'report.json'): RunReport {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ReportInputError(file, [`expected a JSON object at the top level, found ${describe(data)}`]);
  }
  const version = (data as Record<string, unknown>).schemaVersion;
  if (version === undefined)
    throw new ReportInputError(file, ['schemaVersion: missing (is this a faultline report.json?)']);
  if (version !== REPORT_SCHEMA_VERSION) {
    throw new ReportInputError(file, [
      `schemaVersion: this faultline reads schemaVersion ${REPORT_SCHEMA_VERSION}, found ${describe(version)}`,
    ]);
  }
  const r = RunReportSchema.safeParse(data);
  if (r.success) return r.data;
  const problems = r.error.issues.slice(0, MAX_PROBLEMS).map((i) => describeIssue(i, data));
  if (r.error.issues.length > MAX_PROBLEMS)
    problems.push(`... and ${r.error.issues.length - MAX_PROBLEMS} more`);
  throw new ReportInputError(file, problems);
}

/** Reads and validates report.json; throws ReportInputError naming the file and every problem found. */
export function readReport(file: string): RunReport {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ReportInputError(
      file,
      [err.code === 'ENOENT' ? 'no such file' : err.message],
      'cannot be read',
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ReportInputError(file, [`not valid JSON: ${(e as Error).message}`]);
  }
  return parseReport(data, file);
}
