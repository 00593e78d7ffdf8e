// The same semantics on the Redis backend, plus outage behaviour: 503 STORE_UNAVAILABLE fast, /readyz
// not ready, recovery once Redis is back. Needs `redis-server` on PATH (CI installs it); without it
// this file fails rather than skips.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureServer, start } from '../src/pipeline/feature-server/server.ts';
import { type Ctx, call, semanticsSuite, TOKEN } from './feature-server.shared.ts';

const redisProcs = new Set<ChildProcess>();
let redisPort: number;
let redis: ChildProcess;
let server: FeatureServer;
let ctx: Ctx;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function redisInstalled(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Starts redis-server without persistence and waits until it accepts connections. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  redisProcs.add(child);
  child.on('exit', () => redisProcs.delete(child));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out}`));
    });
  });
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  if (!redisInstalled()) {
    throw new Error(
      'redis-server is not installed (apt-get install -y redis-server); the Redis backend cannot be tested',
    );
  }
  redisPort = await freePort();
  redis = await startRedis(redisPort);
  server = await start({
    store: `redis://127.0.0.1:${redisPort}/0`,
    ttlSeconds: 3600,
    adminToken: TOKEN,
    handleSignals: false,
  });
  ctx = { url: server.url, token: TOKEN };
}, 30_000);

afterAll(async () => {
  await server?.close();
  await Promise.all([...redisProcs].map(stopRedis));
});

describe('feature-server (Redis)', () => {
  semanticsSuite(() => ctx);

  it('keeps one hash per entity and the run ids in Redis', async () => {
    expect((await call(ctx, 'GET', '/v1/stats')).body.store).toBe('redis');
    expect((await call(ctx, 'GET', '/readyz')).status).toBe(200);
    // A second server on the same Redis sees the same rows and runs: the state lives in Redis.
    const other = await start({
      store: `redis://127.0.0.1:${redisPort}/0`,
      adminToken: TOKEN,
      handleSignals: false,
    });
    try {
      const o = { url: other.url, token: TOKEN };
      expect((await call(o, 'GET', '/v1/admin/rows?user_id=i-1')).body).toEqual(
        (await call(ctx, 'GET', '/v1/admin/rows?user_id=i-1')).body,
      );
      const again = await call(o, 'POST', '/v1/materialize', { run_id: 'idem-1', rows: [] });
      expect(again.body.duplicate_run).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('bounds lookups when Redis hangs (process frozen) and recovers when it resumes', async () => {
    redis.kill('SIGSTOP');
    try {
      const t0 = performance.now();
      const r = await call(ctx, 'GET', '/v1/features/i-1');
      // The 200 ms command timeout answers; without it the request would wait for Redis indefinitely.
      expect(performance.now() - t0).toBeLessThan(3000);
      expect(r).toMatchObject({ status: 503, body: { error_code: 'STORE_UNAVAILABLE' } });
      expect((await call(ctx, 'GET', '/readyz')).status).toBe(503);
    } finally {
      redis.kill('SIGCONT');
    }
    await waitFor('readyz 200', async () => (await call(ctx, 'GET', '/readyz')).status === 200);
    expect((await call(ctx, 'GET', '/v1/features/i-1')).body.features.txn_count_24h).toMatchObject({
      value: 80,
      status: 'PRESENT',
    });
  }, 30_000);

  it('answers 503 STORE_UNAVAILABLE quickly while Redis is down, is not ready, and recovers', async () => {
    await call(ctx, 'PUT', '/v1/admin/rows', {
      rows: [{ user_id: 'o-1', event_timestamp: Date.now(), features: { x: 1 } }],
    });
    await stopRedis(redis);

    // Generous bound: the server fails fast (no offline queue, 200 ms command timeout); a hang would take seconds.
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = await call(ctx, 'GET', '/v1/features/o-1');
      const ms = performance.now() - t0;
      expect(r.status).toBe(503);
      expect(r.body.error_code).toBe('STORE_UNAVAILABLE');
      expect(ms).toBeLessThan(1500);
    }
    const feast = await call(ctx, 'POST', '/get-online-features', {
      features: ['x'],
      entities: { user_id: ['o-1'] },
    });
    expect(feast.status).toBe(503);
    const put = await call(ctx, 'PUT', '/v1/admin/rows', {
      rows: [{ user_id: 'o-2', event_timestamp: 0, features: {} }],
    });
    expect(put).toMatchObject({ status: 503, body: { error_code: 'STORE_UNAVAILABLE' } });
    expect((await call(ctx, 'GET', '/readyz')).status).toBe(503);
    // Bad input is still a 400, not a store error.
    expect((await call(ctx, 'POST', '/v1/materialize', { run_id: 1 })).status).toBe(400);

    const metrics = await (await fetch(`${ctx.url}/metrics`)).text();
    expect(Number(metrics.match(/^feature_server_store_errors_total (\d+)/m)?.[1])).toBeGreaterThanOrEqual(7);

    // Same port, empty data set (no persistence): the server reconnects on its own.
    redis = await startRedis(redisPort);
    await waitFor('readyz 200', async () => (await call(ctx, 'GET', '/readyz')).status === 200);
    const after = await call(ctx, 'GET', '/v1/features/o-1');
    expect(after.status).toBe(200);
    expect(after.body.features.x).toBeUndefined();
    expect(after.body.features.txn_count_24h.status).toBe('NOT_FOUND');
    const m = await call(ctx, 'POST', '/v1/materialize', {
      run_id: 'after-outage',
      rows: [{ user_id: 'o-1', event_timestamp: Date.now(), features: { x: 2 } }],
    });
    expect(m.body).toMatchObject({ written: 1, duplicate_run: false });
    expect((await call(ctx, 'GET', '/v1/features/o-1')).body.features.x).toMatchObject({
      value: 2,
      status: 'PRESENT',
    });
  }, 30_000);

  it('starts while Redis is unreachable, reports not ready, and becomes ready when Redis appears', async () => {
    const port = await freePort();
    const t0 = performance.now();
    const late = await start({ store: `redis://127.0.0.1:${port}`, adminToken: TOKEN, handleSignals: false });
    try {
      expect(performance.now() - t0).toBeLessThan(5000);
      const l = { url: late.url, token: TOKEN };
      expect((await call(l, 'GET', '/readyz')).status).toBe(503);
      expect((await call(l, 'GET', '/v1/features/a')).body.error_code).toBe('STORE_UNAVAILABLE');
      await startRedis(port);
      await waitFor('readyz 200', async () => (await call(l, 'GET', '/readyz')).status === 200);
      expect((await call(l, 'GET', '/v1/features/a')).status).toBe(200);
    } finally {
      await late.close();
    }
  }, 30_000);
});
