import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureServer, start } from '../src/pipeline/feature-server/server.ts';
import { type Ctx, call, HOUR, semanticsSuite, TOKEN } from './feature-server.shared.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'feature-server-'));
// A nested path: the server creates the parent directories.
const dbFile = path.join(dir, 'nested', 'deeper', 'features.db');
let server: FeatureServer;
let ctx: Ctx;

beforeAll(async () => {
  server = await start({ store: dbFile, ttlSeconds: 3600, adminToken: TOKEN, handleSignals: false });
  ctx = { url: server.url, token: TOKEN };
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('feature-server (SQLite)', () => {
  semanticsSuite(() => ctx);

  it('uses a WAL-mode SQLite file at the configured path', async () => {
    expect(existsSync(dbFile)).toBe(true);
    expect(existsSync(`${dbFile}-wal`)).toBe(true);
    const stats = await call(ctx, 'GET', '/v1/stats');
    expect(stats.body.store).toBe('sqlite');
    expect((await call(ctx, 'GET', '/readyz')).status).toBe(200);
  });

  it('keeps rows and materialization run ids across a restart', async () => {
    const t = Date.now() - 1000;
    await call(ctx, 'POST', '/v1/materialize', {
      run_id: 'persist-run',
      rows: [{ user_id: 'persist-1', event_timestamp: t, features: { txn_count_24h: 4, weird: 'NaN' } }],
    });
    const before = (await call(ctx, 'GET', '/v1/admin/rows?user_id=persist-1')).body;
    const statsBefore = (await call(ctx, 'GET', '/v1/stats')).body;
    await server.close();
    // The closed server no longer answers.
    await expect(fetch(`${ctx.url}/healthz`)).rejects.toThrow();

    server = await start({ store: dbFile, ttlSeconds: 3600, adminToken: TOKEN, handleSignals: false });
    ctx = { url: server.url, token: TOKEN };
    expect((await call(ctx, 'GET', '/v1/admin/rows?user_id=persist-1')).body).toEqual(before);
    expect((await call(ctx, 'GET', '/v1/stats')).body).toEqual(statsBefore);
    const again = await call(ctx, 'POST', '/v1/materialize', {
      run_id: 'persist-run',
      rows: [{ user_id: 'persist-1', event_timestamp: t + HOUR, features: { txn_count_24h: 5 } }],
    });
    expect(again.body).toMatchObject({ written: 0, duplicate_run: true });
    expect((await call(ctx, 'GET', '/v1/features/persist-1')).body.features.txn_count_24h.value).toBe(4);
  });

  it('enforces a short TTL as time passes', async () => {
    const short = await start({ store: path.join(dir, 'ttl.db'), ttlSeconds: 1, handleSignals: false });
    try {
      const c = { url: short.url, token: '' };
      await call(c, 'POST', '/v1/materialize', {
        run_id: 'ttl',
        rows: [{ user_id: 't', event_timestamp: Date.now(), features: { txn_count_24h: 1 } }],
      });
      // Generous margin over the 1 s TTL; the first read may already be stale on a slow machine.
      await new Promise((r) => setTimeout(r, 1500));
      expect((await call(c, 'GET', '/v1/features/t')).body.features.txn_count_24h).toMatchObject({
        value: 1,
        status: 'OUTSIDE_MAX_AGE',
      });
    } finally {
      await short.close();
    }
  });

  it('leaves admin endpoints open when no ADMIN_TOKEN is configured', async () => {
    const open = await start({ store: path.join(dir, 'open.db'), handleSignals: false });
    try {
      const r = await call(
        { url: open.url, token: '' },
        'PUT',
        '/v1/admin/rows',
        {
          rows: [{ user_id: 'o', event_timestamp: Date.now(), features: { txn_count_24h: 2 } }],
        },
        false,
      );
      expect(r.status).toBe(200);
      // Default TTL is 7 days.
      expect((await call({ url: open.url, token: '' }, 'GET', '/v1/stats')).body.ttl_seconds).toBe(604_800);
    } finally {
      await open.close();
    }
  });

  it('main.ts reads the environment, serves, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['src/pipeline/feature-server/main.ts'], {
      cwd: path.resolve(import.meta.dirname, '..'),
      env: {
        ...process.env,
        PORT: '0',
        FEATURE_STORE: path.join(dir, 'main', 'f.db'),
        ADMIN_TOKEN: 'tok',
        FEATURE_TTL_SECONDS: '60',
        // The test reads the port from the info-level "listening" line.
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no "listening" log line: ${out}`)), 15_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = out.match(/"port":(\d+)/);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
      });
      const c = { url: `http://127.0.0.1:${port}`, token: 'tok' };
      expect((await call(c, 'GET', '/v1/stats')).body).toMatchObject({ ttl_seconds: 60, store: 'sqlite' });
      expect((await call(c, 'GET', '/v1/admin/rows?user_id=a', undefined, false)).status).toBe(401);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
