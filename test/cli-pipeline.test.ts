// `faultline pipeline up --detach | status | down` as a user runs them: real CLI processes, a real
// background pipeline. FAULTLINE_HOME points at a temp dir, so these commands see (and stop) only the
// pipeline this test started, never anyone else's.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-cli-home-'));
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-cli-state-'));

function cli(
  args: string[],
  timeoutMs = 90_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'src/cli/main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, FAULTLINE_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`faultline ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`),
      );
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Row {
  name: string;
  pid: number;
  state: string;
  ready: string;
  url: string;
}

function parseStatus(out: string): { owner: number; rows: Row[] } {
  const owner = Number(/\(owner pid (\d+)/.exec(out)?.[1]);
  const rows = out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(
      (f) => f.length === 6 && /^(registry|feature-server|gateway|controller|model-server-\d+)$/.test(f[0]),
    )
    .map(([name, pid, state, ready, , url]) => ({ name, pid: Number(pid), state, ready, url }));
  return { owner, rows };
}

describe('faultline pipeline up/status/down', () => {
  const seen = new Set<number>();

  afterAll(async () => {
    // Whatever happened above: stop the pipeline this test started (only ours: private FAULTLINE_HOME).
    if (fs.existsSync(path.join(home, 'active')) && fs.readdirSync(path.join(home, 'active')).length > 0) {
      await cli(['pipeline', 'down'], 60_000).catch(() => undefined);
    }
    for (const pid of seen) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(stateDir, { recursive: true, force: true });
  }, 90_000);

  it('rejects bad flags with exit code 2 and a message naming the flag', async () => {
    const replicas = await cli(['pipeline', 'up', '--replicas', 'x', '--state-dir', stateDir]);
    expect(replicas.code).toBe(2);
    expect(replicas.stderr).toMatch(/--replicas: .*"x"/);
    const disable = await cli(['pipeline', 'up', '--detach', '--disable', 'bogus', '--state-dir', stateDir]);
    expect(disable.code).toBe(2);
    expect(disable.stderr).toMatch(/--disable: .*bogus/);
    const links = await cli([
      'pipeline',
      'up',
      '--fault-links',
      'gateway->registry',
      '--state-dir',
      stateDir,
    ]);
    expect(links.code).toBe(2);
    expect(links.stderr).toMatch(/--fault-links: unknown link "gateway->registry"/);
    // Nothing was started.
    expect((await cli(['pipeline', 'status'])).stdout).toMatch(/no pipeline is running/);
  });

  it('up --detach prints the gateway first, status lists every ready service, down leaves no process', async () => {
    const up = await cli(['pipeline', 'up', '--detach', '--replicas', '2', '--state-dir', stateDir], 120_000);
    expect(up.code, up.stderr).toBe(0);
    const first = up.stdout.split('\n')[0];
    expect(first).toMatch(/^gateway: http:\/\/127\.0\.0\.1:\d+$/);
    const gateway = first.slice('gateway: '.length);

    const status = await cli(['pipeline', 'status']);
    expect(status.code).toBe(0);
    const { owner, rows } = parseStatus(status.stdout);
    expect(owner).toBeGreaterThan(0);
    seen.add(owner);
    for (const r of rows) seen.add(r.pid);
    expect(rows.map((r) => r.name).sort()).toEqual(
      ['controller', 'feature-server', 'gateway', 'model-server-0', 'model-server-1', 'registry'].sort(),
    );
    for (const r of rows) {
      expect(r.pid, status.stdout).toBeGreaterThan(0);
      expect(isAlive(r.pid)).toBe(true);
      expect(r.state).toBe('running');
      expect(r.ready, status.stdout).toBe('yes');
    }
    expect(status.stdout).toContain(`gateway: ${gateway}`);

    const res = await fetch(`${gateway}/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        user_id: 'u00042',
        type: 'PAYMENT',
        amount: 42.5,
        old_balance: 1200,
        new_balance: 1157.5,
        hour: 14,
        merchant_risk: 0.05,
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { score: number; model_version: string; fallback: { used: boolean } };
    expect(body.score).toBeGreaterThanOrEqual(0);
    expect(body.model_version).toEqual(expect.any(String));

    const down = await cli(['pipeline', 'down'], 60_000);
    expect(down.code, down.stderr).toBe(0);
    expect([...seen].filter(isAlive)).toEqual([]);
    await expect(fetch(`${gateway}/healthz`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    expect((await cli(['pipeline', 'status'])).stdout).toMatch(/no pipeline is running/);
  }, 180_000);
});
