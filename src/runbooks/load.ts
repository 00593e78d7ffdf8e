// Loads and lints runbooks: Markdown with YAML front matter. Errors carry file lines (front matter
// positions are shifted by its opening `---`).
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  getPath,
  type Issue,
  type PositionedDoc,
  parseYaml,
  type Result,
  sortErrors,
  type ValidationError,
  validateDoc,
} from '../scenario/diagnostics.ts';
import { formatDuration, parseDuration } from '../scenario/units.ts';
import {
  alertNameOf,
  REQUIRED_SECTIONS,
  type Runbook,
  RunbookFrontMatter,
  type RunbookSection,
} from './schema.ts';

/** Splits `---\n<yaml>\n---\n<markdown>`; `yamlLine` is the 0-based file line where the YAML starts. */
export function splitFrontMatter(
  text: string,
): { yaml: string; yamlLine: number; body: string; bodyLine: number } | undefined {
  const src = text.replace(/^\uFEFF/, '');
  const lines = src.split(/\r?\n/);
  if (lines[0]?.trim() !== '---') return undefined;
  const end = lines.findIndex((l, i) => i > 0 && (l.trim() === '---' || l.trim() === '...'));
  if (end < 0) return undefined;
  return {
    yaml: lines.slice(1, end).join('\n'),
    yamlLine: 1,
    body: lines.slice(end + 1).join('\n'),
    bodyLine: end + 1,
  };
}

/** H2 headings outside fenced code blocks, with 1-based file lines. */
export function h2Sections(body: string, bodyLine: number): RunbookSection[] {
  const out: RunbookSection[] = [];
  let fence: string | undefined;
  body.split(/\r?\n/).forEach((l, i) => {
    const f = /^\s*(```|~~~)/.exec(l);
    if (f) fence = fence === undefined ? f[1] : fence === f[1] ? undefined : fence;
    else if (fence === undefined) {
      const m = /^##\s+(.+?)\s*#*\s*$/.exec(l);
      if (m) out.push({ title: m[1], line: bodyLine + i + 1 });
    }
  });
  return out;
}

const norm = (s: string) => s.toLowerCase().replace(/[^a-z]/g, '');

function sectionErrors(
  file: string,
  body: string,
  bodyLine: number,
  sections: RunbookSection[],
  lastLine: number,
): ValidationError[] {
  const errors: ValidationError[] = [];
  const lines = body.split(/\r?\n/);
  const err = (line: number, message: string) => errors.push({ file, line, column: 1, path: '', message });
  const found = REQUIRED_SECTIONS.map((t) => sections.find((s) => norm(s.title) === norm(t)));
  REQUIRED_SECTIONS.forEach((title, k) => {
    const s = found[k];
    if (!s) {
      // Point where the section belongs: at the next required section present, else the end of file.
      const next = found.slice(k + 1).find((x) => x !== undefined);
      err(
        next?.line ?? lastLine,
        `missing section "## ${title}"${next ? ` (expected before "## ${next.title}")` : ''}`,
      );
      return;
    }
    const prev = found
      .slice(0, k)
      .reverse()
      .find((x) => x !== undefined);
    if (prev && prev.line > s.line)
      err(
        s.line,
        `section "## ${s.title}" should come after "## ${prev.title}" (order: ${REQUIRED_SECTIONS.join(', ')})`,
      );
    // Its text runs to the next heading of level 1 or 2.
    const start = s.line - bodyLine; // index of the line after the heading
    let end = lines.length;
    for (let i = start; i < lines.length; i++) {
      if (/^#{1,2}\s/.test(lines[i])) {
        end = i;
        break;
      }
    }
    if (lines.slice(start, end).every((l) => l.trim() === ''))
      err(s.line, `section "## ${s.title}" is empty`);
  });
  return errors;
}

function runbookSemantics(file: string) {
  return (raw: unknown): Issue[] => {
    const issues: Issue[] = [];
    const id = getPath(raw, ['id']);
    const want = basename(file).replace(/\.md$/i, '');
    if (typeof id === 'string' && id !== want)
      issues.push({ path: ['id'], message: `id "${id}" must equal the file name without .md ("${want}")` });
    const ms = (p: string[]) => {
      const v = getPath(raw, p);
      if (v === undefined) return undefined;
      const r = parseDuration(v);
      return r.ok ? r.value : undefined;
    };
    const mttr = ms(['mttr_target']);
    const automated = getPath(raw, ['mitigation', 'automated']);
    if (
      automated !== undefined &&
      automated !== 'none' &&
      getPath(raw, ['mitigation', 'within']) === undefined
    ) {
      issues.push({
        path: ['mitigation'],
        message: `missing required field "within" (how soon ${String(automated)} must happen)`,
      });
    }
    for (const p of [
      ['detection', 'within'],
      ['mitigation', 'within'],
    ]) {
      const v = ms(p);
      if (v === 0) issues.push({ path: p, message: 'expected a duration > 0' });
      if (v !== undefined && mttr !== undefined && v > mttr) {
        issues.push({
          path: p,
          message: `${p.join('.')} ${formatDuration(v)} is longer than mttr_target ${formatDuration(mttr)}`,
        });
      }
    }
    if (mttr === 0) issues.push({ path: ['mttr_target'], message: 'expected a duration > 0' });
    return issues;
  };
}

// Where each loaded runbook's fields are, for errors found later across runbooks.
const docs = new WeakMap<Runbook, PositionedDoc>();

/** Loads one runbook; every problem in the file is reported, with file line and column. */
export async function loadRunbook(file: string): Promise<Result<Runbook>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return {
      ok: false,
      errors: [
        { file, line: 1, column: 1, path: '', message: `cannot read runbook: ${(e as Error).message}` },
      ],
    };
  }
  return parseRunbook(file, text);
}

/** Parses runbook text (exported for tests and for tools that hold the text already). */
export function parseRunbook(file: string, text: string): Result<Runbook> {
  const fm = splitFrontMatter(text);
  if (!fm) {
    return {
      ok: false,
      errors: [
        {
          file,
          line: 1,
          column: 1,
          path: '',
          message:
            'missing YAML front matter: the file must start with a "---" line and close it with another "---"',
        },
      ],
    };
  }
  const pd = parseYaml(file, fm.yaml, fm.yamlLine);
  const { value, errors } = validateDoc(pd, RunbookFrontMatter, runbookSemantics(file));
  const sections = h2Sections(fm.body, fm.bodyLine);
  const lastLine = text.split(/\r?\n/).length;
  errors.push(...sectionErrors(file, fm.body, fm.bodyLine, sections, lastLine));
  if (errors.length || !value) return { ok: false, errors: sortErrors(errors) };
  const rb: Runbook = { ...value, file, sections, body: fm.body };
  docs.set(rb, pd);
  return { ok: true, value: rb };
}

/** Runbook files of a directory, sorted (README.md excluded). */
export async function runbookFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  // README.md explains the folder; it is not a runbook.
  return names
    .filter((n) => /\.md$/i.test(n) && n.toLowerCase() !== 'readme.md')
    .sort()
    .map((n) => join(dir, n));
}

/** Loads every runbook in a directory (sorted by file name). */
export async function loadRunbookDir(dir: string): Promise<Result<Runbook[]>> {
  let files: string[];
  try {
    files = await runbookFiles(dir);
  } catch (e) {
    return {
      ok: false,
      errors: [
        {
          file: dir,
          line: 1,
          column: 1,
          path: '',
          message: `cannot read runbook directory: ${(e as Error).message}`,
        },
      ],
    };
  }
  const runbooks: Runbook[] = [];
  const errors: ValidationError[] = [];
  for (const f of files) {
    const r = await loadRunbook(f);
    if (r.ok) runbooks.push(r.value);
    else errors.push(...r.errors);
  }
  // Alert names must be unique or the exported rule file would have two rules answering to one name.
  const byAlert = new Map<string, Runbook>();
  for (const rb of runbooks) {
    if (!rb.alert) continue;
    const name = alertNameOf(rb);
    const prev = byAlert.get(name);
    if (prev) {
      const issue = {
        path: ['alert'],
        message: `alert name ${name} is also used by ${prev.file}; set alert.name`,
      };
      errors.push(
        docs.get(rb)?.toError(issue) ?? {
          file: rb.file,
          line: 1,
          column: 1,
          path: 'alert',
          message: issue.message,
        },
      );
    } else byAlert.set(name, rb);
  }
  return errors.length ? { ok: false, errors: sortErrors(errors) } : { ok: true, value: runbooks };
}

/** `faultline runbooks lint`: every error in every runbook of the directory (empty = clean). */
export async function lintRunbooks(dir: string): Promise<ValidationError[]> {
  const r = await loadRunbookDir(dir);
  return r.ok ? [] : r.errors;
}
