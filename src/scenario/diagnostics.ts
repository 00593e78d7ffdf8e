// Maps YAML syntax errors, zod issues and semantic rule violations to `file:line:column field.path:
// message`, using the YAML node positions of the deepest path element that exists in the file.
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  Scalar,
  visit,
} from 'yaml';
import type { z } from 'zod';
import { didYouMean } from './suggest.ts';
import { describeFound } from './units.ts';

export interface ValidationError {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Field path, e.g. `spec.faults[0].at`; empty for file-level errors. */
  path: string;
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; errors: ValidationError[] };

export type PathKey = string | number;

/** A problem found by a validation pass, before it is placed in the file. */
export interface Issue {
  path: PathKey[];
  message: string;
  /** Point at the key of the last path element instead of its value (unknown fields). */
  atKey?: boolean;
  /** Character offset inside the scalar (where in a check expression the problem is). */
  offset?: number;
}

export function formatPath(path: readonly PathKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out ? `.${k}` : k;
  }
  return out;
}

export function formatErrors(errors: readonly ValidationError[]): string {
  return errors
    .map((e) => `${e.file}:${e.line}:${e.column} ${e.path ? `${e.path}: ` : ''}${e.message}`)
    .join('\n');
}

export function sortErrors(errors: ValidationError[]): ValidationError[] {
  return errors.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

export function getPath(raw: unknown, path: readonly PathKey[]): unknown {
  let v: unknown = raw;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PathKey, unknown>)[k];
  }
  return v;
}

/** yaml's own default: beyond this many alias uses, expansion is refused. */
const MAX_ALIAS_COUNT = 100;

/**
 * A parsed YAML document with positions. `lineOffset` is the number of file lines before the YAML
 * text (runbook front matter starts on line 2), so positions are file positions.
 */
export class PositionedDoc {
  readonly file: string;
  readonly doc: Document.Parsed;
  readonly lineCounter: LineCounter;
  readonly lineOffset: number;

  constructor(file: string, doc: Document.Parsed, lineCounter: LineCounter, lineOffset = 0) {
    this.file = file;
    this.doc = doc;
    this.lineCounter = lineCounter;
    this.lineOffset = lineOffset;
  }

  at(offset: number): { line: number; column: number } {
    const p = this.lineCounter.linePos(offset);
    return { line: p.line + this.lineOffset, column: p.col };
  }

  /** The deepest node on `path` that exists, and the key that led to it. */
  locate(path: readonly PathKey[]): { node: Node | null; key: Node | null; depth: number } {
    let node = this.doc.contents as Node | null;
    let key: Node | null = null;
    let depth = 0;
    for (const k of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === k);
        if (!pair) break;
        key = pair.key as Node;
        node = (pair.value as Node | null) ?? (pair.key as Node);
      } else if (isSeq(node) && typeof k === 'number' && k < node.items.length) {
        key = null;
        node = node.items[k] as Node;
      } else break;
      depth++;
    }
    return { node, key, depth };
  }

  toError(issue: Issue): ValidationError {
    const { node, key, depth } = this.locate(issue.path);
    const complete = depth === issue.path.length;
    // A missing field points at the key of its parent (`load:`), an unknown one at its own key.
    // A whole mapping or list is pointed at by its key (`alert:`), not by its first entry.
    const collection = isMap(node) || isSeq(node);
    const target = (complete && !issue.atKey && !(collection && key) ? node : key) ?? node;
    let offset = target?.range?.[0] ?? 0;
    if (complete && issue.offset !== undefined && node instanceof Scalar) {
      if (node.type === Scalar.PLAIN) offset += issue.offset;
      else if (node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE)
        offset += issue.offset + 1;
    }
    const { line, column } = this.at(offset);
    return { file: this.file, line, column, path: formatPath(issue.path), message: issue.message };
  }

  /**
   * The document as plain data, or the error that stops it: an alias to an anchor defined later or
   * nowhere, or aliases expanding past `maxAliasCount` (billion laughs) make yaml's toJS throw.
   * The error points at the first alias, the construct that caused it.
   */
  toJS(): { ok: true; value: unknown } | { ok: false; error: ValidationError } {
    try {
      return { ok: true, value: this.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
    } catch (e) {
      const message = (e as Error).message ?? String(e);
      const known = new Set<string>();
      let offset = 0;
      let unresolved: number | undefined;
      let first: number | undefined;
      visit(this.doc, (_key, node) => {
        if (isAlias(node)) {
          first ??= node.range?.[0];
          if (unresolved === undefined && !known.has(node.source)) unresolved = node.range?.[0];
        } else if ((node as { anchor?: string }).anchor) known.add((node as { anchor: string }).anchor);
      });
      offset = (/unresolved alias/i.test(message) ? unresolved : first) ?? first ?? 0;
      const { line, column } = this.at(offset);
      const why = /excessive alias count/i.test(message)
        ? `aliases expand to too many nodes (more than ${MAX_ALIAS_COUNT} alias uses): refusing a possible "billion laughs" document`
        : message.replace(/\.$/, '');
      return { ok: false, error: { file: this.file, line, column, path: '', message: `YAML: ${why}` } };
    }
  }

  yamlErrors(): ValidationError[] {
    return this.doc.errors.map((e) => {
      const { line, column } = this.at(e.pos[0]);
      // yaml appends "at line X, column Y:" and a code frame; the position is already in front.
      const message = e.message
        .split('\n')[0]
        .replace(/ at line \d+, column \d+:?$/, '')
        .replace(/\.$/, '');
      return { file: this.file, line, column, path: '', message: `YAML syntax error: ${message}` };
    });
  }
}

// ---- zod issues → Issues -------------------------------------------------------------------------

type AnyIssue = z.core.$ZodIssue;
type Def = { type: string; [k: string]: unknown };
const def = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;

function unwrap(s: unknown): unknown {
  for (;;) {
    const d = def(s);
    if (['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(d.type))
      s = d.innerType;
    else if (d.type === 'pipe') s = d.in;
    else return s;
  }
}

/** Object members of a union, nested unions flattened, each with the discriminator that selects it. */
function unionObjects(
  s: unknown,
  out: { o: unknown; disc?: string }[] = [],
  disc?: string,
): { o: unknown; disc?: string }[] {
  const d = def(s);
  for (const opt of d.options as unknown[]) {
    const u = unwrap(opt);
    if (def(u).type === 'union') unionObjects(u, out, (def(u).discriminator as string | undefined) ?? disc);
    else if (def(u).type === 'object')
      out.push({ o: u, disc: (d.discriminator as string | undefined) ?? disc });
  }
  return out;
}

/** Picks the union member that the raw value was meant to be (by discriminator, else by known keys). */
function pickOption(s: unknown, raw: unknown): unknown {
  const objects = unionObjects(s);
  if (!raw || typeof raw !== 'object' || objects.length === 0)
    return unwrap((def(s).options as unknown[])[0]);
  const r = raw as Record<string, unknown>;
  const hit = objects.find(({ o, disc }) => {
    if (!disc || r[disc] === undefined) return false;
    const lit = unwrap((def(o).shape as Record<string, unknown>)[disc]);
    return (def(lit).values as unknown[] | undefined)?.includes(r[disc]);
  });
  if (hit) return hit.o;
  const keys = Object.keys(r);
  let best = objects[0].o;
  let bestScore = -1;
  for (const { o } of objects) {
    const shape = def(o).shape as Record<string, unknown>;
    const score = keys.filter((k) => k in shape).length;
    if (score > bestScore) [best, bestScore] = [o, score];
  }
  return best;
}

/** The object schema at `path`, so an unknown field can be compared with the known ones. */
export function schemaAt(schema: unknown, path: readonly PathKey[], raw: unknown): unknown {
  let s = unwrap(schema);
  let r = raw;
  for (let i = 0; ; i++) {
    while (def(s).type === 'union') s = unwrap(pickOption(s, r));
    if (i === path.length) return s;
    const d = def(s);
    const k = path[i];
    if (d.type === 'object') s = (d.shape as Record<string, unknown>)[k];
    else if (d.type === 'array') s = d.element;
    else return undefined;
    if (s === undefined) return undefined;
    s = unwrap(s);
    r = getPath(r, [k]);
  }
}

const TYPE_WORDS: Record<string, string> = {
  array: 'a list',
  object: 'a mapping',
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  int: 'an integer',
};

function isRootMismatch(branch: AnyIssue[], raw: unknown): boolean {
  return branch.some((i) => {
    if (i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value')) return true;
    // A discriminated union whose discriminator is absent was not what the author meant.
    const disc = (i as { discriminator?: string }).discriminator;
    return (
      i.code === 'invalid_union' &&
      disc !== undefined &&
      i.path.length === 1 &&
      getPath(raw, [disc]) === undefined
    );
  });
}

/** Turns zod issues into positioned-ready Issues with "expected X, found Y" messages. */
export function zodIssues(
  issues: readonly AnyIssue[],
  raw: unknown,
  schema: unknown,
  prefix: PathKey[] = [],
): Issue[] {
  const out: Issue[] = [];
  for (const iss of issues) {
    const path = [...prefix, ...(iss.path as PathKey[])];
    const value = getPath(raw, path);
    const parentExists = path.length === 0 || getPath(raw, path.slice(0, -1)) !== undefined;
    const field = String(path[path.length - 1] ?? '');
    const missing = value === undefined && parentExists && path.length > 0;
    switch (iss.code) {
      case 'invalid_type': {
        const expected = TYPE_WORDS[iss.expected] ?? iss.expected;
        out.push({
          path,
          message: missing
            ? `missing required field "${field}" (expected ${expected})`
            : `expected ${expected}, found ${describeFound(value)}`,
        });
        break;
      }
      case 'invalid_value': {
        const vals = iss.values.map((v) => JSON.stringify(v));
        const exp = vals.length === 1 ? vals[0] : `one of ${vals.join(' | ')}`;
        const hint = typeof value === 'string' ? didYouMean(value, iss.values.map(String)) : '';
        out.push({
          path,
          message: missing
            ? `missing required field "${field}" (expected ${exp})`
            : `expected ${exp}, found ${describeFound(value)}${hint}`,
        });
        break;
      }
      case 'unrecognized_keys': {
        const obj = schemaAt(schema, path, raw);
        const known = obj && def(obj).type === 'object' ? Object.keys(def(obj).shape as object) : [];
        for (const k of iss.keys) {
          const hint = didYouMean(k, known);
          out.push({
            path: [...path, k],
            atKey: true,
            message: `unknown field "${k}"${hint || (known.length ? ` (expected one of: ${known.join(', ')})` : '')}`,
          });
        }
        break;
      }
      case 'too_small':
      case 'too_big': {
        const small = iss.code === 'too_small';
        const bound = small
          ? (iss as { minimum: number | bigint }).minimum
          : (iss as { maximum: number | bigint }).maximum;
        const inclusive = (iss as { inclusive?: boolean }).inclusive !== false;
        let message: string;
        if (iss.origin === 'array') {
          message = `expected ${small ? 'at least' : 'at most'} ${bound} item${Number(bound) === 1 ? '' : 's'}, found ${Array.isArray(value) ? value.length : describeFound(value)}`;
        } else if (iss.origin === 'string') {
          message =
            small && Number(bound) === 1
              ? 'expected a non-empty string'
              : `expected ${small ? 'at least' : 'at most'} ${bound} characters`;
        } else {
          const rel = small ? (inclusive ? '≥' : '>') : inclusive ? '≤' : '<';
          message = `expected a number ${rel} ${bound}, found ${describeFound(value)}`;
        }
        out.push({ path, message });
        break;
      }
      case 'invalid_format': {
        const generic = iss.message.startsWith('Invalid');
        const what = iss.format === 'url' ? 'a URL like http://host:port' : `a ${iss.format}`;
        out.push({
          path,
          message: generic ? `expected ${what}, found ${describeFound(value)}` : iss.message,
        });
        break;
      }
      case 'custom':
        out.push({
          path,
          message: iss.message,
          offset: (iss.params as { offset?: number } | undefined)?.offset,
        });
        break;
      case 'invalid_union': {
        const u = iss as AnyIssue & {
          note?: string;
          discriminator?: string;
          options?: unknown[];
          errors: AnyIssue[][];
        };
        if (u.note === 'No matching discriminator') {
          const opts = (u.options ?? []).map(String);
          const dv = getPath(raw, path);
          const exp = `one of ${opts.join(' | ')}`;
          out.push({
            path,
            message:
              dv === undefined
                ? `missing required field "${field}" (expected ${exp})`
                : `unknown ${field} ${describeFound(dv)}: expected ${exp}${typeof dv === 'string' ? didYouMean(dv, opts) : ''}`,
          });
          break;
        }
        if (iss.message !== 'Invalid input' || u.errors.length === 0) {
          const msg = iss.message.replace(/, found nothing$/, '');
          out.push({ path, message: missing ? `missing required field "${field}" (${msg})` : iss.message });
          break;
        }
        const branchRaw = getPath(raw, path);
        let branches = u.errors.filter((b) => !isRootMismatch(b, branchRaw));
        if (branches.length === 0) {
          out.push({
            path,
            message: missing
              ? `missing required field "${field}"`
              : `unexpected value ${describeFound(value)}`,
          });
          break;
        }
        branches = branches.sort((a, b) => a.length - b.length);
        out.push(...zodIssues(branches[0], raw, schema, path));
        break;
      }
      default:
        out.push({ path, message: iss.message });
    }
  }
  return out;
}

/** Parses YAML keeping node positions. Duplicate keys are syntax errors. */
export function parseYaml(file: string, text: string, lineOffset = 0): PositionedDoc {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  return new PositionedDoc(file, doc, lineCounter, lineOffset);
}

/**
 * Validates a parsed document: YAML syntax errors alone if there are any (a half-parsed document
 * would only add noise), otherwise every schema issue plus every semantic rule violation.
 */
export function validateDoc<S extends z.ZodType>(
  pd: PositionedDoc,
  schema: S,
  semantic?: (raw: unknown) => Issue[],
): { value?: z.output<S>; raw: unknown; errors: ValidationError[] } {
  if (pd.doc.errors.length) return { raw: undefined, errors: pd.yamlErrors() };
  const js = pd.toJS();
  if (!js.ok) return { raw: undefined, errors: [js.error] };
  const raw = js.value;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return {
      raw,
      errors: [
        pd.toError({
          path: [],
          message: `expected a mapping at the top level, found ${raw === null ? 'an empty document' : describeFound(raw)}`,
        }),
      ],
    };
  }
  const r = schema.safeParse(raw);
  const issues = r.success ? [] : zodIssues(r.error.issues, raw, schema);
  if (semantic) issues.push(...semantic(raw));
  const errors = dedupe(issues.map((i) => pd.toError(i)));
  return { value: errors.length ? undefined : (r.data as z.output<S>), raw, errors };
}

function dedupe(errors: ValidationError[]): ValidationError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.line}:${e.column}:${e.path}:${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
