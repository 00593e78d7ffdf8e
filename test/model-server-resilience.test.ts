// The resilience policy around the feature fetch (timeout → retry → circuit breaker), each mechanism
// switched off by configuration, and the fallback-disabled 503s. Failures come from real servers: the
// real feature-server stopped and restarted, a server that fails every other request, one that never
// answers, and a port nobody listens on.
import http from 'node:http';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Mechanism } from '../src/pipeline/common/config.ts';
import { start } from '../src/pipeline/model-server/server.ts';
import {
  http as call,
  expectStatus,
  fallbackArtifact,
  GOOD_FEATURES,
  metric,
  type Pipeline,
  predict,
  primaryArtifact,
  publish,
  startPipeline,
  TOKEN,
  TX,
  waitFor,
} from './model-server-fixtures.ts';

type ModelServer = Awaited<ReturnType<typeof start>>;

let p: Pipeline;
const servers: ModelServer[] = [];
const extra: Array<http.Server | net.Server> = [];

beforeAll(async () => {
  p = await startPipeline();
  await publish(p.registry, 'fraud-primary', primaryArtifact());
  await publish(p.registry, 'fraud-fallback', fallbackArtifact());
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(extra.splice(0).map((s) => new Promise((r) => s.close(r))));
});

afterAll(async () => {
  await p?.close();
});

async function modelServer(
  opts: { featureServerUrl?: string; disabled?: Mechanism[]; halfOpenAfterMs?: number } = {},
) {
  const ms = await start({
    registryUrl: p.registryUrl,
    featureServerUrl: opts.featureServerUrl ?? p.featureServerUrl,
    adminToken: TOKEN,
    disabled: new Set(opts.disabled ?? []),
    breakerHalfOpenAfterMs: opts.halfOpenAfterMs,
  });
  servers.push(ms);
  await waitFor(
    async () => (await call('GET', `${ms.url}/readyz`)).status === 200,
    5000,
    'model-server ready',
  );
  return ms;
}

async function listen(server: http.Server | net.Server): Promise<string> {
  extra.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/** A URL where nothing listens (connection refused). */
async function deadUrl(): Promise<string> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

/** Answers like the feature-server, but every other request (the 1st, 3rd, ...) fails with a 500. */
function flakyFeatureServer() {
  let n = 0;
  return http.createServer((_req, res) => {
    n++;
    if (n % 2 === 1) {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error_code":"STORE_UNAVAILABLE"}');
      return;
    }
    const ts = new Date().toISOString();
    const features = Object.fromEntries(
      Object.entries(GOOD_FEATURES).map(([k, v]) => [
        k,
        { value: v, status: 'PRESENT', event_timestamp: ts },
      ]),
    );
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ user_id: 'x', features }));
  });
}

async function sequential(url: string, n: number, tx: Record<string, unknown> = TX) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await predict(url, tx));
  return out;
}

describe('model-server resilience', () => {
  it('feature-server down → feature_store_unavailable, then breaker_open, then back to primary after half-open', async () => {
    const ms = await modelServer({ halfOpenAfterMs: 1000 });
    expect((await predict(ms.url, TX)).body.fallback).toEqual({ used: false, reason: null });

    await p.stopFeatureServer();
    try {
      const down = await sequential(ms.url, 6);
      for (const r of down) expectStatus(200)(r);
      // ConsecutiveBreaker(5): five failed calls (each after its retries) open the breaker.
      expect(down.map((r) => r.body.fallback.reason)).toEqual([
        ...Array(5).fill('feature_store_unavailable'),
        'breaker_open',
      ]);
      expect(down[5].body.model_name).toBe('fraud-fallback');
      expect(await metric(ms.url, 'model_server_circuit_breaker_state')).toBe(1);
      expect(await metric(ms.url, 'model_server_fallback_total', { reason: 'breaker_open' })).toBe(1);
      expect(
        await metric(ms.url, 'model_server_fallback_total', { reason: 'feature_store_unavailable' }),
      ).toBe(5);
      // Each unavailable call made 1 + 2 attempts; the open breaker made none.
      const attempts = await metric(ms.url, 'model_server_feature_fetch_total', { outcome: 'network_error' });
      expect(attempts).toBe(15);
      expect(await metric(ms.url, 'model_server_feature_fetch_retries_total')).toBe(10);
      expect((await predict(ms.url, TX)).body.fallback.reason).toBe('breaker_open');
      expect(await metric(ms.url, 'model_server_feature_fetch_total', { outcome: 'network_error' })).toBe(
        attempts,
      );
    } finally {
      await p.restartFeatureServer();
    }
    // Half-open after 1 s lets a trial call through; its success closes the breaker.
    await waitFor(
      async () => (await predict(ms.url, TX)).body.fallback.used === false,
      10_000,
      'primary again',
      200,
    );
    expect(await metric(ms.url, 'model_server_circuit_breaker_state')).toBe(0);
  });

  it('retries recover from intermittent 5xx; with retries disabled the counter stays 0 and calls fail', async () => {
    const url = await listen(flakyFeatureServer());
    const ms = await modelServer({ featureServerUrl: url });
    const withRetries = await sequential(ms.url, 8);
    expect(withRetries.map((r) => r.body.fallback.used)).toEqual(Array(8).fill(false));
    expect(await metric(ms.url, 'model_server_feature_fetch_retries_total')).toBe(8);
    expect(await metric(ms.url, 'model_server_feature_fetch_total', { outcome: 'http_5xx' })).toBe(8);

    const url2 = await listen(flakyFeatureServer());
    const noRetry = await modelServer({ featureServerUrl: url2, disabled: ['retries'] });
    const reasons = (await sequential(noRetry.url, 8)).map((r) => r.body.fallback.reason);
    expect(reasons).toEqual(
      Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? 'feature_store_unavailable' : null)),
    );
    expect(await metric(noRetry.url, 'model_server_feature_fetch_retries_total')).toBe(0);
  });

  it('times out a feature-server that never answers; with the breaker disabled every request waits for the timeouts', async () => {
    // Accepts connections and never answers.
    const sockets: net.Socket[] = [];
    const hang = net.createServer((s) => sockets.push(s));
    const url = await listen(hang);
    const ms = await modelServer({ featureServerUrl: url, disabled: ['breaker'] });
    try {
      for (const r of await sequential(ms.url, 7)) {
        expect(r.body.fallback).toEqual({ used: true, reason: 'feature_store_unavailable' });
      }
      // No breaker: the 6th and 7th calls still went to the network, three timed-out attempts each.
      expect(await metric(ms.url, 'model_server_feature_fetch_total', { outcome: 'timeout' })).toBe(21);
      expect(await metric(ms.url, 'model_server_fallback_total', { reason: 'breaker_open' })).toBe(0);
      expect(await metric(ms.url, 'model_server_circuit_breaker_state')).toBe(0);
      // Each call waited for 3 timeouts of 80 ms (a lower bound: slow machines only make it longer).
      const t0 = performance.now();
      await predict(ms.url, TX);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(3 * 80);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('with the fallback disabled answers 503 with an error code and the reason', async () => {
    const ms = await modelServer({ disabled: ['fallback'] });
    expectStatus(200)(await predict(ms.url, TX));
    const missing = await predict(ms.url, { ...TX, user_id: 'u-nobody' });
    expect(missing.status).toBe(503);
    expect(missing.body).toMatchObject({ error_code: 'FEATURES_MISSING', reason: 'features_missing' });
    expect(missing.body.message).toMatch(/^features_missing: /);
    const stale = await predict(ms.url, { ...TX, user_id: 'u-stale' });
    expect(stale.body).toMatchObject({ error_code: 'FEATURES_STALE', reason: 'features_stale' });
    expect(await metric(ms.url, 'model_server_fallback_total', { reason: 'features_missing' })).toBe(0);
    expect(await metric(ms.url, 'model_server_unavailable_total', { reason: 'features_missing' })).toBe(1);
    // No fallback model is needed to be ready, nor loaded.
    expect((await call('GET', `${ms.url}/v1/model`)).body.fallback).toBeNull();

    const down = await modelServer({ featureServerUrl: await deadUrl(), disabled: ['fallback'] });
    const r = await predict(down.url, TX);
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error_code: 'FEATURES_UNAVAILABLE', reason: 'feature_store_unavailable' });
  });
});
