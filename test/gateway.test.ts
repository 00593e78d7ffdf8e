// Gateway against small real HTTP servers that imitate model-server replicas (status, body and the
// x-model-version / x-fallback headers), so balancing, retries, ejection and the canary split are
// observed over real sockets.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { UpstreamSnapshot } from '../src/pipeline/gateway/pool.ts';
import { type Gateway, type GatewayConfig, start } from '../src/pipeline/gateway/server.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
type Json = any;
interface UpstreamsView {
  canary_weight: number;
  upstreams: UpstreamSnapshot[];
}

type Behaviour = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;

interface FakeReplica {
  url: string;
  port: number;
  hits: number;
  bodies: string[];
  stop(): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const ok =
  (version = '3', fallback = 'none'): Behaviour =>
  (_req, body, res) => {
    const tx = JSON.parse(body);
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-model-version': version,
      'x-fallback': fallback,
    });
    res.end(
      JSON.stringify({
        transaction_id: tx.transaction_id ?? 't',
        score: 0.01,
        decision: 'approve',
        model_name: 'fraud-primary',
        model_version: version,
        fallback: { used: fallback !== 'none', reason: fallback === 'none' ? null : fallback },
      }),
    );
  };

const status =
  (code: number, payload: object): Behaviour =>
  (_req, _body, res) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(payload));
  };

async function replica(behaviour: Behaviour, port = 0): Promise<FakeReplica> {
  const r: FakeReplica = { url: '', port: 0, hits: 0, bodies: [], stop: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/readyz') return void res.end('{"ready":true}');
      r.hits++;
      const body = Buffer.concat(chunks).toString();
      r.bodies.push(body);
      behaviour(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  r.port = (server.address() as AddressInfo).port;
  r.url = `http://127.0.0.1:${r.port}`;
  let stopped = false;
  r.stop = async () => {
    if (stopped) return;
    stopped = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  };
  cleanups.push(r.stop);
  return r;
}

/** A port that refuses connections: bound once, then released. */
async function deadUrl(): Promise<{ url: string; port: number }> {
  const r = await replica(ok());
  await r.stop();
  return { url: r.url, port: r.port };
}

async function gateway(config: Partial<GatewayConfig> & { upstreams: string[] }): Promise<Gateway> {
  const gw = await start({ handleSignals: false, adminToken: 'sekret', ...config });
  cleanups.push(gw.close);
  return gw;
}

const TX = {
  user_id: 'user-1',
  type: 'TRANSFER',
  amount: 100,
  old_balance: 500,
  new_balance: 400,
  hour: 12,
  merchant_risk: 0.1,
};

async function predict(gw: Gateway, body: unknown = TX) {
  const res = await fetch(`${gw.url}/v1/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: safeJson(text) };
}

function safeJson(t: string): Json {
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
}

async function upstreamsOf(gw: Gateway): Promise<UpstreamsView> {
  return (await (await fetch(`${gw.url}/v1/upstreams`)).json()) as UpstreamsView;
}

async function metricsOf(gw: Gateway): Promise<string> {
  return (await fetch(`${gw.url}/metrics`)).text();
}

/** Value of one sample (exact label set, in any order); 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) got[k] = v;
    const keys = Object.keys(labels);
    if (keys.length !== Object.keys(got).length || keys.some((k) => got[k] !== labels[k])) continue;
    return Number(m[3]);
  }
  return 0;
}

async function waitFor<T>(fn: () => Promise<T>, until: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (until(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('gateway balancing and pass-through', () => {
  it('spreads requests over two replicas and passes body, status and model headers through', async () => {
    const a = await replica(ok('3'));
    const b = await replica(ok('3', 'features_missing'));
    const gw = await gateway({ upstreams: [a.url, b.url] });

    const seen: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await predict(gw, { ...TX, transaction_id: `t${i}` });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-attempts')).toBe('1');
      expect(r.headers.get('x-model-version')).toBe('3');
      expect(r.json.transaction_id).toBe(`t${i}`);
      seen.push(r.headers.get('x-upstream')!);
    }
    expect(a.hits).toBe(10);
    expect(b.hits).toBe(10);
    expect(new Set(seen)).toEqual(new Set(['0', '1']));
    // The client's bytes reach the replica untouched.
    expect(a.bodies[0]).toBe(
      JSON.stringify({ ...TX, transaction_id: JSON.parse(a.bodies[0]).transaction_id }),
    );

    const text = await metricsOf(gw);
    expect(sample(text, 'gateway_responses_total', { model_version: '3', fallback: 'false' })).toBe(10);
    expect(sample(text, 'gateway_responses_total', { model_version: '3', fallback: 'true' })).toBe(10);
    expect(sample(text, 'gateway_fallback_responses_total', { reason: 'features_missing' })).toBe(10);
    expect(sample(text, 'gateway_requests_total', { code: '200', fallback: 'false' })).toBe(10);
    expect(sample(text, 'gateway_upstream_requests_total', { upstream: '0', outcome: 'success' })).toBe(10);
    expect(sample(text, 'gateway_request_duration_seconds_count')).toBe(20);
    expect(sample(text, 'gateway_active_requests')).toBe(0);
  });

  it('passes a 4xx through unchanged, without retrying and without counting it against the replica', async () => {
    const err = {
      error_code: 'INVALID_PARAMETER_VALUE',
      message: 'amount: expected number',
      field: 'amount',
    };
    const a = await replica(status(400, err));
    const b = await replica(status(400, err));
    const gw = await gateway({ upstreams: [a.url, b.url] });
    for (let i = 0; i < 4; i++) {
      const r = await predict(gw, { ...TX, amount: 'x' });
      expect(r.status).toBe(400);
      expect(r.json).toEqual(err);
      expect(r.headers.get('x-attempts')).toBe('1');
    }
    expect(a.hits + b.hits).toBe(4);
    const state = await upstreamsOf(gw);
    expect(state.upstreams.every((u) => u.consecutive_failures === 0 && !u.ejected)).toBe(true);
    expect(sample(await metricsOf(gw), 'gateway_retries_total')).toBe(0);
  });

  it('rejects bad input itself with a 4xx naming the problem, without calling a replica', async () => {
    const a = await replica(ok());
    const gw = await gateway({ upstreams: [a.url] });

    const notJson = await predict(gw, '{"user_id": ');
    expect(notJson.status).toBe(400);
    expect(notJson.json.error_code).toBe('MALFORMED_REQUEST');
    expect(notJson.json.message).toMatch(/request body: invalid JSON/);

    const arr = await predict(gw, '[1,2]');
    expect(arr.status).toBe(400);
    expect(arr.json.message).toMatch(/expected a JSON object/);

    const huge = await predict(gw, JSON.stringify({ ...TX, pad: 'x'.repeat(70 * 1024) }));
    expect(huge.status).toBe(413);
    expect(huge.json.error_code).toBe('PAYLOAD_TOO_LARGE');
    expect(huge.json.message).toMatch(/limit of 65536 bytes/);

    expect(a.hits).toBe(0);
    const text = await metricsOf(gw);
    expect(sample(text, 'gateway_requests_total', { code: '400', fallback: 'false' })).toBe(2);
  });

  it('serves a self-contained web page with the form and result elements', async () => {
    const gw = await gateway({ upstreams: [(await replica(ok())).url] });
    const res = await fetch(`${gw.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await res.text();
    for (const id of [
      'check',
      'verdict',
      'model-version',
      'fallback',
      'error',
      'user_id',
      'type',
      'amount',
      'old_balance',
      'new_balance',
      'hour',
      'merchant_risk',
    ]) {
      expect(html).toContain(`id="${id}"`);
      expect(html).toContain(`data-testid="${id}"`);
    }
    for (const id of ['user_id', 'type', 'amount', 'hour', 'merchant_risk'])
      expect(html).toContain(`<label for="${id}"`);
    expect(html).toContain('/v1/predict');
    // No external resources.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    // The embedded script is valid JavaScript.
    const script = /<script>([\s\S]*)<\/script>/.exec(html)![1];
    expect(() => new Function(script)).not.toThrow();
  });
});

describe('gateway retries and outlier ejection', () => {
  it('retries a refused replica on the other one, ejects it, and takes it back after the ejection time', async () => {
    const a = await replica(ok());
    const dead = await deadUrl();
    const gw = await gateway({ upstreams: [a.url, dead.url], outlierBaseEjectionMs: 400 });

    for (let i = 0; i < 12; i++) {
      const r = await predict(gw);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-upstream')).toBe('0');
    }
    const state = await upstreamsOf(gw);
    const u1 = state.upstreams.find((u) => u.upstream === '1');
    expect(u1).toMatchObject({ url: dead.url, pool: 'stable', ejected: true, times_ejected: 1 });
    expect(typeof u1?.ejected_until).toBe('string');
    let text = await metricsOf(gw);
    expect(sample(text, 'gateway_ejections_total', { upstream: '1' })).toBe(1);
    expect(sample(text, 'gateway_upstream_ejected', { upstream: '1' })).toBe(1);
    expect(sample(text, 'gateway_upstream_requests_total', { upstream: '1', outcome: 'connect_error' })).toBe(
      3,
    );
    expect(sample(text, 'gateway_retries_total')).toBe(3);

    // The replica comes back on its port; after the ejection time the gateway sends it traffic again.
    const back = await replica(ok('4'), dead.port);
    const after = await waitFor(
      () => upstreamsOf(gw),
      (s) => !s.upstreams[1].ejected,
    );
    expect(after.upstreams[1].ejected).toBe(false);
    text = await metricsOf(gw);
    expect(sample(text, 'gateway_upstream_ejected', { upstream: '1' })).toBe(0);
    const versions = new Set<string>();
    for (let i = 0; i < 6; i++) versions.add((await predict(gw)).headers.get('x-model-version')!);
    expect(back.hits).toBeGreaterThan(0);
    expect(versions).toEqual(new Set(['3', '4']));
  });

  it('ejects a replica that always answers 500, while clients see no errors', async () => {
    const a = await replica(ok());
    const bad = await replica(status(500, { error_code: 'INTERNAL_ERROR', message: 'boom' }));
    const gw = await gateway({ upstreams: [a.url, bad.url], outlierBaseEjectionMs: 60_000 });
    for (let i = 0; i < 16; i++) expect((await predict(gw)).status).toBe(200);
    expect(bad.hits).toBe(3);
    const state = await upstreamsOf(gw);
    expect(state.upstreams[1].ejected).toBe(true);
    expect(state.upstreams[0].ejected).toBe(false);
    const text = await metricsOf(gw);
    expect(sample(text, 'gateway_upstream_requests_total', { upstream: '1', outcome: 'server_error' })).toBe(
      3,
    );
  });

  it('never ejects more than half the replicas: with both failing one stays in rotation', async () => {
    const a = await replica(status(500, { error_code: 'INTERNAL_ERROR', message: 'boom' }));
    const b = await replica(status(500, { error_code: 'INTERNAL_ERROR', message: 'boom' }));
    const gw = await gateway({ upstreams: [a.url, b.url], outlierBaseEjectionMs: 60_000 });
    for (let i = 0; i < 10; i++) {
      const r = await predict(gw);
      // The last replica's own 5xx is passed through as-is.
      expect(r.status).toBe(500);
      expect(r.json.error_code).toBe('INTERNAL_ERROR');
    }
    const state = await upstreamsOf(gw);
    expect(state.upstreams.filter((u) => u.ejected)).toHaveLength(1);
  });

  it('retries a timed-out attempt on another replica and reports 504 when none is left', async () => {
    const slow: Behaviour = (_req, _body, res) => void setTimeout(() => ok()(_req, _body, res), 3000);
    const a = await replica(ok());
    const s = await replica(slow);
    const gw = await gateway({ upstreams: [s.url, a.url], upstreamTimeoutMs: 500 });
    const results = [await predict(gw), await predict(gw)];
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(results.some((r) => r.headers.get('x-attempts') === '2')).toBe(true);

    const only = await gateway({ upstreams: [s.url], upstreamTimeoutMs: 500 });
    const r = await predict(only);
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ error_code: 'UPSTREAM_TIMEOUT', upstream: '0' });
  });

  it('with retries disabled, a dead replica surfaces as 502 UPSTREAM_UNAVAILABLE', async () => {
    const a = await replica(ok());
    const dead = await deadUrl();
    const gw = await gateway({ upstreams: [a.url, dead.url], disabled: new Set(['retries']) });
    const statuses: number[] = [];
    let failure: Json;
    for (let i = 0; i < 10; i++) {
      const r = await predict(gw);
      statuses.push(r.status);
      if (r.status !== 200) failure = { json: r.json, attempts: r.headers.get('x-attempts') };
    }
    // Three failures eject it; until then every request that picked it failed.
    expect(statuses.filter((s) => s === 502)).toHaveLength(3);
    expect(failure.attempts).toBe('1');
    expect(failure.json).toMatchObject({
      error_code: 'UPSTREAM_UNAVAILABLE',
      upstream: '1',
      outcome: 'connect_error',
    });
    expect(failure.json.message).toContain(dead.url);
    expect(sample(await metricsOf(gw), 'gateway_retries_total')).toBe(0);
  });

  it('with ejection disabled, a failing replica is never ejected', async () => {
    const a = await replica(ok());
    const bad = await replica(status(503, { error_code: 'FEATURES_UNAVAILABLE', message: 'down' }));
    const gw = await gateway({ upstreams: [a.url, bad.url], disabled: new Set(['ejection']) });
    for (let i = 0; i < 20; i++) expect((await predict(gw)).status).toBe(200);
    const state = await upstreamsOf(gw);
    expect(state.upstreams[1].ejected).toBe(false);
    expect(state.upstreams[1].consecutive_failures).toBe(10);
    expect(bad.hits).toBe(10);
    expect(sample(await metricsOf(gw), 'gateway_ejections_total', { upstream: '1' })).toBe(0);
  });

  it('caps concurrent retries with the retry budget when every replica fails under a burst', async () => {
    // Replicas hold the first attempts until the whole burst has arrived, so the gateway sees all of
    // them fail with N requests in flight; then the budget allows max(3, 20% of N) concurrent retries.
    const N = 40;
    let arrived = 0;
    let release!: () => void;
    const barrier = new Promise<void>((r) => (release = r));
    const failSlow: Behaviour = (req, body, res) => {
      arrived++;
      if (arrived >= N) release();
      const fail = () => status(500, { error_code: 'INTERNAL_ERROR', message: 'boom' })(req, body, res);
      if (arrived > N) setTimeout(fail, 100);
      else void Promise.race([barrier, new Promise((r) => setTimeout(r, 5000))]).then(fail);
    };
    const reps = [await replica(failSlow), await replica(failSlow), await replica(failSlow)];
    const gw = await gateway({
      upstreams: reps.map((r) => r.url),
      disabled: new Set(['ejection']),
      upstreamTimeoutMs: 10_000,
    });

    const results = await Promise.all(Array.from({ length: N }, () => predict(gw)));
    expect(results.every((r) => r.status === 500)).toBe(true);
    const text = await metricsOf(gw);
    const retries = sample(text, 'gateway_retries_total');
    const exhausted = sample(text, 'gateway_retry_budget_exhausted_total');
    const sent = reps.reduce((s, r) => s + r.hits, 0);
    // Unbounded, every request would retry twice (80 retries). The budget admits 8 at once.
    expect(retries).toBeGreaterThanOrEqual(3);
    expect(retries).toBeLessThanOrEqual(16);
    expect(exhausted).toBeGreaterThanOrEqual(N - 16);
    expect(sent).toBe(N + retries);
    const denied = results.filter((r) => r.headers.get('x-attempts') === '1').length;
    expect(denied).toBeGreaterThanOrEqual(N - 8);
  });
});

describe('gateway canary split', () => {
  it('retries a failing canary on stable and ejects it, so its share moves to stable', async () => {
    const s0 = await replica(ok('3'));
    const s1 = await replica(ok('3'));
    const dead = await deadUrl();
    const gw = await gateway({
      upstreams: [s0.url, s1.url],
      canaryUpstreams: [dead.url],
      canaryWeight: 50,
      outlierBaseEjectionMs: 60_000,
    });
    for (let i = 0; i < 20; i++) {
      const r = await predict(gw);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-model-version')).toBe('3');
    }
    const state = await upstreamsOf(gw);
    expect(state.upstreams.find((u) => u.upstream === 'canary-0')?.ejected).toBe(true);
    expect(s0.hits + s1.hits).toBe(20);
    expect(
      sample(await metricsOf(gw), 'gateway_upstream_requests_total', {
        upstream: 'canary-0',
        outcome: 'connect_error',
      }),
    ).toBe(3);
  });

  it('sends about CANARY_WEIGHT % to the canary and takes a new weight from an authorised admin PUT', async () => {
    const s0 = await replica(ok('3'));
    const s1 = await replica(ok('3'));
    const c0 = await replica(ok('4'));
    const gw = await gateway({ upstreams: [s0.url, s1.url], canaryUpstreams: [c0.url], canaryWeight: 20 });

    const count = async (n: number) => {
      let canary = 0;
      for (let i = 0; i < n; i += 20) {
        const batch = await Promise.all(Array.from({ length: 20 }, () => predict(gw)));
        for (const r of batch) {
          expect(r.status).toBe(200);
          if (r.headers.get('x-upstream') === 'canary-0') {
            canary++;
            expect(r.headers.get('x-model-version')).toBe('4');
          }
        }
      }
      return canary;
    };
    const first = await count(1000);
    expect(first).toBeGreaterThan(150);
    expect(first).toBeLessThan(250);
    expect(c0.hits).toBe(first);

    const put = (body: unknown, auth?: string) =>
      fetch(`${gw.url}/v1/admin/canary`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify(body),
      });
    expect((await put({ weight: 50 })).status).toBe(401);
    expect((await put({ weight: 50 }, 'Bearer wrong')).status).toBe(401);
    const bad = await put({ weight: 150 }, 'Bearer sekret');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).field).toBe('weight');
    const good = await put({ weight: 50 }, 'Bearer sekret');
    expect(good.status).toBe(200);
    expect(await good.json()).toEqual({ weight: 50, previous_weight: 20 });

    const state = await upstreamsOf(gw);
    expect(state.canary_weight).toBe(50);
    expect(state.upstreams.map((u) => [u.upstream, u.pool])).toEqual([
      ['0', 'stable'],
      ['1', 'stable'],
      ['canary-0', 'canary'],
    ]);
    for (const u of state.upstreams) {
      expect(u).toMatchObject({ ejected: false, ejected_until: null, consecutive_failures: 0, active: 0 });
    }
    const second = await count(200);
    expect(second).toBeGreaterThan(70);
    expect(second).toBeLessThan(130);
    expect(sample(await metricsOf(gw), 'gateway_canary_weight')).toBe(50);
  });
});
