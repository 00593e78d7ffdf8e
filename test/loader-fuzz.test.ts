// Property-based fuzzing of the scenario, suite and runbook loaders (issue 14, "Bad input"): the
// shipped documents, mutated (wrong types, unknown keys, huge numbers, deep nesting, odd Unicode,
// YAML anchors and aliases, a billion-laughs expansion, truncation), must each be accepted or
// rejected with located errors (file, line, column, field), never a throw, a hang (> 2 s) or a stack
// trace in a message. FAULTLINE_FUZZ_RUNS sets the total number of documents (default 600 so
// `npm test` stays quick; CI runs 12000, see BENCHMARKS.md). FAULTLINE_FUZZ_SEED replays a run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadRunbook, splitFrontMatter } from '../src/runbooks/load.ts';
import { loadScenarioFile, loadSuiteFile, type Result, type ValidationError } from '../src/scenario/load.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const TOTAL = Number(process.env.FAULTLINE_FUZZ_RUNS ?? 600);
const SEED = process.env.FAULTLINE_FUZZ_SEED ? Number(process.env.FAULTLINE_FUZZ_SEED) : undefined;
const HANG_MS = 2000;

// A copy of the shipped scenarios and runbooks: mutated files go beside them, so runbook ids and a
// suite's scenario files resolve as they do in the repository.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-fuzz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
fs.cpSync(path.join(ROOT, 'scenarios'), path.join(tmp, 'scenarios'), { recursive: true });
fs.cpSync(path.join(ROOT, 'runbooks'), path.join(tmp, 'runbooks'), { recursive: true });

const SCENARIOS = fs
  .readdirSync(path.join(ROOT, 'scenarios'))
  .filter((n) => n.endsWith('.yaml') && n !== 'game-day.yaml')
  .map((n) => fs.readFileSync(path.join(ROOT, 'scenarios', n), 'utf8'));
const SUITE = fs.readFileSync(path.join(ROOT, 'scenarios/game-day.yaml'), 'utf8');
const RUNBOOKS = fs
  .readdirSync(path.join(ROOT, 'runbooks'))
  .filter((n) => n.endsWith('.md'))
  .map((n) => fs.readFileSync(path.join(ROOT, 'runbooks', n), 'utf8'));

// ---- mutations ----

type Json = unknown;
type Path = (string | number)[];

function paths(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) for (const [i, x] of v.entries()) paths(x, [...at, i], out);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function setAt(root: Json, p: Path, fn: (old: Json) => Json | typeof DELETE): Json {
  if (p.length === 0) {
    const r = fn(root);
    return r === DELETE ? null : r;
  }
  const copy: Json = structuredClone(root);
  let cur = copy as Record<string | number, Json>;
  for (const k of p.slice(0, -1)) cur = cur[k] as Record<string | number, Json>;
  const last = p[p.length - 1];
  const r = fn(cur[last]);
  if (r === DELETE) {
    if (Array.isArray(cur)) cur.splice(last as number, 1);
    else delete cur[last];
  } else cur[last] = r;
  return copy;
}
const DELETE = Symbol('delete');

const oddString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '\u202Eevil\u202C',
    'zero\u200Bwidth',
    '\uFEFFbom',
    '\uD800',
    'e\u0301\u0301\u0301',
    '𝔣𝔞𝔲𝔩𝔱',
    '"; rm -rf / #',
    '$(touch /tmp/pwned)',
    '../../../../etc/passwd',
    '%s%n%x',
    'a'.repeat(100_000),
    '10s\u0000',
    '１０ｓ',
    '99.9 %',
  ),
);
const hugeNumber = fc.constantFrom(
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER * 1024,
  5e-324,
  -0,
  2 ** 53 + 1,
  Number.POSITIVE_INFINITY,
  Number.NaN,
);
const wrongValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  hugeNumber,
  oddString,
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

function deep(depth: number, map: boolean): Json {
  let v: Json = 1;
  for (let i = 0; i < depth; i++) v = map ? { k: v } : [v];
  return v;
}

/** A structural mutation of a parsed document, serialized back to YAML. */
const structural = (doc: Json): fc.Arbitrary<string> => {
  const ps = paths(doc);
  return fc
    .tuple(
      fc.constantFrom(...ps),
      fc.oneof(
        wrongValue.map((v) => ({ op: 'set' as const, v })),
        fc
          .tuple(fc.string({ minLength: 1, maxLength: 12 }), wrongValue)
          .map(([k, v]) => ({ op: 'key' as const, k, v })),
        fc.constant({ op: 'delete' as const }),
        fc
          .tuple(fc.integer({ min: 20, max: 400 }), fc.boolean())
          .map(([d, m]) => ({ op: 'deep' as const, d, m })),
      ),
    )
    .map(([p, m]) => {
      const out = setAt(doc, p, (old) => {
        if (m.op === 'set') return m.v;
        if (m.op === 'delete') return DELETE;
        if (m.op === 'deep') return deep(m.d, m.m);
        if (old && typeof old === 'object' && !Array.isArray(old)) return { ...old, [m.k]: m.v };
        return { [m.k]: m.v };
      });
      return stringify(out, { lineWidth: 0 });
    });
};

/** Text-level mutations: aliases, billion laughs, deep flow nesting, truncation, stray bytes. */
const textual = (text: string): fc.Arbitrary<string> =>
  fc.oneof(
    // An anchor on one scalar, aliases of it in place of others.
    fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => {
      const lines = text.split('\n');
      const scalars = lines.map((l, i) => [l, i] as const).filter(([l]) => /^\s*[\w.-]+:\s+\S/.test(l));
      if (scalars.length < 2) return text;
      const [la, ia] = scalars[a % scalars.length];
      const [lb, ib] = scalars[b % scalars.length];
      lines[ia] = la.replace(/:\s+/, ': &x ');
      if (ib !== ia) lines[ib] = lb.replace(/:\s+.*/, ': *x');
      return lines.join('\n');
    }),
    // An alias to an anchor that does not exist, and a merge key.
    fc.constantFrom(`${text}\nextra: *nowhere\n`, `base: &b { x: 1 }\n${text}\nmerged: { <<: *b }\n`),
    // Billion laughs: nine levels of ten aliases each.
    fc.constant(billionLaughs(text)),
    // Deep flow nesting.
    fc.integer({ min: 100, max: 20_000 }).map((d) => `${text}\nnested: ${'['.repeat(d)}${']'.repeat(d)}\n`),
    fc
      .integer({ min: 100, max: 20_000 })
      .map((d) => `${text}\nnested: ${'{a: '.repeat(d)}1${'}'.repeat(d)}\n`),
    // Truncated anywhere.
    fc.nat({ max: text.length }).map((n) => text.slice(0, n)),
    // A stray character somewhere.
    fc
      .tuple(
        fc.nat({ max: text.length }),
        fc.constantFrom(
          '\t',
          '\0',
          '\r',
          '"',
          "'",
          ':',
          '&',
          '*',
          '!',
          '%',
          '@',
          '`',
          '\uFFFE',
          '{',
          ']',
          '\u2028',
        ),
      )
      .map(([n, c]) => text.slice(0, n) + c + text.slice(n)),
    // Windows line ends, a BOM.
    fc.constant(`\uFEFF${text.replace(/\n/g, '\r\n')}`),
    // Duplicate keys.
    fc.constant(`${text}\nkind: Scenario\n`),
  );

function billionLaughs(text: string): string {
  const lines = ['lol0: &l0 "lol"'];
  for (let i = 1; i <= 9; i++)
    lines.push(
      `lol${i}: &l${i} [${Array(10)
        .fill(`*l${i - 1}`)
        .join(', ')}]`,
    );
  return `${lines.join('\n')}\n${text}\nlaughs: *l9\n`;
}

const mutated = (texts: string[]): fc.Arbitrary<string> =>
  fc
    .constantFrom(...texts)
    .chain((t) =>
      fc.oneof({ weight: 3, arbitrary: structural(parse(t)) }, { weight: 2, arbitrary: textual(t) }),
    );

/** Runbooks: the front matter mutated as above, or the Markdown body cut up. */
const mutatedRunbook: fc.Arbitrary<string> = fc.constantFrom(...RUNBOOKS).chain((text) => {
  const fm = splitFrontMatter(text)!;
  const wrap = (yaml: string) => `---\n${yaml.replace(/\n?$/, '\n')}---\n${fm.body}`;
  return fc.oneof(
    { weight: 3, arbitrary: structural(parse(fm.yaml)).map(wrap) },
    { weight: 2, arbitrary: textual(fm.yaml).map(wrap) },
    { weight: 1, arbitrary: textual(text) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.nat(), oddString)
        .map(([n, s]) => text.replace(/^## .*$/gm, (h, _o, _s) => (n-- === 0 ? `## ${s}` : h))),
    },
  );
});

// ---- the property ----

let counter = 0;
const counts = { scenario: 0, suite: 0, runbook: 0, accepted: 0, rejected: 0 };

function checkResult(r: Result<unknown>, files: string[], doc: string) {
  if (r.ok) {
    counts.accepted++;
    return;
  }
  counts.rejected++;
  expect(r.errors.length, doc.slice(0, 500)).toBeGreaterThan(0);
  for (const e of r.errors as ValidationError[]) {
    const where = `${JSON.stringify(e)}\n--- document ---\n${doc.slice(0, 2000)}`;
    expect(files, where).toContain(e.file);
    expect(Number.isInteger(e.line) && e.line >= 1, where).toBe(true);
    expect(Number.isInteger(e.column) && e.column >= 1, where).toBe(true);
    expect(typeof e.path, where).toBe('string');
    expect(typeof e.message === 'string' && e.message.length > 0, where).toBe(true);
    expect(e.message, where).not.toMatch(/\n\s+at |\bat .+\.ts:\d+/);
  }
}

/**
 * Loads within HANG_MS. A slow load is retried once before it counts: a pathological document is
 * slow every time, a busy machine (2 shared cores) only now and then.
 */
async function within<T>(what: string, fn: () => Promise<T>): Promise<T> {
  let ms = 0;
  let out: T | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    const t0 = performance.now();
    out = await fn();
    ms = performance.now() - t0;
    if (ms < HANG_MS) return out;
  }
  expect(ms, `${what} took ${ms.toFixed(0)} ms twice`).toBeLessThan(HANG_MS);
  return out as T;
}

async function loadScenarioText(text: string) {
  counts.scenario++;
  const file = path.join(tmp, 'scenarios', `fuzz-${counter++}.yaml`);
  fs.writeFileSync(file, text);
  try {
    const r = await within('scenario', () => loadScenarioFile(file));
    checkResult(r, [file, ...runbookFiles()], text);
  } finally {
    fs.rmSync(file);
  }
}

async function loadSuiteText(text: string) {
  counts.suite++;
  const file = path.join(tmp, 'scenarios', `fuzz-suite-${counter++}.yaml`);
  fs.writeFileSync(file, text);
  try {
    const r = await within('suite', () => loadSuiteFile(file));
    // A suite also reports errors of the scenario files it lists.
    const members = fs.readdirSync(path.join(tmp, 'scenarios')).map((n) => path.join(tmp, 'scenarios', n));
    checkResult(r, [file, ...members, ...runbookFiles()], text);
  } finally {
    fs.rmSync(file);
  }
}

async function loadRunbookText(text: string) {
  counts.runbook++;
  const file = path.join(tmp, 'runbooks-fuzz', `fuzz-${counter++}.md`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  try {
    const r = await within('runbook', () => loadRunbook(file));
    checkResult(r, [file], text);
  } finally {
    fs.rmSync(file);
  }
}

const runbookFiles = () =>
  fs.readdirSync(path.join(tmp, 'runbooks')).map((n) => path.join(tmp, 'runbooks', n));

const params = (share: number) => ({
  numRuns: Math.max(1, Math.round(TOTAL * share)),
  ...(SEED !== undefined ? { seed: SEED } : {}),
});

describe('loader fuzzing', () => {
  it('scenarios: every mutated document accepted or rejected with located errors', async () => {
    await fc.assert(fc.asyncProperty(mutated(SCENARIOS), loadScenarioText), params(0.5));
  }, 600_000);

  it('suites: every mutated document accepted or rejected with located errors', async () => {
    await fc.assert(fc.asyncProperty(mutated([SUITE]), loadSuiteText), params(0.2));
  }, 600_000);

  it('runbooks: every mutated document accepted or rejected with located errors', async () => {
    await fc.assert(fc.asyncProperty(mutatedRunbook, loadRunbookText), params(0.3));
  }, 600_000);

  it('regressions: documents the fuzzer (or its authors) found', async () => {
    const scenario = SCENARIOS[0];
    for (const text of REGRESSIONS.scenario(scenario)) await loadScenarioText(text);
    // Each of these is refused, with the error on the alias.
    const file = path.join(tmp, 'scenarios', 'alias-regression.yaml');
    fs.writeFileSync(file, aliasBeforeAnchor(scenario));
    const r = await loadScenarioFile(file);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.errors[0]).toMatchObject({
        line:
          aliasBeforeAnchor(scenario)
            .split('\n')
            .findIndex((l) => l.startsWith('apiVersion')) + 1,
        message: expect.stringMatching(/alias/i),
      });
    fs.writeFileSync(file, billionLaughs(scenario));
    const laughs = await loadScenarioFile(file);
    expect(!laughs.ok && laughs.errors[0].message).toMatch(/billion laughs/);
    for (const text of REGRESSIONS.suite(SUITE)) await loadSuiteText(text);
    const rb = RUNBOOKS[0];
    const fm = splitFrontMatter(rb)!;
    for (const yaml of REGRESSIONS.runbookFrontMatter(fm.yaml))
      await loadRunbookText(`---\n${yaml}\n---\n${fm.body}`);
    console.info(`loader fuzz: ${JSON.stringify(counts)} documents (FAULTLINE_FUZZ_RUNS=${TOTAL})`);
    expect(counts.scenario + counts.suite + counts.runbook).toBeGreaterThanOrEqual(TOTAL);
  });
});

// Found by this fuzzer (seeds 1326207395 and -868371373 at FAULTLINE_FUZZ_RUNS=300, before the fix in
// PositionedDoc.toJS): an alias used before its anchor, an alias to no anchor and a billion-laughs
// document made yaml's toJS throw out of the loaders instead of giving a located error.
const aliasBeforeAnchor = (t: string) =>
  t.replace(/^apiVersion: (.*)$/m, 'apiVersion: *x').replace(/^kind: (.*)$/m, 'kind: &x $1');
// Found at FAULTLINE_FUZZ_RUNS=12000 (seeds -900760352, 961500448, -1759972776): a 100 000-character
// string where a metric, check or file name belongs took 2-5 s, the "did you mean" edit distance
// being quadratic in it (now skipped for candidates whose length alone rules them out).
const LONG = 'a'.repeat(100_000);
const REGRESSIONS = {
  scenario: (t: string) => [
    t.replace(/^(\s+- )(availability|latency|error_rate|fallback).*$/gm, `$1${LONG}`),
    t.replace(/^(\s+)type: [\w-]+$/m, `$1type: ${LONG}`),
    aliasBeforeAnchor(t),
    `${t}\nextra: *nowhere\n`,
    billionLaughs(t),
    `${t}\nx: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`,
  ],
  suite: (t: string) => [aliasBeforeAnchor(t), billionLaughs(t), t.replace('- drift.yaml', `- ${LONG}`)],
  runbookFrontMatter: (y: string) => [
    y.replace(/^(\s+- )(availability|latency|error_rate|quality).*$/gm, `$1${LONG}`),
    y.replace(/^(\s+signal: ).*$/m, `$1${LONG}`),
    y.replace(/^id: (.*)$/m, 'id: *x').replace(/^title: (.*)$/m, 'title: &x $1'),
    billionLaughs(y),
  ],
};
