// `faultline validate | schema | list | runbooks lint | runbooks export`: the input-checking commands.
// Each returns the exit code (0 fine, 2 invalid input); output goes through `io` so tests can capture it.
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { exportAlertRules } from '../../runbooks/export.ts';
import { loadRunbook, loadRunbookDir, runbookFiles } from '../../runbooks/load.ts';
import { alertNameOf } from '../../runbooks/schema.ts';
import { formatErrors, sortErrors, type ValidationError } from '../../scenario/diagnostics.ts';
import { jsonSchema } from '../../scenario/json-schema.ts';
import { type Loaded, type LoadedScenario, loadPath, scenarioFiles } from '../../scenario/load.ts';
import { loadDurationMs } from '../../scenario/schedule.ts';
import { formatDuration, formatUnit } from '../../scenario/units.ts';

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: CliIO = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

export interface ValidateOptions {
  /** Runbook directory for scenarios that name a runbook (default: runbooks/ beside the scenarios). */
  runbookDir?: string;
  io?: CliIO;
}

const OK = 0;
const INVALID = 2;
/** Paths under the working directory are shown relative to it, others as given. */
const show = (f: string) => {
  const r = relative(process.cwd(), f);
  return r && !r.startsWith('..') ? r : f;
};

/** Prints each error once, relative paths, sorted. */
function printErrors(io: CliIO, errors: ValidationError[], printed: Set<string>): void {
  const fresh = sortErrors(errors.map((e) => ({ ...e, file: show(e.file) }))).filter((e) => {
    const k = formatErrors([e]);
    if (printed.has(k)) return false;
    printed.add(k);
    return true;
  });
  if (fresh.length) io.err(formatErrors(fresh));
}

/**
 * Validates scenario/suite files or directories (every *.yaml / *.yml) and runbook files (*.md, or a
 * folder holding only runbooks).
 * Prints `✓ file` per valid file and `file:line:col path: message` per error; exit 0 or 2.
 */
export async function runValidate(paths: string[], opts: ValidateOptions = {}): Promise<number> {
  const io = opts.io ?? stdio;
  const targets = paths.length ? paths : ['scenarios'];
  const printed = new Set<string>();
  let failed = false;
  for (const p of targets) {
    if (!existsSync(p)) {
      printErrors(
        io,
        [{ file: p, line: 1, column: 1, path: '', message: 'no such file or directory' }],
        printed,
      );
      failed = true;
      continue;
    }
    let files = p.endsWith('.md') ? [p] : await scenarioFiles(p);
    // A folder of runbooks (no YAML) is validated as runbooks.
    if (files.length === 0 && statSync(p).isDirectory()) files = await runbookFiles(p);
    if (files.length === 0) {
      printErrors(
        io,
        [{ file: p, line: 1, column: 1, path: '', message: 'no *.yaml, *.yml or runbook *.md files here' }],
        printed,
      );
      failed = true;
    }
    for (const f of files) {
      if (f.endsWith('.md')) {
        const r = await loadRunbook(f);
        if (r.ok) io.out(`✓ ${show(f)} (runbook ${r.value.id})`);
        else {
          failed = true;
          printErrors(io, r.errors, printed);
        }
        continue;
      }
      const r = await loadPath(f, { runbookDir: opts.runbookDir });
      if (r.ok) {
        const item = r.value[0];
        io.out(`✓ ${show(f)}${item.kind === 'Suite' ? ` (suite, ${item.scenarios.length} scenarios)` : ''}`);
      } else {
        failed = true;
        printErrors(io, r.errors, printed);
      }
    }
  }
  return failed ? INVALID : OK;
}

/** Prints the JSON Schema of scenario and suite files. */
export async function runSchema(opts: { io?: CliIO } = {}): Promise<number> {
  (opts.io ?? stdio).out(JSON.stringify(jsonSchema(), null, 2));
  return OK;
}

/** Lints every runbook of a directory: `✓ file` per clean runbook, errors otherwise; exit 0 or 2. */
export async function runRunbooksLint(dir = 'runbooks', opts: { io?: CliIO } = {}): Promise<number> {
  const io = opts.io ?? stdio;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    io.err(`${dir}:1:1 not a directory`);
    return INVALID;
  }
  const files = await runbookFiles(dir);
  if (files.length === 0) {
    io.err(`${dir}:1:1 no runbooks (*.md) in this directory`);
    return INVALID;
  }
  const r = await loadRunbookDir(dir);
  const bad = new Set(r.ok ? [] : r.errors.map((e) => e.file));
  for (const f of files) if (!bad.has(f)) io.out(`✓ ${show(f)}`);
  if (!r.ok) printErrors(io, r.errors, new Set());
  return r.ok ? OK : INVALID;
}

export interface ExportCliOptions {
  io?: CliIO;
  /** Write the rule file here instead of stdout. */
  output?: string;
  /** Base URL for the runbook annotation (`<base>/<id>.md`). */
  runbookBaseUrl?: string;
  group?: string;
}

/** Prints (or writes) the Prometheus alerting rules exported from the runbooks; exit 0 or 2. */
export async function runRunbooksExport(dir = 'runbooks', opts: ExportCliOptions = {}): Promise<number> {
  const io = opts.io ?? stdio;
  const r = await loadRunbookDir(dir);
  if (!r.ok) {
    printErrors(io, r.errors, new Set());
    return INVALID;
  }
  const yaml = exportAlertRules(r.value, { runbookBaseUrl: opts.runbookBaseUrl, group: opts.group });
  if (opts.output) {
    await writeFile(opts.output, yaml);
    const n = r.value.filter((rb) => rb.alert).length;
    io.err(`wrote ${n} alert rule${n === 1 ? '' : 's'} to ${opts.output}`);
  } else io.out(yaml);
  return OK;
}

function scenarioRow(s: LoadedScenario): string[] {
  const sc = s.scenario;
  const faults = [...new Set(s.schedule.map((f) => f.fault.type))].join(',') || '-';
  const load = `${formatUnit('rate', sc.spec.load.rate)} × ${formatDuration(loadDurationMs(sc.spec.load))}`;
  return [
    sc.metadata.name,
    show(s.file),
    sc.metadata.runbook ?? '-',
    faults,
    load,
    String(sc.spec.checks.length),
  ];
}

/** Lists the scenarios and suites found under the paths as a table; exit 0, or 2 on invalid input. */
export async function runList(paths: string[], opts: ValidateOptions = {}): Promise<number> {
  const io = opts.io ?? stdio;
  const rows: string[][] = [['NAME', 'FILE', 'RUNBOOK', 'FAULTS', 'LOAD', 'CHECKS']];
  const errors: ValidationError[] = [];
  const items: Loaded[] = [];
  for (const p of paths.length ? paths : ['scenarios']) {
    const r = await loadPath(p, { runbookDir: opts.runbookDir });
    if (r.ok) items.push(...r.value);
    else errors.push(...r.errors);
  }
  for (const it of items) {
    if (it.kind === 'Scenario') rows.push(scenarioRow(it));
    else {
      const total = it.scenarios.reduce((a, s) => a + loadDurationMs(s.scenario.spec.load), 0);
      rows.push([
        it.suite.metadata.name,
        show(it.file),
        '-',
        `suite: ${it.scenarios.length} scenarios`,
        formatDuration(total),
        String(it.scenarios.reduce((a, s) => a + s.scenario.spec.checks.length, 0)),
      ]);
    }
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  if (items.length)
    io.out(
      rows
        .map((r) =>
          r
            .map((v, c) => v.padEnd(widths[c]))
            .join('  ')
            .trimEnd(),
        )
        .join('\n'),
    );
  if (errors.length) printErrors(io, errors, new Set());
  return errors.length ? INVALID : OK;
}

export { alertNameOf };
