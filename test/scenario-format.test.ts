import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliIO, runList, runSchema, runValidate } from '../src/cli/commands/validate.ts';
import { METRIC_NAMES, METRICS, parseAbort, parseCheck } from '../src/scenario/checks.ts';
import type { ValidationError } from '../src/scenario/diagnostics.ts';
import { jsonSchema, scenarioJsonSchema } from '../src/scenario/json-schema.ts';
import {
  formatErrors,
  type LoadedScenario,
  loadPath,
  loadScenarioFile,
  loadSuiteFile,
} from '../src/scenario/load.ts';
import { expandSchedule, plannedPhases } from '../src/scenario/schedule.ts';
import { FAULT_TYPES } from '../src/scenario/schema.ts';
import { editDistance, suggest } from '../src/scenario/suggest.ts';
import { formatDuration, parseDuration, parsePercent, parseRate } from '../src/scenario/units.ts';

const ROOT = join(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'faultline-scenario-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RUNBOOK = `---
id: demo-runbook
title: Demo
severity: SEV3
detection: { signal: gateway-ejection, within: 20s }
mitigation: { automated: restart, within: 30s }
mttr_target: 45s
slos: [ "availability >= 99%" ]
---
## Detection
Look at the dashboard.
## Immediate mitigation
Restart.
## Root-cause analysis
Find out why.
## Post-mortem template
Fill in.
`;

const GOOD = `apiVersion: faultline/v1
kind: Scenario
metadata:
  name: demo
  runbook: demo-runbook
spec:
  load: { rate: 100/s, duration: 45s }
  faults:
    - type: pod-kill
      at: 15s
      target: { service: model-server, count: 1 }
  checks:
    - availability >= 99.5% during fault
    - mttr <= runbook
`;

let n = 0;
/** A project folder with scenarios/ and runbooks/ (the default layout) holding the given scenario. */
function project(yaml: string, extra: Record<string, string> = {}): { dir: string; file: string } {
  const dir = join(tmp, `p${n++}`);
  mkdirSync(join(dir, 'scenarios'), { recursive: true });
  mkdirSync(join(dir, 'runbooks'), { recursive: true });
  writeFileSync(join(dir, 'runbooks', 'demo-runbook.md'), RUNBOOK);
  const file = join(dir, 'scenarios', 'test.yaml');
  writeFileSync(file, yaml);
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return { dir, file };
}

/** 1-based line and column of the first occurrence of `needle` (optionally after `after`) in `text`. */
function pos(text: string, needle: string, after = ''): { line: number; column: number } {
  const start = after ? text.indexOf(after) : 0;
  const i = text.indexOf(needle, start);
  if (i < 0 || start < 0) throw new Error(`test bug: ${needle} not in text`);
  const before = text.slice(0, i).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

async function errorsOf(yaml: string): Promise<{ errors: ValidationError[]; file: string }> {
  const { file } = project(yaml);
  const r = await loadScenarioFile(file);
  if (r.ok) throw new Error('expected the scenario to be invalid');
  return { errors: r.errors, file };
}

function find(errors: ValidationError[], path: string): ValidationError {
  const e = errors.find((x) => x.path === path);
  if (!e) throw new Error(`no error at ${path}; got:\n${formatErrors(errors)}`);
  return e;
}

describe('units', () => {
  it('parses durations to milliseconds', () => {
    const ms = (s: string) => (parseDuration(s) as { value: number }).value;
    expect(ms('150ms')).toBe(150);
    expect(ms('15s')).toBe(15_000);
    expect(ms('2m')).toBe(120_000);
    expect(ms('1h')).toBe(3_600_000);
    expect(ms('1m30s')).toBe(90_000);
    expect(ms('1.5s')).toBe(1500);
    expect(parseDuration(0)).toEqual({ ok: true, value: 0 });
  });

  it('rejects bad durations saying what was found and what is expected', () => {
    const bare = parseDuration(15);
    expect(bare.ok).toBe(false);
    expect((bare as { error: string }).error).toMatch(
      /expected a duration like .*found number 15 \(add a unit, e\.g\. 15s\)/,
    );
    expect((parseDuration('5 s') as { error: string }).error).toContain('found "5 s"');
    expect((parseDuration('30s1m') as { error: string }).error).toContain('largest unit first');
    expect(parseDuration('').ok).toBe(false);
  });

  it('parses rates and percents', () => {
    expect(parseRate('200/s')).toEqual({ ok: true, value: 200 });
    expect(parseRate('12000/m')).toEqual({ ok: true, value: 200 });
    expect((parseRate('200') as { error: string }).error).toContain('expected a rate like 200/s');
    expect(parsePercent('99.5%')).toEqual({ ok: true, value: 0.995 });
    expect(parsePercent('99.9%')).toEqual({ ok: true, value: 0.999 });
    expect((parsePercent(0.995) as { error: string }).error).toContain('write 99.5%');
  });

  it('formats durations back canonically', () => {
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(150)).toBe('150ms');
    expect(formatDuration(0)).toBe('0s');
  });
});

describe('check expressions', () => {
  it('parses into typed ASTs', () => {
    expect(parseCheck('availability >= 99.5% during fault')).toEqual({
      ok: true,
      value: {
        metric: 'availability',
        op: '>=',
        value: { kind: 'percent', n: 0.995 },
        phase: 'fault',
        source: 'availability >= 99.5% during fault',
      },
    });
    expect(parseCheck('latency.p99<=200ms')).toMatchObject({
      ok: true,
      value: { metric: 'latency.p99', op: '<=', value: { kind: 'duration', n: 200 }, phase: 'whole' },
    });
    expect(parseCheck('mttr <= runbook')).toMatchObject({
      ok: true,
      value: { metric: 'mttr', value: { runbook: true } },
    });
    expect(parseCheck('fallback.share > 0 during fault')).toMatchObject({
      ok: true,
      value: { value: { kind: 'percent', n: 0 } },
    });
    expect(parseCheck('mitigation.observed == true')).toMatchObject({
      ok: true,
      value: { value: { kind: 'boolean', n: 1 } },
    });
    expect(parseCheck('throughput >= 12000/m')).toMatchObject({
      ok: true,
      value: { value: { kind: 'rate', n: 200 } },
    });
    expect(parseCheck('data_loss == 0')).toMatchObject({
      ok: true,
      value: { value: { kind: 'number', n: 0 } },
    });
  });

  it('suggests the metric a typo meant', () => {
    const r = parseCheck('availabilty >= 99%');
    expect(r).toMatchObject({ ok: false, offset: 0 });
    expect((r as { error: string }).error).toContain('did you mean "availability"');
    expect((parseCheck('latency.p9 <= 1s') as { error: string }).error).toMatch(
      /did you mean "latency\.p\d+"/,
    );
  });

  it('names the expected unit when the unit kind does not match the metric', () => {
    const r = parseCheck('latency.p99 >= 99%');
    expect(r).toMatchObject({ ok: false, offset: 15 });
    expect((r as { error: string }).error).toBe(
      'latency.p99 is a duration: expected a duration like 150ms, 15s, 2m, 1h or 1m30s, found "99%" (a percent)',
    );
    expect((parseCheck('availability >= 0.995') as { error: string }).error).toContain(
      'availability is a percent',
    );
  });

  it('rejects misuse of operators, phases and the runbook target', () => {
    expect((parseCheck('mitigation.observed > true') as { error: string }).error).toContain(
      'only == and != apply',
    );
    expect((parseCheck('availability = 99%') as { error: string }).error).toContain('did you mean "=="');
    expect((parseCheck('availability >= runbook') as { error: string }).error).toContain(
      'only applies to mttd, mttr, rollback.time',
    );
    expect((parseCheck('availability >= 99% during fualt') as { error: string }).error).toContain(
      'did you mean "fault"',
    );
    expect((parseCheck('mttr <= 30s during fault') as { error: string }).error).toContain('not over a phase');
    expect((parseCheck('mttr <= 30s', { context: 'steady' }) as { error: string }).error).toContain(
      'steady-state',
    );
    expect(
      (parseCheck('availability >= 99% during fault', { context: 'slo' }) as { error: string }).error,
    ).toContain('runbook SLOs');
  });

  it('parses abort conditions', () => {
    expect(parseAbort('error_rate > 50% for 5s')).toMatchObject({
      ok: true,
      value: { metric: 'error_rate', op: '>', value: { n: 0.5 }, forMs: 5000 },
    });
    expect((parseAbort('error_rate > 50%') as { error: string }).error).toContain(
      'expected "for <duration>"',
    );
    expect((parseAbort('error_rate > 50% for 5') as { error: string }).error).toContain('add a unit');
  });

  it('has a meaning and unit for every metric', () => {
    expect(METRIC_NAMES).toHaveLength(27);
    for (const m of METRIC_NAMES) {
      expect(METRICS[m].meaning.length).toBeGreaterThan(10);
      expect(['duration', 'rate', 'percent', 'number', 'boolean']).toContain(METRICS[m].unit);
    }
  });

  it('computes edit distances with transpositions', () => {
    expect(editDistance('latnecy', 'latency')).toBe(1);
    expect(suggest('tagz', ['tags', 'name'])).toBe('tags');
    expect(suggest('zzzzzz', ['tags', 'name'])).toBeUndefined();
  });
});

describe('shipped scenarios', () => {
  it('every scenario and the game day load clean', async () => {
    const r = await loadPath(join(ROOT, 'scenarios'));
    if (!r.ok) throw new Error(formatErrors(r.errors));
    const scenarios = r.value.filter((x): x is LoadedScenario => x.kind === 'Scenario');
    // One scenario per fault type, plus the browser user journey; each with a runbook that loaded.
    expect(scenarios).toHaveLength(7);
    expect(new Set(scenarios.flatMap((s) => s.schedule.map((f) => f.fault.type)))).toEqual(
      new Set(FAULT_TYPES),
    );
    for (const s of scenarios) {
      expect(s.runbook?.id).toBe(s.scenario.metadata.runbook);
      const ms = s.scenario.spec.load.duration!;
      expect(ms).toBeGreaterThanOrEqual(40_000);
      expect(ms).toBeLessThanOrEqual(50_000);
      expect(s.scenario.spec.checks.some((c) => c.metric === 'mttr')).toBe(true);
    }
    const suite = await loadSuiteFile(join(ROOT, 'scenarios', 'game-day.yaml'));
    if (!suite.ok) throw new Error(formatErrors(suite.errors));
    // The game day runs everything but the browser journey (which needs Chromium).
    expect(suite.value.scenarios.map((s) => s.scenario.metadata.name).sort()).toEqual(
      scenarios
        .filter((s) => s.scenario.spec.probes.length === 0)
        .map((s) => s.scenario.metadata.name)
        .sort(),
    );
    const total = suite.value.scenarios.reduce((a, s) => a + s.scenario.spec.load.duration!, 0);
    expect(total).toBeLessThanOrEqual(5 * 60_000);
  });
});

describe('broken scenario files', () => {
  it('reports an unknown field at its key, with a suggestion', async () => {
    const yaml = GOOD.replace('  runbook: demo-runbook\n', '  runbook: demo-runbook\n  tagz: [x]\n');
    const { errors, file } = await errorsOf(yaml);
    const e = find(errors, 'metadata.tagz');
    expect(e).toMatchObject({ file, ...pos(yaml, 'tagz') });
    expect(e.message).toBe('unknown field "tagz" — did you mean "tags"?');
  });

  it('reports a bad duration at its value', async () => {
    const yaml = GOOD.replace('at: 15s', 'at: 15 s');
    const { errors, file } = await errorsOf(yaml);
    expect(find(errors, 'spec.faults[0].at')).toMatchObject({ file, ...pos(yaml, '15 s') });
    expect(find(errors, 'spec.faults[0].at').message).toContain('expected a duration like');
    expect(find(errors, 'spec.faults[0].at').message).toContain('found "15 s"');
  });

  it('reports a bad check expression at the offending token inside the string', async () => {
    const yaml = GOOD.replace('availability >= 99.5% during fault', 'availability >= 99.5% during fualt');
    const { errors } = await errorsOf(yaml);
    const e = find(errors, 'spec.checks[0]');
    expect(e).toMatchObject(pos(yaml, 'fualt'));
    expect(e.message).toContain('did you mean "fault"');
    // Quoted strings are mapped too (+1 for the quote).
    const quoted = GOOD.replace(
      '- availability >= 99.5% during fault',
      '- "availabilty >= 99.5% during fault"',
    );
    const q = find((await errorsOf(quoted)).errors, 'spec.checks[0]');
    expect(q).toMatchObject(pos(quoted, 'availabilty'));
  });

  it('reports a wrong unit kind naming the expected unit', async () => {
    const yaml = GOOD.replace('availability >= 99.5% during fault', 'latency.p99 >= 99% during fault');
    const e = find((await errorsOf(yaml)).errors, 'spec.checks[0]');
    expect(e).toMatchObject(pos(yaml, '99%'));
    expect(e.message).toContain('latency.p99 is a duration: expected a duration');
  });

  it('reports a runbook missing from the runbook directory', async () => {
    const yaml = GOOD.replace('runbook: demo-runbook', 'runbook: demo-runbok');
    const e = find((await errorsOf(yaml)).errors, 'metadata.runbook');
    expect(e).toMatchObject(pos(yaml, 'demo-runbok'));
    expect(e.message).toMatch(
      /runbook "demo-runbok" not found: no .*demo-runbok\.md — did you mean "demo-runbook"\?/,
    );
  });

  it('honours an explicit runbook directory', async () => {
    const { file, dir } = project(GOOD);
    const other = join(dir, 'elsewhere');
    mkdirSync(other);
    const r = await loadScenarioFile(file, { runbookDir: other });
    expect(r.ok).toBe(false);
    expect(formatErrors((r as { errors: ValidationError[] }).errors)).toContain(
      join(other, 'demo-runbook.md'),
    );
  });

  it('reports a fault that runs past the end of the load, naming the field', async () => {
    const yaml = GOOD.replace('      at: 15s\n', '      at: 40s\n      duration: 10s\n');
    const e = find((await errorsOf(yaml)).errors, 'spec.faults[0].duration');
    expect(e).toMatchObject(pos(yaml, '10s', 'duration:'));
    expect(e.message).toBe('at 40s + duration 10s = 50s, after the load ends (spec.load.duration 45s)');
    const atYaml = GOOD.replace('at: 15s', 'at: 50s');
    expect(find((await errorsOf(atYaml)).errors, 'spec.faults[0].at').message).toContain(
      'after the load ends',
    );
  });

  it('reports YAML syntax errors with their position', async () => {
    const yaml = GOOD.replace(
      '  load: { rate: 100/s, duration: 45s }',
      '  load: { rate: 100/s, duration: 45s',
    );
    const { errors, file } = await errorsOf(yaml);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0].file).toBe(file);
    expect(errors[0].message).toMatch(/^YAML syntax error: /);
    expect(errors[0].line).toBeGreaterThanOrEqual(7);
    const dup = GOOD.replace('  name: demo\n', '  name: demo\n  name: again\n');
    const d = (await errorsOf(dup)).errors[0];
    expect(d).toMatchObject({ ...pos(dup, 'name: again') });
    expect(d.message).toContain('unique');
  });

  it('collects every error of a file, not just the first', async () => {
    const yaml = `apiVersion: faultline/v1
kind: Scenario
metadata: { name: demo, runbook: nope }
spec:
  load: { rate: 100, duration: 45s, sed: 1 }
  warmup: 5s
  faults:
    - type: pod-kil
      at: 15s
    - type: latency
      at: 3s
      duration: 5s
      link: model-server->feature-server
      jiter: 10ms
  checks: [ "availability >= 99.5% during fault", "mttr <= 1x" ]
  abort: [ "error_rate > 50%" ]
`;
    const { errors } = await errorsOf(yaml);
    const paths = errors.map((e) => e.path);
    for (const p of [
      'metadata.runbook',
      'spec.load.rate',
      'spec.load.sed',
      'spec.faults[0].type',
      'spec.faults[1].at',
      'spec.faults[1].jiter',
      'spec.faults[1]',
      'spec.checks[1]',
      'spec.abort[0]',
    ]) {
      expect(paths, formatErrors(errors)).toContain(p);
    }
    expect(find(errors, 'spec.faults[0].type').message).toContain('did you mean "pod-kill"');
    expect(find(errors, 'spec.load.rate').message).toContain('add a unit, e.g. 100/s');
    expect(find(errors, 'spec.faults[1].at').message).toContain('inside the 5s warmup');
    expect(find(errors, 'spec.faults[1]').message).toContain(
      'missing required field "latency" for toxic latency',
    );
    expect(find(errors, 'spec.faults[1].jiter').message).toContain('did you mean "jitter"');
    // Errors come sorted by position.
    const lines = errors.map((e) => e.line);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
  });

  it('checks schedules: serial overlap, repeat and parallel groups', async () => {
    const yaml = GOOD.replace(
      / {2}faults:[\s\S]*? {2}checks:/,
      `  faults:
    - type: dependency-outage
      at: 10s
      duration: 10s
      service: feature-server
      repeat: { every: 5s, times: 2 }
    - type: drift
      at: 12s
      duration: 5s
      feature: amount
      kind: shift
      amount: +50%
    - parallel:
        - { type: pod-kill, target: { service: gateway, count: 1 } }
        - { type: latency, at: 31s, link: model-server->registry, latency: 100ms, duration: 5s }
      at: 30s
  checks:`,
    );
    const { errors } = await errorsOf(yaml);
    expect(find(errors, 'spec.faults[0].repeat.every').message).toContain(
      "shorter than the fault's duration 10s",
    );
    expect(find(errors, 'spec.faults[1].at').message).toContain('faults run serially');
    expect(find(errors, 'spec.faults[2].parallel[1].at').message).toContain("group's at (30s)");
  });

  it('expands a valid schedule and plans phases', async () => {
    const yaml = GOOD.replace(
      / {2}faults:[\s\S]*? {2}checks:/,
      `  faults:
    - type: pod-kill
      at: 10s
      target: { service: model-server, percent: 50% }
      repeat: { every: 10s, times: 2 }
    - parallel:
        - { type: latency, link: gateway->model-server-0, latency: 100ms, duration: 5s }
        - { type: feature-corruption, mode: stale, fraction: 0.2, duration: 5s }
      at: 31s
  checks:`,
    ).replace('duration: 45s', 'duration: 50s');
    const { file } = project(yaml);
    const r = await loadScenarioFile(file);
    if (!r.ok) throw new Error(formatErrors(r.errors));
    const sched = r.value.schedule.map((f) => [f.id, f.fault.type, f.startMs, f.endMs, f.reverts]);
    expect(sched).toEqual([
      ['faults[0]', 'pod-kill', 10_000, 20_000, false],
      ['faults[0]', 'pod-kill', 20_000, 30_000, false],
      ['faults[1].parallel[0]', 'latency', 31_000, 36_000, true],
      ['faults[1].parallel[1]', 'feature-corruption', 31_000, 36_000, true],
    ]);
    // Parallel members carry the group's at after parsing.
    expect(r.value.schedule[2].fault.at).toBe(31_000);
    expect(plannedPhases(r.value.scenario)).toEqual({
      steady: { startMs: 5000, endMs: 10_000 },
      fault: { startMs: 10_000, endMs: 36_000 },
      recovery: { startMs: 36_000, endMs: 50_000 },
      whole: { startMs: 5000, endMs: 50_000 },
    });
    expect(expandSchedule(r.value.scenario)).toHaveLength(4);
  });

  it('requires what a check depends on', async () => {
    const yaml = GOOD.replace('  runbook: demo-runbook\n', '').replace(
      '    - mttr <= runbook\n',
      '    - mttr <= runbook\n    - drift.detection_time <= 30s\n    - browser.success >= 90%\n',
    );
    const { errors } = await errorsOf(yaml);
    expect(find(errors, 'spec.checks[1]').message).toContain('needs metadata.runbook');
    expect(find(errors, 'spec.checks[2]').message).toContain('needs a drift fault');
    expect(find(errors, 'spec.checks[3]').message).toContain('needs a browser probe');
  });

  it('reports a wrong kind with a suggestion', async () => {
    const yaml = GOOD.replace('kind: Scenario', 'kind: Scenaro');
    const { file } = project(yaml);
    const r = await loadPath(file);
    expect(r.ok).toBe(false);
    const e = (r as { errors: ValidationError[] }).errors[0];
    expect(e).toMatchObject({ path: 'kind', ...pos(yaml, 'Scenaro') });
    expect(e.message).toContain('did you mean "Scenario"');
  });

  it('reports a suite that names a missing scenario file', async () => {
    const suite = `apiVersion: faultline/v1
kind: Suite
metadata: { name: gd }
spec:
  scenarios: [ test.yaml, tset2.yaml ]
`;
    const { dir } = project(GOOD);
    const file = join(dir, 'scenarios', 'gd.yaml');
    writeFileSync(file, suite);
    const r = await loadSuiteFile(file);
    expect(r.ok).toBe(false);
    const e = find((r as { errors: ValidationError[] }).errors, 'spec.scenarios[1]');
    expect(e).toMatchObject({ file, ...pos(suite, 'tset2.yaml') });
    expect(e.message).toMatch(/scenario file not found: .*tset2\.yaml — did you mean "test\.yaml"\?/);
  });

  it('rejects an unknown fault parameter combination on external targets', async () => {
    const yaml = GOOD.replace(
      'spec:\n',
      'spec:\n  target: { gateway: "http://127.0.0.1:9" }\n  pipeline: { replicas: 2 }\n',
    );
    const { errors } = await errorsOf(yaml);
    expect(find(errors, 'spec.pipeline').message).toContain('only applies to target: reference');
    expect(find(errors, 'spec.faults[0]').message).toContain('--platform kubernetes in attach mode');
  });
});

describe('JSON Schema export', () => {
  it('is a draft 2020-12 schema describing both document kinds', () => {
    const s = jsonSchema();
    expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    const variants = (s.anyOf ?? s.oneOf) as Array<{ properties: Record<string, { const?: string }> }>;
    expect(variants.map((v) => v.properties.kind.const).sort()).toEqual(['Scenario', 'Suite']);
    const sc = scenarioJsonSchema() as {
      properties: {
        spec: {
          properties: Record<string, { anyOf?: Array<{ pattern?: string }>; default?: unknown }>;
          additionalProperties: boolean;
        };
      };
      required: string[];
      additionalProperties: boolean;
    };
    expect(sc.required).toEqual(expect.arrayContaining(['apiVersion', 'kind', 'metadata', 'spec']));
    expect(sc.additionalProperties).toBe(false);
    expect(sc.properties.spec.additionalProperties).toBe(false);
    // Units are described as written in the file, and the pattern accepts what the parser accepts.
    const warmup = sc.properties.spec.properties.warmup;
    expect(warmup.default).toBe('5s');
    const pattern = new RegExp(warmup.anyOf!.find((a) => a.pattern)!.pattern!);
    for (const ok of ['150ms', '15s', '1m30s']) expect(pattern.test(ok)).toBe(true);
    expect(pattern.test('15 s')).toBe(false);
  });
});

describe('CLI commands', () => {
  const capture = (): CliIO & { stdout: string[]; stderr: string[] } => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
  };

  it('validate prints ✓ per valid file and exits 0', async () => {
    const io = capture();
    expect(await runValidate([join(ROOT, 'scenarios')], { io })).toBe(0);
    expect(io.stdout.filter((l) => l.startsWith('✓ '))).toHaveLength(8);
    expect(io.stderr).toEqual([]);
  });

  it('validate prints file:line:col errors and exits 2', async () => {
    const yaml = GOOD.replace('at: 15s', 'at: 15 s');
    const { file, dir } = project(yaml);
    writeFileSync(join(dir, 'scenarios', 'ok.yaml'), GOOD);
    const io = capture();
    expect(await runValidate([join(dir, 'scenarios')], { io })).toBe(2);
    const { line, column } = pos(yaml, '15 s');
    expect(io.stderr.join('\n')).toContain(
      `${file}:${line}:${column} spec.faults[0].at: expected a duration`,
    );
    expect(io.stdout.join('\n')).toContain('ok.yaml');
  });

  it('schema prints JSON and list prints a table', async () => {
    const io = capture();
    expect(await runSchema({ io })).toBe(0);
    expect(JSON.parse(io.stdout.join(''))).toHaveProperty('$schema');
    const io2 = capture();
    expect(await runList([join(ROOT, 'scenarios')], { io: io2 })).toBe(0);
    const out = io2.stdout.join('\n');
    expect(out).toContain('model-server-pod-kill');
    expect(out).toContain('suite: 6 scenarios');
  });
});

describe('model quality in scenarios', () => {
  it('parses load.fraudShare and quality checks', async () => {
    const yaml = GOOD.replace('duration: 45s }', 'duration: 45s, fraudShare: 20% }').replace(
      '    - mttr <= runbook',
      '    - mttr <= runbook\n    - quality.auc >= 0.85 during fault\n    - quality.precision >= 40% during steady',
    );
    const { file } = project(yaml);
    const r = await loadScenarioFile(file);
    if (!r.ok) throw new Error(formatErrors(r.errors));
    expect(r.value.scenario.spec.load.fraudShare).toBe(0.2);
    const q = parseCheck('quality.logloss <= 0.3 during fault');
    expect(q.ok && q.value).toMatchObject({ metric: 'quality.logloss', value: { kind: 'number', n: 0.3 } });
    const slo = parseCheck('quality.recall >= 60%', { context: 'slo' });
    expect(slo.ok && slo.value).toMatchObject({ metric: 'quality.recall', value: { n: 0.6 } });
    const typo = parseCheck('quality.acu >= 0.9');
    expect(!typo.ok && typo.error).toMatch(/did you mean "quality.auc"/);
  });

  it('rejects a fraud share outside 0..100%, with a k6 script of its own, and quality abort conditions', async () => {
    const bad = await errorsOf(GOOD.replace('duration: 45s }', 'duration: 45s, fraudShare: 150% }'));
    expect(find(bad.errors, 'spec.load.fraudShare').message).toMatch(/fraction|100%|between/);
    const withQuality = (load: string) =>
      GOOD.replace('load: { rate: 100/s, duration: 45s }', load).replace(
        '    - mttr <= runbook',
        '    - mttr <= runbook\n    - quality.auc >= 0.85 during fault',
      );
    const k6 = await errorsOf(
      withQuality('load: { driver: k6, script: team.ts, rate: 100/s, duration: 45s, fraudShare: 0.2 }'),
    );
    expect(find(k6.errors, 'spec.load.fraudShare').message).toMatch(/this k6 script sends its own/);
    expect(find(k6.errors, 'spec.checks[2]').message).toMatch(/true labels/);
    // Without a script of its own, k6 runs the script Faultline generates: the generator's payloads and labels.
    const { file } = project(
      withQuality('load: { driver: k6, rate: 100/s, duration: 45s, fraudShare: 0.2 }'),
    );
    const ok = await loadScenarioFile(file);
    if (!ok.ok) throw new Error(formatErrors(ok.errors));
    const drift = await errorsOf(
      GOOD.replace(
        'load: { rate: 100/s, duration: 45s }',
        'load: { driver: k6, rate: 100/s, duration: 45s }',
      ).replace(
        '    - type: pod-kill\n      at: 15s\n      target: { service: model-server, count: 1 }',
        '    - { type: drift, at: 15s, duration: 10s, feature: amount, kind: scale, amount: 2 }',
      ),
    );
    expect(find(drift.errors, 'spec.faults[0]').message).toMatch(/drift needs driver: builtin/);
    const abort = await errorsOf(`${GOOD}  abort: [ "quality.auc < 0.6 for 5s" ]\n`);
    expect(find(abort.errors, 'spec.abort[0]').message).toMatch(/label count/);
  });
});

describe('docs', () => {
  it('docs/scenarios.md documents every metric and fault type', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'scenarios.md'), 'utf8');
    for (const m of METRIC_NAMES) expect(doc, m).toContain(`\`${m}\``);
    for (const t of FAULT_TYPES) expect(doc, t).toContain(`\`${t}\``);
  });
});
