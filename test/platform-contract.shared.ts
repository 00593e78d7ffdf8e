// The platform contract: what the runner, observers, faults and cleanup rely on, checked against a
// real platform. Every platform runs this same suite unchanged (platform-contract-<kind>.test.ts):
// start and readiness, a kill answered by a replacement (or not, with restart disabled), stop/start
// of a service, a job run, metrics of every replica, and leftover cleanup after the owner is killed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetrics } from '../src/pipeline/controller/scrape.ts';
import type { Platform, PlatformEvent, StartedPlatform } from '../src/platforms/platform.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

export interface ContractOptions {
  /** Platform kind as registered in src/platforms/index.ts. */
  kind: string;
  /** Upper bound for the platform to start (container or pod platforms are slower than local). */
  startTimeoutMs?: number;
  /** Upper bound for a killed replica's replacement to become ready. */
  replaceTimeoutMs?: number;
}

const TX = {
  user_id: 'u00042',
  type: 'PAYMENT',
  amount: 42.5,
  old_balance: 1200,
  new_balance: 1157.5,
  hour: 14,
  merchant_risk: 0.05,
};

export function platformContract(opts: ContractOptions) {
  const startTimeout = opts.startTimeoutMs ?? 90_000;
  const replaceTimeout = opts.replaceTimeoutMs ?? 30_000;
  // Attach records go to a private home: no one else's cleanup finds these pipelines.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `faultline-contract-${opts.kind}-`));
  process.env.FAULTLINE_HOME = home;
  const stateDirs: string[] = [];
  const newStateDir = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `faultline-contract-state-`));
    stateDirs.push(d);
    return d;
  };
  const load = async () => await import('../src/platforms/index.ts');

  afterAll(() => {
    for (const d of [...stateDirs, home]) fs.rmSync(d, { recursive: true, force: true });
  });

  describe(`platform contract: ${opts.kind}`, () => {
    let p: StartedPlatform;
    const events: PlatformEvent[] = [];

    beforeAll(async () => {
      const { createPlatform } = await load();
      const configured: Platform = createPlatform(opts.kind, {
        replicas: 2,
        seed: 42,
        stateDir: newStateDir(),
      });
      // @ts-expect-error a configured platform offers no endpoints: only the started handle does
      const typeOnly = (c: Platform) => c.endpoints;
      void typeOnly;
      p = await configured.start();
      p.onEvent((e) => events.push(e));
    }, startTimeout);
    afterAll(async () => {
      await p?.stop();
    }, 60_000);

    it('starts into a handle whose endpoints all answer /readyz, and the gateway scores', async () => {
      const ep = p.endpoints;
      expect(p.name).toBe(opts.kind);
      for (const url of [ep.gateway, ep.registry, ep.featureServer, ep.controller, ...ep.modelServers]) {
        const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) });
        expect(res.status, url).toBe(200);
      }
      expect(ep.modelServers).toHaveLength(2);
      const res = await fetch(`${ep.gateway}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(TX),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { score: number; model_version: string };
      expect(body.score).toBeGreaterThanOrEqual(0);
      expect(body.model_version).toBeTruthy();
      expect(p.record.platform).toBe(opts.kind);
      expect(p.record.runId).toMatch(/^[a-z0-9-]+$/);
    });

    it('lists the replicas of a service as running', async () => {
      const reps = await p.replicas('model-server');
      expect(reps.filter((r) => r.replica >= 0 && r.state === 'running')).toHaveLength(2);
    });

    it('reports metrics of every service and every model-server replica', async () => {
      const samples = await p.metrics().collect();
      const up = samples.filter((s) => s.up);
      expect(new Set(up.map((s) => s.service))).toEqual(
        new Set(['gateway', 'model-server', 'feature-server', 'controller', 'registry']),
      );
      expect(
        up
          .filter((s) => s.service === 'model-server')
          .map((s) => s.replica)
          .sort(),
      ).toEqual(['0', '1']);
      const gw = up.find((s) => s.service === 'gateway');
      expect(parseMetrics(gw?.text ?? '').some((m) => m.name === 'gateway_requests_total')).toBe(true);
    });

    it('answers a kill with a replacement: gone → replacement scheduled → replacement ready', async () => {
      const from = events.length;
      const [victim] = await p.kill('model-server', { count: 1, signal: 'SIGKILL', pick: () => 0 });
      expect(victim.signalledAt).toBeGreaterThan(0);
      const ready = await waitFor(
        () =>
          events.slice(from).find((e) => e.type === 'replica-ready' && e.details?.replaces === victim.name),
        replaceTimeout,
        `a replica-ready event replacing ${victim.name}`,
      );
      const seen = events.slice(from);
      const gone = seen.find((e) => e.type === 'replica-gone' && e.name === victim.name);
      const scheduled = seen.find(
        (e) => e.type === 'replacement-scheduled' && e.details?.replaces === victim.name,
      );
      expect(gone, JSON.stringify(seen)).toBeDefined();
      expect(scheduled, JSON.stringify(seen)).toBeDefined();
      expect(gone!.ts_ms).toBeLessThanOrEqual(scheduled!.ts_ms);
      expect(scheduled!.ts_ms).toBeLessThanOrEqual(ready.ts_ms);
      expect(ready.service).toBe('model-server');
      // Back to full strength, and the metrics source follows the replacement.
      await waitFor(
        async () =>
          (await p.metrics().collect()).filter((s) => s.service === 'model-server' && s.up).length === 2,
        replaceTimeout,
        'both model-server replicas scraped again',
      );
    });

    it('keeps a stopped service down until started again', async () => {
      const from = events.length;
      const { initiatedAt } = await p.stopService('feature-server');
      expect(initiatedAt).toBeGreaterThan(0);
      const readyz = () =>
        fetch(`${p.endpoints.featureServer}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.ok,
          () => false,
        );
      expect(await readyz()).toBe(false);
      expect(
        events.slice(from).some((e) => e.type === 'service-stopped' && e.service === 'feature-server'),
      ).toBe(true);
      // Not replaced while stopped.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await readyz()).toBe(false);
      expect(events.slice(from).some((e) => e.type === 'replacement-scheduled')).toBe(false);
      await p.startService('feature-server');
      expect(await readyz()).toBe(true);
    });

    it('runs the trainer as a job and hands back its output', async () => {
      const { stdout } = await p.runJob({ job: 'trainer', env: { MODE: 'degraded:inverted', SEED: '7' } });
      const { lastResult } = await import('../src/runner/jobs.ts');
      const result = lastResult(stdout, 'degraded:inverted');
      expect(String(result.version ?? '')).toMatch(/^\d+$/);
      // A failing job rejects with its output's tail.
      await expect(p.runJob({ job: 'trainer', env: { MODE: 'no-such-mode' } })).rejects.toThrow(/MODE/);
    }, 120_000);
  });

  describe(`platform contract: ${opts.kind} with restart disabled`, () => {
    let p: StartedPlatform;
    const events: PlatformEvent[] = [];
    beforeAll(async () => {
      const { createPlatform } = await load();
      p = await createPlatform(opts.kind, {
        replicas: 2,
        seed: 42,
        stateDir: newStateDir(),
        disabled: new Set(['restart']),
        faultLinks: [],
      }).start();
      p.onEvent((e) => events.push(e));
    }, startTimeout);
    afterAll(async () => {
      await p?.stop();
    }, 60_000);

    it('does not replace a killed replica (the negative control of the restart mitigation)', async () => {
      const [victim] = await p.kill('model-server', { count: 1, pick: () => 0 });
      await waitFor(
        () => events.find((e) => e.type === 'replica-gone' && e.name === victim.name),
        replaceTimeout,
        `${victim.name} gone`,
      );
      await new Promise((r) => setTimeout(r, 3000));
      expect(events.filter((e) => e.type === 'replacement-scheduled' || e.type === 'replica-ready')).toEqual(
        [],
      );
      expect(
        (await p.replicas('model-server')).filter((r) => r.replica >= 0 && r.state === 'running'),
      ).toHaveLength(1);
    });
  });

  describe(`platform contract: ${opts.kind} leftovers after the owner is killed`, () => {
    it(
      '`pipeline up` killed with SIGKILL: cleanup re-attaches through the platform and removes everything',
      async () => {
        const { listActive } = await load();
        const stateDir = newStateDir();
        const owner = spawn(
          process.execPath,
          [
            path.join(ROOT, 'src/cli/main.ts'),
            'pipeline',
            'up',
            '--platform',
            opts.kind,
            '--replicas',
            '1',
            '--fault-links',
            'none',
            '--state-dir',
            stateDir,
          ],
          { cwd: ROOT, env: { ...process.env, FAULTLINE_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let out = '';
        owner.stdout.on('data', (d) => (out += d));
        owner.stderr.on('data', (d) => (out += d));
        try {
          await waitFor(() => /ready in/.test(out), startTimeout, 'pipeline up to be ready');
          const gateway = /^gateway: (\S+)$/m.exec(out)?.[1];
          expect(gateway, out).toBeDefined();
          const record = listActive().find((r) => r.ownerPid === owner.pid);
          expect(record?.platform).toBe(opts.kind);
          owner.kill('SIGKILL');
          await new Promise((r) => owner.once('exit', r));
          // The owner is gone; its pipeline is not.
          expect((await fetch(`${gateway}/readyz`, { signal: AbortSignal.timeout(3000) })).ok).toBe(true);

          const { cleanup } = await import('../src/runner/cleanup.ts');
          const r = await cleanup();
          expect(r.pipelines).toBe(1);
          expect(r.failed).toEqual([]);
          expect(listActive().filter((x) => x.runId === record!.runId)).toEqual([]);
          const answers = await fetch(`${gateway}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
            () => true,
            () => false,
          );
          expect(answers).toBe(false);
        } finally {
          if (owner.exitCode === null && owner.signalCode === null) owner.kill('SIGKILL');
        }
      },
      startTimeout + 60_000,
    );
  });
}

async function waitFor<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
