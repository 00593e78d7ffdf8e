// Security of scenario input (issue 14): the runner never hands scenario strings to a shell, and a
// scenario cannot make it read or write outside its report and state directories: file references
// (a suite's scenarios, a k6 script) stay inside the referencing file's folder, names that become
// directories are kebab-case, and a browser probe's path stays on the gateway.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { escapesDir, loadScenarioFile, loadSuiteFile } from '../src/scenario/load.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-input-safety-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.ts$/.test(e.name) ? [p] : [];
  });
}

describe('no shell', () => {
  it('processes are spawned with argument vectors, never through a shell', () => {
    const offenders: string[] = [];
    for (const file of sources(path.join(ROOT, 'src'))) {
      const src = fs.readFileSync(file, 'utf8');
      const rel = path.relative(ROOT, file);
      if (/\bshell\s*:\s*(true|['"`])/.test(src)) offenders.push(`${rel}: shell option`);
      const cp = /import\s*\{([^}]*)\}\s*from\s*'node:child_process'/.exec(src);
      if (!cp) {
        if (/require\(['"](node:)?child_process['"]\)|from 'child_process'/.test(src))
          offenders.push(`${rel}: child_process imported another way`);
        continue;
      }
      const names = cp[1].split(',').map((n) => n.replace(/\btype\b/, '').trim());
      for (const n of names)
        if (n && !['spawn', 'ChildProcess'].includes(n))
          offenders.push(`${rel}: imports ${n} (runs a shell or is unchecked)`);
    }
    expect(offenders).toEqual([]);
  });

  it('scenario names that would reach a path or a command line are kebab-case', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'names-'));
    // A 300-character name is kebab-case but no file system takes it as a directory name.
    for (const name of ['../../etc', 'a; rm -rf /', '$(touch x)', 'a/b', '..', 'a'.repeat(300)]) {
      const file = path.join(dir, 's.yaml');
      fs.writeFileSync(file, scenario({ name: JSON.stringify(name) }));
      const r = await loadScenarioFile(file);
      expect(r.ok, name).toBe(false);
      if (!r.ok) expect(r.errors.map((e) => e.path)).toContain('metadata.name');
    }
  });
});

function scenario(o: { name?: string; script?: string; probePath?: string } = {}): string {
  return `apiVersion: faultline/v1
kind: Scenario
metadata: { name: ${o.name ?? 'safe'} }
spec:
  load: { rate: 10/s, duration: 5s${o.script ? `, driver: k6, script: ${JSON.stringify(o.script)}` : ''} }
  faults: []
  checks: [ availability >= 99% ]
${o.probePath ? `  probes: [ { type: browser, path: ${JSON.stringify(o.probePath)} } ]\n` : ''}`;
}

describe('no file outside the input folder', () => {
  const outside = path.join(tmp, 'outside.yaml');
  const dir = path.join(tmp, 'suite');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(outside, scenario({ name: 'outside' }));
  fs.writeFileSync(path.join(dir, 'inside.yaml'), scenario({ name: 'inside' }));
  fs.symlinkSync(outside, path.join(dir, 'link.yaml'));

  it('escapesDir: relative paths inside the folder only', () => {
    expect(escapesDir(dir, 'inside.yaml')).toBeUndefined();
    expect(escapesDir(dir, './sub/../inside.yaml')).toBeUndefined();
    expect(escapesDir(dir, '../outside.yaml')).toMatch(/must stay inside/);
    expect(escapesDir(dir, outside)).toMatch(/absolute path/);
    expect(escapesDir(dir, 'link.yaml')).toMatch(/symlink leading out/);
    expect(escapesDir(dir, 'a\0b')).toMatch(/NUL/);
  });

  it.each([
    ['../outside.yaml', /must stay inside/],
    [outside, /absolute path/],
    ['link.yaml', /symlink leading out/],
    ['sub/../../outside.yaml', /must stay inside/],
  ])('a suite listing %s is refused at that entry', async (ref, why) => {
    const file = path.join(dir, 'suite.yaml');
    const text = `apiVersion: faultline/v1
kind: Suite
metadata: { name: s }
spec:
  scenarios:
    - inside.yaml
    - ${JSON.stringify(ref)}
`;
    fs.writeFileSync(file, text);
    const r = await loadSuiteFile(file);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const e = r.errors.find((x) => x.path === 'spec.scenarios[1]');
    expect(e, JSON.stringify(r.errors)).toBeDefined();
    expect(e!.message).toMatch(why);
    expect(e!.line).toBe(7);
    // The file outside was never loaded (its errors would name it).
    expect(r.errors.some((x) => x.file === outside)).toBe(false);
  });

  it.each([['../../../etc/passwd'], ['/etc/passwd']])('a k6 script at %s is refused', async (script) => {
    const file = path.join(dir, 'k6.yaml');
    fs.writeFileSync(file, scenario({ script }));
    const r = await loadScenarioFile(file);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.find((e) => e.path === 'spec.load.script')?.message).toMatch(/k6 script must/);
  });

  it.each([['//evil.example/x'], ['/\\evil.example'], ['/ok path']])(
    'a browser probe path %s is refused',
    async (p) => {
      const file = path.join(dir, 'probe.yaml');
      fs.writeFileSync(file, scenario({ probePath: p }));
      const r = await loadScenarioFile(file);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors.map((e) => e.path)).toContain('spec.probes[0].path');
      // And a plain path on the gateway is fine.
      fs.writeFileSync(file, scenario({ probePath: '/?tx=1' }));
      const ok = await loadScenarioFile(file);
      expect(ok.ok ? [] : ok.errors.filter((e) => e.path.startsWith('spec.probes'))).toEqual([]);
    },
  );
});
