import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type CliIO, runRunbooksExport, runRunbooksLint } from '../src/cli/commands/validate.ts';
import { exportAlertRules } from '../src/runbooks/export.ts';
import { lintRunbooks, loadRunbook, loadRunbookDir } from '../src/runbooks/load.ts';
import { MITIGATIONS, parseSignal, SIGNAL_NAMES } from '../src/runbooks/schema.ts';
import { resolveRunbook } from '../src/runner/suite.ts';
import { formatErrors, type ValidationError } from '../src/scenario/diagnostics.ts';

const ROOT = join(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'faultline-runbook-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SHIPPED = [
  'bad-model-rollout',
  'data-drift',
  'feature-store-corruption',
  'feature-store-latency',
  'feature-store-outage',
  'model-server-crash',
];

const GOOD = `---
id: demo
title: Demo failure
severity: SEV2
detection:
  signal: controller-alert:HighErrorRate
  within: 20s
mitigation:
  automated: rollback
  within: 30s
mttr_target: 60s
slos:
  - availability >= 99%
  - latency.p99 <= 300ms
alert:
  expr: sum(rate(gateway_requests_total{code=~"5.."}[1m])) / sum(rate(gateway_requests_total[1m])) > 0.05
  for: 1m
---

# Demo failure

## Detection
Watch the error rate.

## Immediate mitigation
1. Roll back.

## Root-cause analysis
Ask why.

## Post-mortem template
- Summary
`;

let n = 0;
function write(text: string, id = 'demo'): string {
  const dir = join(tmp, `d${n++}`);
  mkdirSync(dir);
  const file = join(dir, `${id}.md`);
  writeFileSync(file, text);
  return file;
}

function pos(text: string, needle: string): { line: number; column: number } {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`test bug: ${needle} not in text`);
  const before = text.slice(0, i).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

async function errorsOf(text: string, id = 'demo'): Promise<ValidationError[]> {
  const r = await loadRunbook(write(text, id));
  if (r.ok) throw new Error('expected the runbook to be invalid');
  return r.errors;
}

const find = (errors: ValidationError[], pred: (e: ValidationError) => boolean): ValidationError => {
  const e = errors.find(pred);
  if (!e) throw new Error(`no matching error in:\n${formatErrors(errors)}`);
  return e;
};

describe('shipped runbooks', () => {
  it('all lint clean and cover every failure mode', async () => {
    const errors = await lintRunbooks(join(ROOT, 'runbooks'));
    expect(formatErrors(errors)).toBe('');
    const r = await loadRunbookDir(join(ROOT, 'runbooks'));
    if (!r.ok) throw new Error(formatErrors(r.errors));
    expect(r.value.map((rb) => rb.id)).toEqual(SHIPPED);
    for (const rb of r.value) {
      expect(rb.sections.map((s) => s.title)).toEqual(
        expect.arrayContaining([
          'Detection',
          'Immediate mitigation',
          'Root-cause analysis',
          'Post-mortem template',
        ]),
      );
      expect(rb.alert, rb.id).toBeDefined();
      expect(rb.detection.within).toBeLessThanOrEqual(rb.mttr_target);
      // Real prose, not placeholders.
      expect(rb.body.length, rb.id).toBeGreaterThan(2500);
    }
    // A bad model or drift answers 200 OK: only a quality SLO can make their MTTR fail.
    const quality = (id: string) =>
      r.value
        .find((rb) => rb.id === id)!
        .slos.filter((c) => c.metric.startsWith('quality.'))
        .map((c) => c.source);
    expect(quality('bad-model-rollout')).toEqual(['quality.auc >= 0.85', 'quality.precision >= 40%']);
    expect(quality('data-drift')).toEqual(['quality.auc >= 0.85']);
  });

  it('runbook quality SLOs resolve to runner SLOs (fractions), not dropped', async () => {
    const r = await loadRunbook(
      write(
        GOOD.replace(
          '  - latency.p99 <= 300ms',
          '  - latency.p99 <= 300ms\n  - quality.recall >= 60%\n  - quality.logloss <= 0.3',
        ),
      ),
    );
    if (!r.ok) throw new Error(formatErrors(r.errors));
    expect(resolveRunbook(r.value).targets.slos.slice(2)).toEqual([
      { metric: 'quality.recall', op: '>=', value: 0.6 },
      { metric: 'quality.logloss', op: '<=', value: 0.3 },
    ]);
  });
});

describe('front matter', () => {
  it('loads typed values', async () => {
    const r = await loadRunbook(write(GOOD));
    if (!r.ok) throw new Error(formatErrors(r.errors));
    const rb = r.value;
    expect(rb.detection).toEqual({
      signal: { kind: 'controller-alert', arg: 'HighErrorRate', source: 'controller-alert:HighErrorRate' },
      within: 20_000,
    });
    expect(rb.mitigation).toEqual({ automated: 'rollback', within: 30_000 });
    expect(rb.mttr_target).toBe(60_000);
    expect(rb.slos.map((s) => [s.metric, s.op, s.value])).toEqual([
      ['availability', '>=', { kind: 'percent', n: 0.99 }],
      ['latency.p99', '<=', { kind: 'duration', n: 300 }],
    ]);
    expect(rb.sections[0]).toEqual({ title: 'Detection', line: pos(GOOD, '## Detection').line });
  });

  it('rejects SLOs that cannot define recovery (== / != and non-window SLIs) at their position', async () => {
    // They used to be dropped silently, leaving MTTR without the SLO the author wrote.
    const text = GOOD.replace(
      '  - availability >= 99%',
      '  - availability == 100%\n  - error_rate != 5%\n  - throughput >= 10/s',
    );
    const errors = await errorsOf(text);
    expect(find(errors, (e) => e.path === 'slos[0]')).toMatchObject({
      ...pos(text, '== 100%'),
      message: expect.stringContaining('not "=="'),
    });
    expect(find(errors, (e) => e.path === 'slos[1]')).toMatchObject(pos(text, '!= 5%'));
    expect(find(errors, (e) => e.path === 'slos[2]').message).toContain('cannot define recovery');
  });

  it('parses detection signals', () => {
    expect(parseSignal('drift-gauge:amount')).toEqual({
      ok: true,
      value: { kind: 'drift-gauge', arg: 'amount', source: 'drift-gauge:amount' },
    });
    expect(parseSignal('breaker-open')).toMatchObject({ ok: true, value: { kind: 'breaker-open' } });
    expect((parseSignal('breaker-open:x') as { error: string }).error).toContain('takes no ":<arg>"');
    expect((parseSignal('drift-guage') as { error: string }).error).toContain('did you mean "drift-gauge"');
    expect(SIGNAL_NAMES).toHaveLength(8);
    // What the platform did is mitigation evidence, not detection.
    expect((parseSignal('replica-restart') as { error: string }).error).toContain('not a detection signal');
  });

  it('reports errors at file lines (shifted past the opening ---), with suggestions', async () => {
    const text = GOOD.replace('signal: controller-alert:HighErrorRate', 'signal: drift-guage')
      .replace('severity: SEV2', 'severity: SEV5')
      .replace('  - availability >= 99%', '  - availability >= 99% during fault')
      .replace('mttr_target: 60s', 'mttr_target: 60s\nownr: me');
    const errors = await errorsOf(text);
    expect(find(errors, (e) => e.path === 'detection.signal')).toMatchObject(pos(text, 'drift-guage'));
    expect(find(errors, (e) => e.path === 'detection.signal').message).toContain(
      'did you mean "drift-gauge"',
    );
    expect(find(errors, (e) => e.path === 'severity')).toMatchObject({
      ...pos(text, 'SEV5'),
      message: expect.stringContaining('expected one of "SEV1"'),
    });
    expect(find(errors, (e) => e.path === 'slos[0]')).toMatchObject(pos(text, 'during fault'));
    expect(find(errors, (e) => e.path === 'ownr')).toMatchObject({
      ...pos(text, 'ownr'),
      message: 'unknown field "ownr" — did you mean "owner"?',
    });
  });

  it('requires the id to equal the file name and targets to fit the MTTR', async () => {
    const text = GOOD.replace('within: 30s', 'within: 2m');
    const errors = await errorsOf(text, 'other-name');
    expect(find(errors, (e) => e.path === 'id')).toMatchObject({
      ...pos(text, 'demo'),
      message: expect.stringContaining('must equal the file name'),
    });
    expect(find(errors, (e) => e.path === 'mitigation.within').message).toBe(
      'mitigation.within 2m is longer than mttr_target 1m',
    );
  });

  it('requires mitigation.within unless the mitigation is none', async () => {
    const text = GOOD.replace('  within: 30s\n', '');
    expect(find(await errorsOf(text), (e) => e.path === 'mitigation').message).toContain(
      'missing required field "within"',
    );
    const none = GOOD.replace('automated: rollback\n  within: 30s', 'automated: none');
    expect((await loadRunbook(write(none))).ok).toBe(true);
    expect(MITIGATIONS).toContain('none');
  });

  it('reports missing front matter', async () => {
    const errors = await errorsOf('# Just markdown\n');
    expect(errors[0]).toMatchObject({
      line: 1,
      column: 1,
      message: expect.stringContaining('missing YAML front matter'),
    });
  });

  it('reports YAML syntax errors in the front matter at file lines', async () => {
    const text = GOOD.replace('title: Demo failure', 'title: [Demo failure');
    const errors = await errorsOf(text);
    expect(errors[0].message).toMatch(/^YAML syntax error/);
    expect(errors[0].line).toBeGreaterThanOrEqual(pos(text, 'title').line);
  });
});

describe('sections', () => {
  it('reports a missing section at the line where it belongs', async () => {
    const text = GOOD.replace('## Root-cause analysis\nAsk why.\n\n', '');
    const errors = await errorsOf(text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      line: pos(text, '## Post-mortem template').line,
      column: 1,
      message: 'missing section "## Root-cause analysis" (expected before "## Post-mortem template")',
    });
    const last = GOOD.replace('## Post-mortem template\n- Summary\n', '');
    const e = (await errorsOf(last))[0];
    expect(e.message).toBe('missing section "## Post-mortem template"');
    expect(e.line).toBe(last.split('\n').length);
  });

  it('reports empty and out-of-order sections, and ignores headings in code fences', async () => {
    const empty = GOOD.replace('Ask why.\n', '');
    expect((await errorsOf(empty))[0]).toMatchObject({
      line: pos(empty, '## Root-cause analysis').line,
      message: 'section "## Root-cause analysis" is empty',
    });
    const swapped = GOOD.replace(
      '## Detection\nWatch the error rate.\n\n## Immediate mitigation\n1. Roll back.\n',
      '## Immediate mitigation\n1. Roll back.\n\n## Detection\nWatch the error rate.\n',
    );
    expect((await errorsOf(swapped))[0].message).toContain('should come after "## Detection"');
    const fenced = GOOD.replace('## Root-cause analysis\nAsk why.\n', '```md\n## Root-cause analysis\n```\n');
    expect((await errorsOf(fenced)).map((e) => e.message)).toContain(
      'missing section "## Root-cause analysis" (expected before "## Post-mortem template")',
    );
  });
});

describe('alert export', () => {
  const capture = (): CliIO & { stdout: string[]; stderr: string[] } => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
  };

  it('writes Prometheus rule groups with labels and annotations', async () => {
    const r = await loadRunbookDir(join(ROOT, 'runbooks'));
    if (!r.ok) throw new Error(formatErrors(r.errors));
    const doc = parse(exportAlertRules(r.value, { runbookBaseUrl: 'https://runbooks.example.com/fraud/' }));
    const rules = doc.groups[0].rules as Array<Record<string, Record<string, string>>>;
    expect(doc.groups[0].name).toBe('faultline-runbooks');
    expect(rules).toHaveLength(6);
    const crash = rules.find((x) => x.labels.runbook === 'model-server-crash')!;
    expect(crash).toMatchObject({
      alert: 'ModelServerReplicaDown',
      for: '30s',
      labels: { severity: 'SEV3', runbook: 'model-server-crash' },
      annotations: { runbook: 'https://runbooks.example.com/fraud/model-server-crash.md' },
    });
    // Default alert name: the id in PascalCase.
    const good = await loadRunbook(write(GOOD));
    if (!good.ok) throw new Error(formatErrors(good.errors));
    expect(parse(exportAlertRules([good.value])).groups[0].rules[0]).toMatchObject({
      alert: 'Demo',
      for: '1m',
      annotations: { summary: 'Demo failure' },
    });
  });

  it('passes promtool check rules', async () => {
    // CI installs promtool (Debian package `prometheus`); a missing promtool is a failure, not a skip.
    let version = '';
    try {
      version = execFileSync('promtool', ['--version'], { encoding: 'utf8' });
    } catch {
      throw new Error(
        'promtool not found: install it (apt-get install -y prometheus) to validate the alert export',
      );
    }
    expect(version).toContain('promtool');
    const io = capture();
    const out = join(tmp, 'rules.yml');
    expect(await runRunbooksExport(join(ROOT, 'runbooks'), { io, output: out })).toBe(0);
    const result = execFileSync('promtool', ['check', 'rules', out], { encoding: 'utf8' });
    expect(result).toContain('SUCCESS: 6 rules found');
    // And promtool does catch a broken expression, so the check above means something.
    const bad = join(tmp, 'bad.yml');
    writeFileSync(bad, readFileSync(out, 'utf8').replace('> 0.2', '> > 0.2'));
    expect(() => execFileSync('promtool', ['check', 'rules', bad], { stdio: 'pipe' })).toThrow();
  });

  it('runbooks lint and export commands exit 2 on invalid runbooks', async () => {
    const file = write(GOOD.replace('severity: SEV2', 'severity: SEV9'));
    const dir = join(file, '..');
    const io = capture();
    expect(await runRunbooksLint(dir, { io })).toBe(2);
    expect(io.stderr.join('\n')).toContain(
      `demo.md:${pos(GOOD, 'SEV2').line}:${pos(GOOD, 'SEV2').column} severity:`,
    );
    expect(await runRunbooksExport(dir, { io: capture() })).toBe(2);
    const ok = capture();
    expect(await runRunbooksLint(join(ROOT, 'runbooks'), { io: ok })).toBe(0);
    expect(ok.stdout).toHaveLength(6);
  });

  it('rejects duplicate alert names across runbooks', async () => {
    const dir = join(tmp, 'dupes');
    mkdirSync(dir);
    writeFileSync(join(dir, 'demo.md'), GOOD.replace('alert:\n', 'alert:\n  name: Same\n'));
    writeFileSync(
      join(dir, 'demo-two.md'),
      GOOD.replace('id: demo', 'id: demo-two').replace('alert:\n', 'alert:\n  name: Same\n'),
    );
    const errors = await lintRunbooks(dir);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      path: 'alert',
      line: pos(GOOD, 'alert:\n').line,
      message: expect.stringContaining('alert name Same is also used by'),
    });
  });
});

describe('docs', () => {
  it('docs/runbooks.md documents every detection signal and mitigation', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'runbooks.md'), 'utf8');
    for (const s of SIGNAL_NAMES) expect(doc, s).toContain(`\`${s}`);
    for (const m of MITIGATIONS) expect(doc, m).toContain(`\`${m}\``);
  });
});
