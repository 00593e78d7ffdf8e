import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runReport, runReportSchema } from '../src/cli/commands/report.ts';
import { parseReport, ReportInputError, readReport, writeReportJson } from '../src/report/json.ts';
import { REPORT_SCHEMA_VERSION } from '../src/report/model.ts';
import { reportJsonSchema, reportJsonSchemaText } from '../src/report/schema.ts';
import { validate } from './helpers/json-schema-lite.ts';
import { sampleReport } from './helpers/sample-report.ts';

const dir = mkdtempSync(join(tmpdir(), 'faultline-report-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const published = JSON.parse(
  readFileSync(new URL('../src/report/report.schema.json', import.meta.url), 'utf8'),
);

function sink() {
  let text = '';
  const write = (s: string) => {
    text += s;
    return true;
  };
  return { stream: { write } as unknown as NodeJS.WritableStream, text: () => text };
}

function expectInputError(fn: () => unknown): ReportInputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ReportInputError);
    return e as ReportInputError;
  }
  throw new Error('expected a ReportInputError');
}

describe('report.json and its JSON Schema', () => {
  it('the committed report.schema.json is the one generated from the zod schema', () => {
    expect(readFileSync(new URL('../src/report/report.schema.json', import.meta.url), 'utf8')).toBe(
      reportJsonSchemaText(),
    );
    expect(published['x-faultline-schemaVersion']).toBe(REPORT_SCHEMA_VERSION);
    expect(published.properties.schemaVersion.const).toBe(REPORT_SCHEMA_VERSION);
    expect(published.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
  });

  it('a written report.json reads back identical and validates against the published schema', () => {
    const report = sampleReport({ scenarios: 6, errored: true });
    const file = join(dir, 'report.json');
    writeReportJson(file, report);
    expect(readReport(file)).toEqual(report);
    expect(validate(published, JSON.parse(readFileSync(file, 'utf8')))).toEqual([]);
    expect(validate(reportJsonSchema(), report)).toEqual([]);
  });

  it('the published schema rejects what the reader rejects', () => {
    const bad = structuredClone(sampleReport({ scenarios: 2 })) as any;
    bad.scenarios[1].timeline[3].p99 = 'slow';
    delete bad.scenarios[0].checks[0].measuredText;
    bad.run.verdict = 'green';
    const errs = validate(published, bad);
    expect(errs).toContain('$.scenarios[1].timeline[3].p99: expected number|null, found string');
    expect(errs).toContain('$.scenarios[0].checks[0].measuredText: required');
    expect(errs.some((e) => e.startsWith('$.run.verdict: not one of'))).toBe(true);
  });

  it('a corrupted report is rejected naming the file, the JSON path and what is wrong', () => {
    const bad = structuredClone(sampleReport({ scenarios: 2 })) as any;
    bad.scenarios[1].timeline[3].p99 = 'slow';
    delete bad.scenarios[0].checks[0].measuredText;
    bad.scenarios[0].markers[0].kind = 'explosion';
    const file = join(dir, 'corrupt.json');
    writeFileSync(file, JSON.stringify(bad));
    const e = expectInputError(() => readReport(file));
    expect(e.message).toContain(`${file} is not a valid faultline report`);
    expect(e.problems).toContain(
      'scenarios[1].timeline[3].p99: expected number, received string (found "slow")',
    );
    expect(e.problems).toContain('scenarios[0].checks[0].measuredText: missing (expected string)');
    expect(e.problems.find((p) => p.startsWith('scenarios[0].markers[0].kind:'))).toMatch(/"explosion"/);
    expect(e.problems).toHaveLength(3);
  });

  it('truncated JSON, a missing file, a wrong schemaVersion and a non-object each say so', () => {
    const report = JSON.stringify(sampleReport({ scenarios: 2 }));
    const truncated = join(dir, 'truncated.json');
    writeFileSync(truncated, report.slice(0, report.length / 2));
    expect(expectInputError(() => readReport(truncated)).problems[0]).toMatch(/^not valid JSON: /);
    expect(expectInputError(() => readReport(join(dir, 'nope.json'))).message).toMatch(
      /nope\.json cannot be read:\n {2}- no such file/,
    );
    const v2 = { ...JSON.parse(report), schemaVersion: 2 };
    expect(expectInputError(() => parseReport(v2, 'r.json')).problems).toEqual([
      'schemaVersion: this faultline reads schemaVersion 1, found 2',
    ]);
    expect(expectInputError(() => parseReport({ hello: 1 }, 'r.json')).problems[0]).toMatch(
      /schemaVersion: missing/,
    );
    expect(expectInputError(() => parseReport([1, 2], 'r.json')).problems[0]).toMatch(
      /expected a JSON object at the top level, found an array/,
    );
  });

  it('fields a newer writer added are tolerated (forward compatible), known fields stay strict', () => {
    const r = structuredClone(sampleReport({ scenarios: 2 })) as any;
    r.run.ciJobUrl = 'https://ci.example/1';
    r.scenarios[0].newMetric = { x: 1 };
    expect(() => parseReport(r)).not.toThrow();
    expect(validate(published, r)).toEqual([]);
  });

  it('`faultline report <dir>` exits 2 and names the file for a corrupted report.json, 2 for a missing folder', async () => {
    const run = join(dir, 'run-bad');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(run);
    writeFileSync(join(run, 'report.json'), '{"schemaVersion": 1, "run": {}}');
    const err = sink();
    expect(await runReport(run, { stderr: err.stream, stdout: sink().stream })).toBe(2);
    expect(err.text()).toContain(join(run, 'report.json'));
    expect(err.text()).toContain('run.id: missing');
    const err2 = sink();
    expect(await runReport(join(dir, 'no-such-run'), { stderr: err2.stream })).toBe(2);
    expect(err2.text()).toMatch(/no-such-run cannot be used:\n {2}- no such run directory/);
  });

  it('`faultline report schema` prints the published schema', async () => {
    const out = sink();
    expect(await runReportSchema({ stdout: out.stream })).toBe(0);
    expect(JSON.parse(out.text())).toEqual(published);
  });
});

type Loose = { scenarios: { checks: Record<string, unknown>[]; steadyState: Record<string, unknown>[] }[] };

describe('check status in report.json', () => {
  it('inconclusive round-trips; a report written before `status` existed reads it from `passed`; a bad status is rejected', () => {
    const r = structuredClone(sampleReport({ scenarios: 2 }));
    const c = r.scenarios[0].checks[0];
    Object.assign(c, { status: 'inconclusive', passed: false, measured: null, measuredText: 'n/a' });
    expect(parseReport(JSON.parse(JSON.stringify(r))).scenarios[0].checks[0].status).toBe('inconclusive');
    expect(validate(published, r)).toEqual([]);

    const old = structuredClone(sampleReport({ scenarios: 2 })) as unknown as Loose;
    for (const s of old.scenarios) for (const k of [...s.checks, ...s.steadyState]) delete k.status;
    expect(validate(published, old)).toEqual([]);
    const read = parseReport(old);
    for (const s of read.scenarios)
      for (const k of [...s.checks, ...s.steadyState]) expect(k.status).toBe(k.passed ? 'passed' : 'failed');

    const bad = structuredClone(sampleReport({ scenarios: 2 })) as unknown as Loose;
    bad.scenarios[0].checks[0].status = 'maybe';
    expect(expectInputError(() => parseReport(bad)).problems.join('\n')).toMatch(/status/);
    expect(validate(published, bad).length).toBeGreaterThan(0);
  });
});
