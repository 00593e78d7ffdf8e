import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wantsProxy } from '../src/platforms/local/local-platform.ts';
import { ProxyHub, toxiproxyApi } from '../src/platforms/local/toxiproxy-api.ts';

// A real upstream HTTP server behind the built-in fault proxy, controlled through its Toxiproxy API.
let upstream: http.Server;
let hub: ProxyHub;
let api: ReturnType<typeof toxiproxyApi>;
let apiUrl: string;
let proxyUrl: string;

async function get(url: string, timeoutMs = 3000): Promise<{ status: number; ms: number; body: string }> {
  const t = performance.now();
  // A fresh connection per request keeps toxics' per-connection effects out of each other's way.
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { connection: 'close' } });
  const body = await res.text();
  return { status: res.status, ms: performance.now() - t, body };
}

const control = (method: string, path: string, body?: unknown) =>
  fetch(`${apiUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

beforeAll(async () => {
  upstream = http.createServer((_req, res) => res.end('pong'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  hub = new ProxyHub();
  api = toxiproxyApi(hub);
  apiUrl = `http://127.0.0.1:${await api.listen()}`;
  const res = await control('POST', '/proxies', {
    name: 'svc',
    listen: '127.0.0.1:0',
    upstream: `127.0.0.1:${(upstream.address() as AddressInfo).port}`,
  });
  expect(res.status).toBe(201);
  const state = (await res.json()) as { listen: string };
  proxyUrl = `http://${state.listen}`;
});

afterAll(async () => {
  await hub.close();
  await api.close();
  upstream.close();
});

describe('built-in fault proxy (Toxiproxy semantics)', () => {
  it('passes traffic through untouched without toxics', async () => {
    const r = await get(proxyUrl);
    expect(r).toMatchObject({ status: 200, body: 'pong' });
  });

  it('latency toxic delays responses by at least the latency, and removing it restores speed', async () => {
    const add = await control('POST', '/proxies/svc/toxics', {
      type: 'latency',
      attributes: { latency: 300 },
    });
    expect(add.status).toBe(200);
    const slow = await get(proxyUrl);
    expect(slow.body).toBe('pong');
    expect(slow.ms).toBeGreaterThanOrEqual(290);
    expect((await control('DELETE', '/proxies/svc/toxics/latency_downstream')).status).toBe(204);
    const fast = await get(proxyUrl);
    expect(fast.ms).toBeLessThan(slow.ms);
  });

  it('applies a toxic to already-open keep-alive connections', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const call = () =>
      new Promise<number>((resolve, reject) => {
        const t = performance.now();
        http
          .get(proxyUrl, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(performance.now() - t));
          })
          .on('error', reject);
      });
    await call();
    expect(hub.get('svc').connections).toBeGreaterThanOrEqual(1);
    await control('POST', '/proxies/svc/toxics', {
      name: 'slow',
      type: 'latency',
      attributes: { latency: 250 },
    });
    expect(await call()).toBeGreaterThanOrEqual(240);
    await control('DELETE', '/proxies/svc/toxics/slow');
    agent.destroy();
  });

  it('timeout toxic holds data, then closes the connection after the timeout', async () => {
    await control('POST', '/proxies/svc/toxics', {
      name: 't',
      type: 'timeout',
      attributes: { timeout: 200 },
    });
    await expect(get(proxyUrl, 2000)).rejects.toThrow();
    await control('DELETE', '/proxies/svc/toxics/t');
    expect((await get(proxyUrl)).body).toBe('pong');
  });

  it('reset_peer toxic resets connections', async () => {
    await control('POST', '/proxies/svc/toxics', {
      name: 'r',
      type: 'reset_peer',
      attributes: { timeout: 0 },
    });
    await expect(get(proxyUrl)).rejects.toThrow();
    await control('DELETE', '/proxies/svc/toxics/r');
    expect((await get(proxyUrl)).body).toBe('pong');
  });

  it('a disabled proxy refuses connections; enabling brings it back on the same address', async () => {
    expect((await control('POST', '/proxies/svc', { enabled: false })).status).toBe(200);
    await expect(get(proxyUrl)).rejects.toThrow();
    await control('POST', '/proxies/svc', { enabled: true });
    expect((await get(proxyUrl)).body).toBe('pong');
  });

  it('/reset removes every toxic and re-enables every proxy', async () => {
    await control('POST', '/proxies/svc/toxics', {
      name: 'x',
      type: 'latency',
      attributes: { latency: 5000 },
    });
    await control('POST', '/proxies/svc', { enabled: false });
    expect((await control('POST', '/reset')).status).toBe(204);
    const state = (await (await control('GET', '/proxies/svc')).json()) as {
      enabled: boolean;
      toxics: unknown[];
    };
    expect(state).toMatchObject({ enabled: true, toxics: [] });
    expect((await get(proxyUrl)).body).toBe('pong');
  });

  it('rejects bad toxics with an error naming the field, and unknown proxies with 404', async () => {
    const bad = await control('POST', '/proxies/svc/toxics', {
      type: 'latency',
      attributes: { latency: -5 },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { field: string }).field).toBe('attributes.latency');
    const unknownType = await control('POST', '/proxies/svc/toxics', { type: 'explode', attributes: {} });
    expect(unknownType.status).toBe(400);
    expect((await control('GET', '/proxies/nope')).status).toBe(404);
    const dup1 = await control('POST', '/proxies/svc/toxics', {
      name: 'd',
      type: 'latency',
      attributes: { latency: 1 },
    });
    const dup2 = await control('POST', '/proxies/svc/toxics', {
      name: 'd',
      type: 'latency',
      attributes: { latency: 1 },
    });
    expect([dup1.status, dup2.status]).toEqual([200, 409]);
    await control('DELETE', '/proxies/svc/toxics/d');
  });
});

describe('which links the local platform proxies', () => {
  it('all, none, or names where a bare name selects every replica link', () => {
    expect(wantsProxy('all', 'gateway->model-server-1')).toBe(true);
    expect(wantsProxy([], 'model-server->feature-server')).toBe(false);
    const sel = ['gateway->model-server', 'model-server->registry'];
    expect(wantsProxy(sel, 'gateway->model-server-0')).toBe(true);
    expect(wantsProxy(sel, 'gateway->model-server-canary')).toBe(true);
    expect(wantsProxy(sel, 'model-server->registry')).toBe(true);
    expect(wantsProxy(sel, 'model-server->feature-server')).toBe(false);
    expect(wantsProxy(['gateway->model-server-1'], 'gateway->model-server-0')).toBe(false);
  });
});
