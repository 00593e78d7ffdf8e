// Unit-bearing values in scenario and runbook files: durations, rates, percents, plain numbers.
// Every parser returns a result instead of throwing so callers can collect all errors of a file.

export type UnitKind = 'duration' | 'rate' | 'percent' | 'number' | 'boolean';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (error: string): Parsed<never> => ({ ok: false, error });

/** How a value was written, for "found ..." in error messages. */
export function describeFound(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const UNIT_ORDER = ['d', 'h', 'm', 's', 'ms'];
const NUM = String.raw`\d+(?:\.\d+)?`;
/** One or more number+unit parts, e.g. `150ms`, `1m30s`, `1.5h`. Exported for the JSON Schema `pattern`. */
export const DURATION_PATTERN = `^(?:${NUM}(?:ms|s|m|h|d))+$`;
const DURATION_PART = new RegExp(`(${NUM})(ms|s|m|h|d)`, 'y');

export const DURATION_EXAMPLE = 'a duration like 150ms, 15s, 2m, 1h or 1m30s';

/** `150ms`, `15s`, `2m`, `1h`, `1d`, `1m30s` → milliseconds. A bare number is rejected (except 0). */
/** A string holding just a number (`"15"`) is treated like the number for "add a unit" hints. */
const bareNumber = (v: unknown): unknown =>
  typeof v === 'string' && /^\s*\d+(?:\.\d+)?\s*$/.test(v) && Number(v) !== 0 ? Number(v) : v;

export function parseDuration(v: unknown): Parsed<number> {
  v = bareNumber(v);
  if (v === 0) return ok(0);
  if (typeof v === 'number')
    return fail(`expected ${DURATION_EXAMPLE}, found number ${v} (add a unit, e.g. ${v}s)`);
  if (typeof v !== 'string') return fail(`expected ${DURATION_EXAMPLE}, found ${describeFound(v)}`);
  const s = v.trim();
  if (s === '0') return ok(0);
  let total = 0;
  let pos = 0;
  let lastRank = -1;
  while (pos < s.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(s);
    if (!m) return fail(`expected ${DURATION_EXAMPLE}, found ${JSON.stringify(v)}`);
    const rank = UNIT_ORDER.indexOf(m[2]);
    // `30s1m` or `1m1m` is almost certainly a typo; insist on largest unit first, each once.
    if (rank <= lastRank) {
      return fail(
        `expected ${DURATION_EXAMPLE} (largest unit first, each unit once), found ${JSON.stringify(v)}`,
      );
    }
    lastRank = rank;
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    pos += m[0].length;
  }
  if (s.length === 0) return fail(`expected ${DURATION_EXAMPLE}, found an empty string`);
  return ok(Math.round(total * 1000) / 1000);
}

/** Milliseconds → the shortest canonical form (`90000` → `1m30s`), also valid as a Prometheus duration. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const u of UNIT_ORDER) {
    const size = DURATION_UNITS[u];
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${u}`;
      rest -= n * size;
    }
  }
  return out;
}

export const RATE_PATTERN = `^${NUM}/(?:s|m|min|h)$`;
export const RATE_EXAMPLE = 'a rate like 200/s or 12000/m';
const RATE_UNITS: Record<string, number> = { s: 1, m: 60, min: 60, h: 3600 };

/** `200/s`, `12000/m`, `3600/h` → requests per second. */
export function parseRate(v: unknown): Parsed<number> {
  v = bareNumber(v);
  if (v === 0) return ok(0);
  if (typeof v === 'number')
    return fail(`expected ${RATE_EXAMPLE}, found number ${v} (add a unit, e.g. ${v}/s)`);
  if (typeof v !== 'string') return fail(`expected ${RATE_EXAMPLE}, found ${describeFound(v)}`);
  const m = new RegExp(String.raw`^(${NUM})\s*/\s*(s|m|min|h)$`).exec(v.trim());
  if (!m) return fail(`expected ${RATE_EXAMPLE}, found ${JSON.stringify(v)}`);
  return ok(Number(m[1]) / RATE_UNITS[m[2]]);
}

export const PERCENT_PATTERN = `^${NUM}%$`;
export const PERCENT_EXAMPLE = 'a percent like 99.5%';

/** `99.5%` → 0.995. Bare 0 is accepted (zero needs no unit); other bare numbers are ambiguous. */
export function parsePercent(v: unknown): Parsed<number> {
  v = bareNumber(v);
  if (v === 0) return ok(0);
  if (typeof v === 'number') {
    return fail(
      `expected ${PERCENT_EXAMPLE}, found number ${v} (write ${v <= 1 ? `${+(v * 100).toFixed(6)}%` : `${v}%`})`,
    );
  }
  if (typeof v !== 'string') return fail(`expected ${PERCENT_EXAMPLE}, found ${describeFound(v)}`);
  const m = new RegExp(String.raw`^(${NUM})\s*%$`).exec(v.trim());
  if (!m) return fail(`expected ${PERCENT_EXAMPLE}, found ${JSON.stringify(v)}`);
  // toPrecision drops binary noise: 99.9 / 100 would be 0.9990000000000001.
  return ok(+(Number(m[1]) / 100).toPrecision(15));
}

/** A signed relative change, e.g. `+50%`, `-20%`, `10%` (drift `amount`). */
export const RELATIVE_PATTERN = `^[+-]?${NUM}%$`;
export const RELATIVE_EXAMPLE = 'a relative change like +50%';

/** `+50%` → 0.5, `-20%` → -0.2. */
export function parseRelativeChange(v: unknown): Parsed<number> {
  if (typeof v !== 'string' || !new RegExp(RELATIVE_PATTERN).test(v))
    return fail(`expected ${RELATIVE_EXAMPLE}, found ${describeFound(v)}`);
  return ok(Number(v.slice(0, -1)) / 100);
}

/** A fraction written either as a number in [0, 1] or as a percent (`30%`). */
export function parseFraction(v: unknown): Parsed<number> {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0 || v > 1)
      return fail(`expected a fraction between 0 and 1 (or a percent like 30%), found ${v}`);
    return ok(v);
  }
  if (typeof v === 'string' && v.trim().endsWith('%')) {
    const p = parsePercent(v);
    if (!p.ok) return p;
    if (p.value > 1) return fail(`expected a percent between 0% and 100%, found ${JSON.stringify(v)}`);
    return p;
  }
  return fail(`expected a fraction between 0 and 1 (or a percent like 30%), found ${describeFound(v)}`);
}

/** A plain finite number; numeric strings are accepted because check expressions arrive as text. */
export function parseNumber(v: unknown): Parsed<number> {
  if (typeof v === 'number' && Number.isFinite(v)) return ok(v);
  if (typeof v === 'string' && /^[+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?$/i.test(v.trim())) return ok(Number(v));
  return fail(`expected a plain number like 3 or 0.5, found ${describeFound(v)}`);
}

/** Which unit a written value carries, judged from its suffix (for "wrong unit" errors). */
export function unitOf(text: string): UnitKind | undefined {
  const s = text.trim();
  if (s === 'true' || s === 'false') return 'boolean';
  if (/%$/.test(s)) return 'percent';
  if (/\/(s|m|min|h)$/.test(s)) return 'rate';
  if (new RegExp(DURATION_PATTERN).test(s)) return 'duration';
  if (parseNumber(s).ok) return 'number';
  return undefined;
}

export const UNIT_EXAMPLES: Record<UnitKind, string> = {
  duration: DURATION_EXAMPLE,
  rate: RATE_EXAMPLE,
  percent: PERCENT_EXAMPLE,
  number: 'a plain number like 3',
  boolean: 'true or false',
};

/** Parses `text` as a value of the given kind. */
export function parseUnit(kind: UnitKind, text: string): Parsed<number> {
  switch (kind) {
    case 'duration':
      return parseDuration(text.trim() === '0' ? 0 : text);
    case 'rate':
      return parseRate(text.trim() === '0' ? 0 : text);
    case 'percent':
      return parsePercent(text.trim() === '0' ? 0 : text);
    case 'number':
      return parseNumber(text);
    case 'boolean':
      if (text.trim() === 'true') return ok(1);
      if (text.trim() === 'false') return ok(0);
      return fail(`expected true or false, found ${JSON.stringify(text)}`);
  }
}

/** Renders a parsed value back in its unit (for reports and error messages). */
export function formatUnit(kind: UnitKind, n: number): string {
  switch (kind) {
    case 'duration':
      return formatDuration(n);
    case 'rate':
      return `${+n.toFixed(3)}/s`;
    case 'percent':
      return `${+(n * 100).toFixed(4)}%`;
    case 'number':
      return String(n);
    case 'boolean':
      return n ? 'true' : 'false';
  }
}
