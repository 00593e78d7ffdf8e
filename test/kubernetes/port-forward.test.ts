// Port-forward access (FAULTLINE_KUBE_ACCESS=port-forward), for clusters whose service and pod
// networks the host does not route: every endpoint is a 127.0.0.1 port tunnelled through the API
// server. The pipeline scores, a killed replica is replaced and scraped again, Toxiproxy answers, and
// after the owner is killed with SIGKILL a new process re-attaches through its own tunnels.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformEvent } from '../../src/platforms/platform.ts';
import { type ClusterEnv, clusterEnv, required } from './cluster-env.ts';

const env: ClusterEnv = await clusterEnv();
const skip = 'skip' in env ? env.skip : undefined;
if (skip && !required()) console.warn(`test/kubernetes/port-forward.test.ts skipped: ${skip}`);

const ROOT = path.resolve(import.meta.dirname, '../..');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-kube-pf-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TX = {
  user_id: 'u00042',
  type: 'PAYMENT',
  amount: 42.5,
  old_balance: 1200,
  new_balance: 1157.5,
  hour: 14,
  merchant_risk: 0.05,
};

async function waitFor<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  ms: number,
  what: string,
) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(skip !== undefined && !required())('kubernetes platform through port-forwards', () => {
  const saved = { ...process.env };
  beforeAll(() => {
    if ('skip' in env) throw new Error(`FAULTLINE_REQUIRE_KUBERNETES=1 but ${env.skip}`);
    Object.assign(process.env, {
      FAULTLINE_HOME: home,
      FAULTLINE_KUBECONFIG: env.kubeconfig,
      FAULTLINE_KUBE_ACCESS: 'port-forward',
    });
    delete process.env.FAULTLINE_KUBE_NAMESPACE;
  });
  afterAll(() => {
    process.env = saved;
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('scores, replaces a killed replica and scrapes it, all through 127.0.0.1', async () => {
    const { createPlatform } = await import('../../src/platforms/index.ts');
    const p = await createPlatform('kubernetes', { stateDir: fs.mkdtempSync(path.join(home, 's-')) }).start();
    const events: PlatformEvent[] = [];
    p.onEvent((e) => events.push(e));
    try {
      const ep = p.endpoints;
      for (const u of [
        ep.gateway,
        ep.registry,
        ep.featureServer,
        ep.controller,
        ep.toxiproxy,
        ...ep.modelServers,
      ])
        expect(u).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${ep.gateway}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(TX),
        signal: AbortSignal.timeout(10_000),
      });
      expect(res.status).toBe(200);
      expect(
        (
          (await (
            await fetch(`${ep.toxiproxy}/proxies`, { signal: AbortSignal.timeout(5000) })
          ).json()) as object
        )['model-server->registry' as never],
      ).toBeDefined();
      const [victim] = await p.kill('model-server', { count: 1, pick: () => 0 });
      await waitFor(
        () => events.find((e) => e.type === 'replica-ready' && e.details?.replaces === victim.name),
        60_000,
        'the replacement ready',
      );
      await waitFor(
        async () =>
          (await p.metrics().collect()).filter((s) => s.service === 'model-server' && s.up).length === 2,
        60_000,
        'both replicas scraped',
      );
      // The replica's own address reaches the replacement (its Service follows the slot label).
      await waitFor(
        () =>
          fetch(`${ep.modelServers[0]}/readyz`, { signal: AbortSignal.timeout(3000) }).then(
            (r) => r.ok,
            () => false,
          ),
        30_000,
        'model-server-0 answering',
      );
    } finally {
      await p.stop();
    }
  }, 240_000);

  it('after a kill -9 of the owner, cleanup reaches the pipeline through its own tunnels', async () => {
    const stateDir = fs.mkdtempSync(path.join(home, 's-'));
    const owner = spawn(
      process.execPath,
      [
        path.join(ROOT, 'src/cli/main.ts'),
        'pipeline',
        'up',
        '--platform',
        'kubernetes',
        '--replicas',
        '1',
        '--state-dir',
        stateDir,
      ],
      { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    owner.stdout.on('data', (d) => (out += d));
    owner.stderr.on('data', (d) => (out += d));
    try {
      await waitFor(() => /ready in/.test(out), 240_000, `pipeline up ready:\n${out}`);
      const { listActive, attachPlatform } = await import('../../src/platforms/index.ts');
      const record = listActive().find((r) => r.ownerPid === owner.pid)!;
      owner.kill('SIGKILL');
      await new Promise((r) => owner.once('exit', r));
      const attached = await attachPlatform(record);
      expect(attached.endpoints?.gateway).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(attached.endpoints?.gateway).not.toBe((record.data.endpoints as { gateway: string }).gateway);
      const ready = await fetch(`${attached.endpoints!.gateway}/readyz`, {
        signal: AbortSignal.timeout(10_000),
      });
      expect(ready.status).toBe(200);
      const { removed } = await attached.teardown();
      expect(removed.some((r) => r.startsWith('deployment/'))).toBe(true);
      expect(listActive().filter((r) => r.runId === record.runId)).toEqual([]);
    } finally {
      if (owner.exitCode === null && owner.signalCode === null) owner.kill('SIGKILL');
    }
  }, 300_000);
});
