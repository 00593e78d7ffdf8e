// MLflow search filters, ordering and paging for `registered-models/search` and
// `model-versions/search`: the filter subset MLflow documents for the model registry
// (`name = 'x'`, `name LIKE 'fraud-%'`, `name ILIKE`, `tags.k = 'v'`, `run_id = 'r'`, `run_id IN (...)`,
// `source_path`, joined by AND), evaluated over rows read from SQLite.
import { badRequest } from '../common/service.ts';
import type { Tag } from './client.ts';

export type SearchKind = 'registered-models' | 'model-versions';

type Op = '=' | '!=' | 'LIKE' | 'ILIKE' | 'IN';
interface Clause {
  /** `name`, `run_id`, `source_path` or `tags.<key>`. */
  key: string;
  op: Op;
  values: string[];
}

export interface Searchable {
  name: string;
  run_id?: string;
  source?: string;
  tags: Tag[];
}

const ATTRIBUTES: Record<SearchKind, string[]> = {
  'registered-models': ['name'],
  'model-versions': ['name', 'run_id', 'source_path'],
};

const MAX_FILTER = 10_000;

/** Parses an MLflow filter string; errors are 400 INVALID_PARAMETER_VALUE naming `filter`. */
export function parseFilter(kind: SearchKind, filter: string): Clause[] {
  if (filter.length > MAX_FILTER) throw badRequest('filter', `longer than ${MAX_FILTER} characters`);
  const tokens = tokenize(filter);
  const clauses: Clause[] = [];
  let i = 0;
  const at = () => tokens[i];
  const fail = (why: string): never => {
    throw badRequest('filter', `invalid filter ${JSON.stringify(filter)}: ${why}`);
  };
  while (i < tokens.length) {
    const ident = at();
    if (ident.type !== 'word' && ident.type !== 'quotedKey')
      fail(`expected an attribute such as name or tags.<key>, found ${ident.text}`);
    let key = ident.text;
    i++;
    // `attributes.name` is the same as `name`.
    if (ident.type === 'word' && /^attributes?$/i.test(key) && at()?.type === 'dot') {
      i++;
      if (at()?.type !== 'word') fail('expected an attribute name after "attributes."');
      key = at().text;
      i++;
    }
    if (ident.type === 'word' && /^tags?$/i.test(ident.text) && at()?.type === 'dot') {
      i++;
      const k = at();
      if (!k || (k.type !== 'word' && k.type !== 'quotedKey' && k.type !== 'string'))
        fail('expected a tag key after "tags."');
      let tag = k.text;
      i++;
      // A dotted key (tags.a.b) is one key, as in MLflow.
      while (k.type === 'word' && at()?.type === 'dot' && tokens[i + 1]?.type === 'word') {
        tag += `.${tokens[i + 1].text}`;
        i += 2;
      }
      key = `tags.${tag}`;
    } else if (!ATTRIBUTES[kind].includes(key)) {
      fail(
        `unknown attribute "${key}" (${kind} filters support ${ATTRIBUTES[kind].join(', ')} and tags.<key>)`,
      );
    }
    const opTok = at();
    if (opTok?.type !== 'op') fail(`expected =, !=, LIKE, ILIKE or IN after ${key}`);
    const op = opTok.text.toUpperCase() as Op;
    i++;
    if (op === 'IN') {
      if (key !== 'run_id' && key !== 'name') fail('IN is supported for name and run_id only');
      if (at()?.type !== 'lparen') fail('expected ( after IN');
      i++;
      const values: string[] = [];
      while (true) {
        const v = at();
        if (v?.type !== 'string') fail('expected a quoted string in the IN list');
        values.push(v.text);
        i++;
        if (at()?.type === 'comma') {
          i++;
          continue;
        }
        if (at()?.type === 'rparen') {
          i++;
          break;
        }
        fail('expected , or ) in the IN list');
      }
      clauses.push({ key, op, values });
    } else {
      const v = at();
      if (v?.type !== 'string') fail(`expected a quoted string after ${key} ${op}`);
      clauses.push({ key, op, values: [v.text] });
      i++;
    }
    if (i < tokens.length) {
      if (at().type !== 'and') fail(`expected AND, found ${at().text} (only AND joins conditions)`);
      i++;
      if (i === tokens.length) fail('dangling AND');
    }
  }
  return promptRule(clauses);
}

// MLflow keeps prompts (registered models tagged mlflow.prompt.is_prompt = 'true') out of model
// searches: its client appends `tag.`mlflow.prompt.is_prompt` != 'true'` to every filter, and its
// server turns any condition on that tag into "prompts only" or "no prompts", so models without the
// tag match (an SQL comparison alone would drop them).
const IS_PROMPT = 'tags.mlflow.prompt.is_prompt';

function promptRule(clauses: Clause[]): Clause[] {
  const onPrompt = clauses.find((c) => c.key === IS_PROMPT);
  const wantsPrompts =
    onPrompt !== undefined &&
    ((onPrompt.op === '=' && onPrompt.values[0].toLowerCase() === 'true') ||
      (onPrompt.op === '!=' && onPrompt.values[0].toLowerCase() === 'false'));
  return [
    ...clauses.filter((c) => c.key !== IS_PROMPT),
    { key: 'prompt', op: '=', values: [wantsPrompts ? 'true' : 'false'] },
  ];
}

export function matches(row: Searchable, clauses: Clause[]): boolean {
  return clauses.every((c) => {
    if (c.key === 'prompt') {
      const isPrompt = row.tags.some(
        (t) => t.key === 'mlflow.prompt.is_prompt' && t.value.toLowerCase() === 'true',
      );
      return isPrompt === (c.values[0] === 'true');
    }
    let actual: string | undefined;
    if (c.key.startsWith('tags.')) actual = row.tags.find((t) => t.key === c.key.slice(5))?.value;
    else if (c.key === 'name') actual = row.name;
    else if (c.key === 'run_id') actual = row.run_id;
    else if (c.key === 'source_path') actual = row.source;
    // MLflow: a row without the tag matches no comparison (SQL NULL semantics).
    if (actual === undefined) return false;
    switch (c.op) {
      case '=':
        return actual === c.values[0];
      case '!=':
        return actual !== c.values[0];
      case 'LIKE':
        return like(c.values[0], false).test(actual);
      case 'ILIKE':
        return like(c.values[0], true).test(actual);
      case 'IN':
        return c.values.includes(actual);
    }
    return false;
  });
}

/** SQL LIKE: `%` any run, `_` one character, everything else literal. */
function like(pattern: string, caseInsensitive: boolean): RegExp {
  let re = '';
  for (const ch of pattern) {
    if (ch === '%') re += '[\\s\\S]*';
    else if (ch === '_') re += '[\\s\\S]';
    else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, caseInsensitive ? 'iu' : 'u');
}

interface Token {
  type: 'word' | 'string' | 'quotedKey' | 'op' | 'and' | 'dot' | 'lparen' | 'rparen' | 'comma';
  text: string;
}

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw badRequest('filter', `invalid filter ${JSON.stringify(s)}: ${why}`);
  };
  while (i < s.length) {
    const ch = s[i];
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "'" || ch === '"' || ch === '`') {
      const end = s.indexOf(ch, i + 1);
      if (end < 0) fail(`unterminated ${ch} quote at offset ${i}`);
      // Backticks quote keys (tags.`my key`); single and double quotes are values (MLflow accepts both).
      out.push({ type: ch === '`' ? 'quotedKey' : 'string', text: s.slice(i + 1, end) });
      i = end + 1;
    } else if (ch === '.') {
      out.push({ type: 'dot', text: '.' });
      i++;
    } else if (ch === '(' || ch === ')' || ch === ',') {
      out.push({ type: ch === '(' ? 'lparen' : ch === ')' ? 'rparen' : 'comma', text: ch });
      i++;
    } else if (s.startsWith('!=', i)) {
      out.push({ type: 'op', text: '!=' });
      i += 2;
    } else if (ch === '=') {
      out.push({ type: 'op', text: '=' });
      i++;
    } else if (/[\w]/.test(ch)) {
      const m = /^[\w]+/.exec(s.slice(i))!;
      const w = m[0];
      const upper = w.toUpperCase();
      if (upper === 'AND') out.push({ type: 'and', text: w });
      else if (upper === 'LIKE' || upper === 'ILIKE' || upper === 'IN') out.push({ type: 'op', text: upper });
      else if (upper === 'OR') fail('OR is not supported (MLflow registry filters join conditions with AND)');
      else out.push({ type: 'word', text: w });
      i += w.length;
    } else {
      fail(`unexpected ${JSON.stringify(ch)} at offset ${i}`);
    }
  }
  return out;
}

// ---- ordering and paging ----

type OrderKey = 'name' | 'version_number' | 'creation_timestamp' | 'last_updated_timestamp';
const ORDER_KEYS: Record<SearchKind, Record<string, OrderKey>> = {
  'registered-models': {
    name: 'name',
    timestamp: 'last_updated_timestamp',
    last_updated_timestamp: 'last_updated_timestamp',
  },
  'model-versions': {
    name: 'name',
    version_number: 'version_number',
    creation_timestamp: 'creation_timestamp',
    timestamp: 'creation_timestamp',
    last_updated_timestamp: 'last_updated_timestamp',
  },
};

export interface Orderable {
  name: string;
  version?: number;
  creation_timestamp: number;
  last_updated_timestamp: number;
}

/** MLflow's `order_by` ("name ASC", "last_updated_timestamp DESC"); name is the final tie-breaker. */
export function comparator<T extends Orderable>(kind: SearchKind, orderBy: string[]): (a: T, b: T) => number {
  const fields: { key: OrderKey; asc: boolean }[] = [];
  const given =
    orderBy.length > 0
      ? orderBy
      : kind === 'model-versions'
        ? ['last_updated_timestamp DESC', 'name ASC', 'version_number DESC']
        : [];
  for (const raw of given) {
    const m = /^\s*(?:attributes?\.)?(\w+)(?:\s+(ASC|DESC))?\s*$/i.exec(raw);
    const key = m ? ORDER_KEYS[kind][m[1]] : undefined;
    if (!m || !key)
      throw badRequest(
        'order_by',
        `invalid order_by clause ${JSON.stringify(raw)} (valid keys: ${Object.keys(ORDER_KEYS[kind]).join(', ')}, optionally ASC or DESC)`,
      );
    if (fields.some((f) => f.key === key)) throw badRequest('order_by', `duplicate field ${key}`);
    fields.push({ key, asc: (m[2] ?? 'ASC').toUpperCase() === 'ASC' });
  }
  if (!fields.some((f) => f.key === 'name')) fields.push({ key: 'name', asc: true });
  if (kind === 'model-versions' && !fields.some((f) => f.key === 'version_number'))
    fields.push({ key: 'version_number', asc: false });
  return (a, b) => {
    for (const f of fields) {
      const x = f.key === 'version_number' ? (a.version ?? 0) : a[f.key];
      const y = f.key === 'version_number' ? (b.version ?? 0) : b[f.key];
      const c = typeof x === 'string' ? x.localeCompare(y as string) : (x as number) - (y as number);
      if (c !== 0) return f.asc ? c : -c;
    }
    return 0;
  };
}

/** MLflow's page tokens: base64 of `{"offset": n}`. */
export function pageOffset(token: unknown): number {
  if (token === undefined || token === null || token === '') return 0;
  const bad = () => badRequest('page_token', 'invalid page token');
  if (typeof token !== 'string' || token.length > 200) throw bad();
  try {
    const o = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (typeof o?.offset === 'number' && Number.isSafeInteger(o.offset) && o.offset >= 0) return o.offset;
  } catch {}
  throw bad();
}

export function pageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64');
}

export const MAX_RESULTS: Record<SearchKind, { default: number; max: number }> = {
  'registered-models': { default: 100, max: 1000 },
  'model-versions': { default: 200_000, max: 200_000 },
};
