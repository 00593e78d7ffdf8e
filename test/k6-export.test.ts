// `faultline export k6`: the scripts it writes (and the ones shipped in scenarios/load/) type-check
// with tsc against @types/k6 in k6's runtime (no Node types), the executor matches the scenario's
// load profile, thresholds come from the checks that have a k6 counterpart, and the TestRun
// manifest carries the script and the module. No k6 runs here (none is installed: AGPL).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { k6Load, MODULE_FILE, portableSource, renderK6Script } from '../src/load/k6/export.ts';
import { ArrivalSchedule, PayloadStream } from '../src/load/portable.ts';
import { loadScenarioFile } from '../src/scenario/load.ts';
import { ROOT, runCli, tempHome } from './helpers/cli.ts';

const TSC = path.join(ROOT, 'node_modules/.bin/tsc');

/** tsc over a folder of k6 scripts with the shipped k6 tsconfig; returns its output on failure. */
function typecheck(dir: string): { ok: boolean; out: string } {
  const cfg = JSON.parse(fs.readFileSync(path.join(ROOT, 'scenarios/load/tsconfig.json'), 'utf8'));
  cfg.compilerOptions.typeRoots = [path.join(ROOT, 'node_modules/@types')];
  const file = path.join(dir, 'tsconfig.json');
  if (path.resolve(dir) !== path.join(ROOT, 'scenarios/load')) fs.writeFileSync(file, JSON.stringify(cfg));
  try {
    execFileSync(TSC, ['-p', file], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    return { ok: true, out: '' };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

function loadBlock(script: string): ReturnType<typeof k6Load> {
  const m = /\/\/ faultline:load-begin\nconst LOAD: Load = ([\s\S]*?);\n\/\/ faultline:load-end/.exec(script);
  if (!m) throw new Error('no LOAD block');
  return JSON.parse(m[1]);
}

function optionsBlock(script: string): Record<string, unknown> {
  const m = /export const options: Options = ([\s\S]*?);\n\n/.exec(script);
  if (!m) throw new Error('no options block');
  return JSON.parse(m[1]);
}

const RAMP = `apiVersion: faultline/v1
kind: Scenario
metadata: { name: ramp-drift }
spec:
  load:
    rate: 2.5/s
    seed: 3
    fraudShare: 20%
    stages: [ { rate: 40/s, duration: 10s }, { rate: 10/s, duration: 5s } ]
  warmup: 2s
  faults:
    - { type: drift, at: 5s, duration: 5s, feature: type, kind: category-swap, from: PAYMENT, to: TRANSFER, fraction: 50% }
  checks:
    - availability >= 99% during fault
    - error_rate <= 1%
    - latency.p95 < 300ms
    - fallback.share <= 10% during recovery
    - quality.auc >= 0.7
`;

describe('faultline export k6', () => {
  it('the shipped scripts in scenarios/load/ type-check against @types/k6', () => {
    const shipped = fs.readdirSync(path.join(ROOT, 'scenarios/load')).filter((f) => f.endsWith('.ts'));
    expect(shipped.length).toBeGreaterThanOrEqual(3);
    const r = typecheck(path.join(ROOT, 'scenarios/load'));
    expect(r.out).toBe('');
    expect(r.ok).toBe(true);
  });

  it('the shipped exported scripts are current (regenerated from their scenarios)', async () => {
    for (const [name, yaml] of [
      ['pod-kill', 'scenarios/pod-kill.yaml'],
      ['drift', 'scenarios/drift.yaml'],
    ]) {
      const l = await loadScenarioFile(path.join(ROOT, yaml));
      if (!l.ok) throw new Error(JSON.stringify(l.errors));
      const want = renderK6Script(l.value.scenario, k6Load(l.value.scenario), {
        moduleImport: '../../src/load/portable.ts',
        command: `faultline export k6 ${yaml}`,
      });
      expect(fs.readFileSync(path.join(ROOT, 'scenarios/load', `${name}.ts`), 'utf8')).toBe(want);
    }
  });

  it('exports scenarios/pod-kill.yaml into a script, the module and a TestRun that type-check', async () => {
    const dir = tempHome('faultline-k6-export-');
    const out = path.join(dir, 'pod-kill.ts');
    const r = await runCli(
      [
        'export',
        'k6',
        'scenarios/pod-kill.yaml',
        '-o',
        out,
        '--testrun',
        '--parallelism',
        '3',
        '--url',
        'http://gw:8080',
      ],
      { home: dir },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const script = fs.readFileSync(out, 'utf8');
    expect(script).not.toMatch(/\?\?=|\|\|=|&&=/); // parsed by k6's VM as written, like the module
    expect(fs.readFileSync(path.join(dir, MODULE_FILE), 'utf8')).toBe(portableSource());
    const tc = typecheck(dir);
    expect(tc.out).toBe('');

    // Constant arrival rate, the scenario's seed and duration; the schedule intends ⌈rate·D⌉ requests.
    const opts = optionsBlock(script) as {
      scenarios: { faultline: Record<string, unknown> };
      thresholds: Record<string, string[]>;
    };
    expect(opts.scenarios.faultline).toMatchObject({
      executor: 'constant-arrival-rate',
      rate: 100,
      timeUnit: '1s',
      duration: '45000ms',
      maxVUs: 1000,
    });
    const load = loadBlock(script);
    expect(load).toMatchObject({ seed: 7, url: 'http://gw:8080', warmupMs: 5000 });
    expect(new ArrivalSchedule(load.profile).count).toBe(4500);
    // Steady-state checks map to the planned steady window, `during fault` to the fault window.
    expect(opts.thresholds).toEqual({
      'faultline_ok{phase:steady}': ['rate>=0.999'],
      'faultline_request{phase:steady}': ['p(99)<=200'],
      'faultline_ok{phase:fault}': ['rate>=0.995'],
      'faultline_request{phase:fault}': ['p(99)<=1000'],
      'faultline_request{phase:recovery}': ['p(99)<=500'],
    });
    expect(script).toMatch(/Checks only Faultline measures:\n\/\/ {3}- retries\.amplification/);

    // The manifest: a ConfigMap with both files and a TestRun with 3 runners pointing at it.
    const docs = parseAllDocuments(fs.readFileSync(path.join(dir, 'pod-kill.testrun.yaml'), 'utf8')).map(
      (d) => d.toJS(),
    );
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'TestRun']);
    const cm = docs[0];
    const tr = docs[1];
    expect(tr.apiVersion).toBe('k6.io/v1alpha1');
    expect(tr.spec.parallelism).toBe(3);
    expect(tr.spec.script.configMap).toEqual({ name: cm.metadata.name, file: 'model-server-pod-kill.ts' });
    expect(cm.data['model-server-pod-kill.ts']).toBe(script);
    expect(cm.data[MODULE_FILE]).toBe(portableSource());
    expect(tr.spec.runner.env).toEqual([{ name: 'FAULTLINE_URL', value: 'http://gw:8080' }]);
  });

  it('a ramping profile with a fractional rate, a fraud share and a planned drift', async () => {
    const dir = tempHome('faultline-k6-ramp-');
    const yaml = path.join(dir, 'ramp.yaml');
    fs.writeFileSync(yaml, RAMP);
    const r = await runCli(['export', 'k6', yaml, '-o', path.join(dir, 'ramp.ts')], { home: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const script = fs.readFileSync(path.join(dir, 'ramp.ts'), 'utf8');
    expect(typecheck(dir).out).toBe('');
    const opts = optionsBlock(script) as {
      scenarios: { faultline: Record<string, unknown> };
      thresholds: Record<string, string[]>;
    };
    // 2.5/s is not whole per second: k6 gets 25 per 10 s, the stages scaled alike.
    expect(opts.scenarios.faultline).toMatchObject({
      executor: 'ramping-arrival-rate',
      startRate: 25,
      timeUnit: '10s',
      stages: [
        { target: 400, duration: '10000ms' },
        { target: 100, duration: '5000ms' },
      ],
    });
    expect(opts.thresholds).toEqual({
      'faultline_ok{phase:fault}': ['rate>=0.99'],
      'faultline_ok{measured:yes}': ['rate>=0.99'],
      'faultline_request{measured:yes}': ['p(95)<300'],
      'faultline_fallback{phase:recovery}': ['rate<=0.1'],
    });
    expect(script).toContain('quality.auc >= 0.7 (measured by Faultline from labels and scores)');

    // The script's payload stream: the built-in generator's payloads, the swap only inside the
    // drift's planned window [5 s, 10 s).
    const load = loadBlock(script);
    expect(load.payloadOptions).toEqual({ fraudShare: 0.2 });
    const schedule = new ArrivalSchedule(load.profile);
    const plain = new PayloadStream(load.seed, load.payloadOptions);
    const drifted = new PayloadStream(load.seed, load.payloadOptions, undefined, {
      schedule,
      drifts: load.drifts,
    });
    let swapped = 0;
    for (let i = 0; i < schedule.count; i++) {
      const a = plain.at(i);
      const b = drifted.at(i);
      const t = schedule.offset(i)!;
      expect(b.label).toBe(a.label);
      if (b.tx.type !== a.tx.type) {
        swapped++;
        expect(t >= 5000 && t < 10_000).toBe(true);
        expect([a.tx.type, b.tx.type]).toEqual(['PAYMENT', 'TRANSFER']);
      } else expect(b.tx).toEqual(a.tx);
    }
    expect(swapped).toBeGreaterThan(10);
  });

  it('refuses an invalid scenario with exit 2 and a located error', async () => {
    const dir = tempHome('faultline-k6-bad-');
    const yaml = path.join(dir, 'bad.yaml');
    fs.writeFileSync(yaml, RAMP.replace('rate: 2.5/s', 'rate: fast'));
    const r = await runCli(['export', 'k6', yaml, '-o', path.join(dir, 'x.ts')], { home: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:\d+:\d+/);
    expect(fs.existsSync(path.join(dir, 'x.ts'))).toBe(false);
  });
});
