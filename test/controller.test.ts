// Controller against the real registry, with small HTTP servers standing in for the model-server and
// gateway /metrics endpoints: they read the alias from the registry like a hot-reloading replica would
// and expose traffic whose error rate depends on the version they serve.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import client from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { start as startController } from '../src/pipeline/controller/server.ts';
import { start as startModelServer } from '../src/pipeline/model-server/server.ts';
import { RegistryClient } from '../src/pipeline/registry/client.ts';
import { start as startRegistry } from '../src/pipeline/registry/server.ts';
import { fallbackArtifact, primaryArtifact, publish, startPipeline, TX } from './model-server-fixtures.ts';

const TOKEN = 'test-admin-token';
const MODEL = 'fraud-primary';
const REQS_PER_SCRAPE = 40;

interface Closable {
  close(): Promise<void>;
}
const cleanup: Closable[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!.close();
});

let dir: string;
let registry: { url: string; close(): Promise<void> };
let reg: RegistryClient;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-controller-'));
  registry = await startRegistry({
    db: path.join(dir, 'registry.db'),
    artifactRoot: path.join(dir, 'artifacts'),
    adminToken: TOKEN,
  });
  reg = new RegistryClient({ url: registry.url, token: TOKEN });
  for (let i = 1; i <= 4; i++) await reg.registerModelJson(MODEL, { format: 'test', i });
});
afterAll(async () => {
  await registry?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function listen(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const h = {
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  cleanup.push(h);
  return h;
}

/**
 * A stand-in model-server replica: on every scrape it looks up its alias in the registry (hot reload)
 * and records one scrape interval's worth of predict traffic for that version, metric names and
 * labels as the real model-server exports them.
 */
async function fakeModelServer(opts: { alias: string; errorRate: (v: string) => number; psi?: number }) {
  const r = new client.Registry();
  const reqs = new client.Counter({
    name: 'http_requests_total',
    help: 'h',
    labelNames: ['method', 'route', 'code'],
    registers: [r],
  });
  const dur = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'h',
    labelNames: ['method', 'route'],
    buckets: [0.01, 0.05, 0.5, 1],
    registers: [r],
  });
  const preds = new client.Counter({
    name: 'model_server_predictions_total',
    help: 'h',
    labelNames: ['model_role', 'version', 'decision'],
    registers: [r],
  });
  const fb = new client.Counter({
    name: 'model_server_fallback_total',
    help: 'h',
    labelNames: ['reason'],
    registers: [r],
  });
  const score = new client.Histogram({
    name: 'model_server_prediction_score',
    help: 'h',
    labelNames: ['version', 'model_role'],
    buckets: [0.1, 0.5, 0.9],
    registers: [r],
  });
  const info = new client.Gauge({
    name: 'model_server_model_info',
    help: 'h',
    labelNames: ['alias', 'model_name', 'model_role', 'version'],
    registers: [r],
  });
  const psi = new client.Gauge({
    name: 'model_server_feature_drift_psi',
    help: 'h',
    labelNames: ['feature'],
    registers: [r],
  });
  const rc = new RegistryClient({ url: registry.url, timeoutMs: 2000 });
  let served: string | undefined;
  info.set({ alias: 'champion', model_name: 'fraud-fallback', model_role: 'fallback', version: '1' }, 1);
  return listen(async (req, res) => {
    const mv = await rc.getAlias(MODEL, opts.alias).catch(() => undefined);
    if (served !== mv?.version) {
      if (served)
        info.remove({ alias: opts.alias, model_name: MODEL, model_role: 'primary', version: served });
      served = mv?.version;
      if (served)
        info.set({ alias: opts.alias, model_name: MODEL, model_role: 'primary', version: served }, 1);
    }
    if (served) {
      const errors = Math.round(REQS_PER_SCRAPE * opts.errorRate(served));
      reqs.inc({ method: 'POST', route: '/v1/predict', code: '5xx' }, errors);
      reqs.inc({ method: 'POST', route: '/v1/predict', code: '2xx' }, REQS_PER_SCRAPE - errors);
      for (let i = 0; i < REQS_PER_SCRAPE; i++) dur.observe({ method: 'POST', route: '/v1/predict' }, 0.004);
      const ok = REQS_PER_SCRAPE - errors;
      preds.inc({ model_role: 'primary', version: served, decision: 'approve' }, ok - 1);
      preds.inc({ model_role: 'primary', version: served, decision: 'decline' }, 1);
      for (let i = 0; i < ok; i++)
        score.observe({ version: served, model_role: 'primary' }, i === 0 ? 0.95 : 0.02);
      fb.inc({ reason: 'primary_error' }, 0);
    }
    if (opts.psi !== undefined) psi.set({ feature: 'amount' }, opts.psi);
    const text = await r.metrics();
    res.writeHead(200, { 'content-type': r.contentType });
    res.end(req.method === 'GET' ? text : '');
  });
}

/** A stand-in gateway: exposes /metrics and records the canary weights it is told to use. */
async function fakeGateway() {
  const weights: number[] = [];
  const h = await listen((req, res) => {
    if (req.method === 'PUT' && req.url === '/v1/admin/canary') {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401).end('{}');
        return;
      }
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        weights.push((JSON.parse(body) as { weight: number }).weight);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ weight: weights.at(-1) }));
      });
      return;
    }
    res
      .writeHead(200, { 'content-type': 'text/plain' })
      .end('# TYPE gateway_requests_total counter\ngateway_requests_total{code="200",fallback="none"} 5\n');
  });
  return { ...h, weights };
}

const THRESHOLDS = { windowS: 2, minSamples: 50, breachEvaluations: 3, cooldownS: 60, goodAfterS: 20 };

async function controller(
  extra: Partial<Parameters<typeof startController>[0]> & { modelServerUrls: string[] },
) {
  const c = await startController({
    registryUrl: registry.url,
    adminToken: TOKEN,
    evalIntervalMs: 150,
    thresholds: THRESHOLDS,
    ...extra,
  });
  cleanup.push(c);
  return c;
}

interface Ev {
  seq: number;
  type: string;
  time: string;
  ts_ms: number;
  reason: string;
  model_name: string;
  from_version: string | null;
  to_version: string | null;
  details: Record<string, unknown>;
}

/** Long-polls /v1/events until `pred` matches an event; returns every event seen. */
async function waitForEvent(
  url: string,
  pred: (e: Ev) => boolean,
  timeoutMs = 20_000,
): Promise<{ match: Ev; all: Ev[] }> {
  const deadline = Date.now() + timeoutMs;
  const all: Ev[] = [];
  let since = 0;
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/v1/events?since=${since}&wait=2000`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { events: Ev[] };
    for (const e of body.events) {
      all.push(e);
      since = e.seq;
      if (pred(e)) return { match: e, all };
    }
  }
  throw new Error(
    `no matching event within ${timeoutMs} ms; saw ${JSON.stringify(all.map((e) => [e.type, e.reason]))}`,
  );
}

interface State {
  champion: string | null;
  last_good: string | null;
  cooldown_until: string | null;
  breaching: string[];
  rules: { rule: string; status: string; firing: boolean }[];
  last_seq: number;
}
async function state(url: string): Promise<State> {
  return (await (await fetch(`${url}/v1/state`)).json()) as State;
}

async function until<T>(
  fn: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Reads an SSE stream until `pred` matches; returns the parsed events with their `id:` fields. Plain
 * node:http without an agent, so closing it leaves no pooled connection behind.
 */
function readSse(
  url: string,
  headers: Record<string, string>,
  pred: (e: Ev) => boolean,
): Promise<{ id: number; ev: Ev }[]> {
  return new Promise((resolve, reject) => {
    const out: { id: number; ev: Ev }[] = [];
    const req = http.get(
      `${url}/v1/events`,
      { headers: { accept: 'text/event-stream', ...headers }, agent: false },
      (res) => {
        if (!String(res.headers['content-type']).startsWith('text/event-stream')) {
          reject(new Error(`not an event stream: ${res.headers['content-type']}`));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          for (let idx = buf.indexOf('\n\n'); idx >= 0; idx = buf.indexOf('\n\n')) {
            const block = buf.slice(0, idx);
            buf = buf.slice(idx + 2);
            const id = /^id: (\d+)$/m.exec(block);
            const data = /^data: (.*)$/m.exec(block);
            if (!id || !data) continue;
            const ev = JSON.parse(data[1]) as Ev;
            out.push({ id: Number(id[1]), ev });
            if (pred(ev)) {
              clearTimeout(timer);
              req.destroy();
              resolve(out);
              return;
            }
          }
        });
        res.on('end', () => reject(new Error('SSE stream ended without a matching event')));
      },
    );
    req.on('error', (e) => reject(e));
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error('no matching SSE event within 15 s'));
    }, 15_000);
  });
}

describe('controller (real registry, stand-in metrics endpoints)', () => {
  it('rolls a bad champion back to the last good version and publishes it (long-poll, SSE, metrics)', async () => {
    await reg.setAlias(MODEL, 'champion', '1');
    const ms = await fakeModelServer({ alias: 'champion', errorRate: (v) => (v === '2' ? 0.5 : 0) });
    const gw = await fakeGateway();
    const c = await controller({ gatewayUrl: gw.url, modelServerUrls: [ms.url] });

    await until(
      async () => (await state(c.url)).last_good === '1',
      'the initial champion adopted as last good',
    );
    const before = (await state(c.url)).last_seq as number;
    await reg.setAlias(MODEL, 'champion', '2');

    const { match: rb, all } = await waitForEvent(c.url, (e) => e.type === 'rollback');
    expect(rb).toMatchObject({
      type: 'rollback',
      reason: 'error_rate',
      model_name: MODEL,
      from_version: '2',
      to_version: '1',
    });
    expect(rb.seq).toBeGreaterThan(before);
    expect(rb.details.value).toBeCloseTo(0.5, 5);
    expect(rb.details.threshold).toBe(0.05);
    expect(new Date(rb.time).getTime()).toBe(rb.ts_ms);
    expect(Object.keys(rb).sort()).toEqual([
      'details',
      'from_version',
      'model_name',
      'reason',
      'seq',
      'time',
      'to_version',
      'ts_ms',
      'type',
    ]);
    // detection (alert) was published before the mitigation
    const alert = all.find((e) => e.type === 'alert' && e.details.name === 'HighErrorRate');
    expect(alert?.from_version).toBe('2');
    expect(alert!.seq).toBeLessThan(rb.seq);

    expect((await reg.getAlias(MODEL, 'champion'))?.version).toBe('1');
    const st = await state(c.url);
    expect(st.champion).toBe('1');
    expect(st.last_good).toBe('1');
    expect(st.cooldown_until).not.toBeNull();

    // SSE replays from Last-Event-ID: everything after `before`, ids equal to seq, ending at the rollback.
    const sse = await readSse(c.url, { 'last-event-id': String(before) }, (e) => e.type === 'rollback');
    expect(sse[0].id).toBe(before + 1);
    expect(sse.every((x) => x.id === x.ev.seq)).toBe(true);
    expect(sse.at(-1)!.ev).toEqual(rb);

    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/controller_rollbacks_total\{reason="error_rate"\} 1\b/);
    expect(metrics).toMatch(/controller_alerts_total\{name="HighErrorRate"\} [1-9]/);
    expect(metrics).toMatch(/controller_evaluations_total [1-9]/);
  });

  it('with rollback disabled it detects and alerts but leaves the alias alone', async () => {
    await reg.setAlias(MODEL, 'champion', '1');
    const ms = await fakeModelServer({ alias: 'champion', errorRate: (v) => (v === '2' ? 0.5 : 0) });
    // A second replica that is down: scrape failures are tolerated and counted.
    const dead = await listen(() => undefined);
    await dead.close();
    const c = await controller({ modelServerUrls: [ms.url, dead.url], disabled: new Set(['rollback']) });

    await until(
      async () => (await state(c.url)).last_good === '1',
      'the initial champion adopted as last good',
    );
    await reg.setAlias(MODEL, 'champion', '2');
    const { match, all } = await waitForEvent(
      c.url,
      (e) => e.type === 'alert' && e.details.name === 'RollbackSuppressed',
    );
    expect(match).toMatchObject({ reason: 'rollback_disabled', from_version: '2', to_version: '1' });
    expect(all.some((e) => e.type === 'alert' && e.details.name === 'HighErrorRate')).toBe(true);

    // Several more evaluations while still breaching: nothing moves, no rollback event.
    const evals = async () =>
      Number(/controller_evaluations_total (\d+)/.exec(await (await fetch(`${c.url}/metrics`)).text())![1]);
    const n = await evals();
    await until(async () => (await evals()) >= n + 8, 'more evaluations');
    expect((await reg.getAlias(MODEL, 'champion'))?.version).toBe('2');
    const later = (await (await fetch(`${c.url}/v1/events?since=0`)).json()) as { events: Ev[] };
    expect(later.events.filter((e) => e.type === 'rollback')).toEqual([]);
    const st = await state(c.url);
    expect(st.champion).toBe('2');
    expect(st.breaching).toContain('error_rate');
    expect(st.rules.find((r) => r.rule === 'error_rate')?.firing).toBe(true);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/controller_scrape_errors_total\{target="model-server-1"\} [1-9]/);
    expect(metrics).toMatch(/controller_breach\{rule="error_rate"\} 1/);
  });

  it('canary: promotes a healthy version step by step and aborts a failing one', async () => {
    await reg.setAlias(MODEL, 'champion', '1');
    await reg.deleteAlias(MODEL, 'challenger').catch(() => undefined);
    const stable = await fakeModelServer({ alias: 'champion', errorRate: () => 0 });
    const canaryMs = await fakeModelServer({ alias: 'challenger', errorRate: (v) => (v === '4' ? 0.5 : 0) });
    const gw = await fakeGateway();
    const c = await controller({ gatewayUrl: gw.url, modelServerUrls: [stable.url, canaryMs.url] });
    await until(async () => (await state(c.url)).champion === '1', 'champion observed');

    const post = (body: unknown, auth = true) =>
      fetch(`${c.url}/v1/canary`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(auth ? { authorization: `Bearer ${TOKEN}` } : {}),
        },
        body: JSON.stringify(body),
      });
    expect((await post({ version: '3' }, false)).status).toBe(401);
    const bad = await post({ version: '3', steps: [0] });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'steps.0' });
    expect((await post({ version: '99' })).status).toBe(400);

    const ok = await post({ version: '3', steps: [20, 60], step_seconds: 0.6 });
    expect(ok.status).toBe(202);
    expect((await post({ version: '4' })).status).toBe(409);
    const { match: promo } = await waitForEvent(
      c.url,
      (e) => e.type === 'promotion' || e.type === 'canary_abort',
    );
    expect(promo).toMatchObject({
      type: 'promotion',
      reason: 'analysis_passed',
      from_version: '1',
      to_version: '3',
    });
    expect(gw.weights).toEqual([20, 60, 0]);
    expect((await reg.getAlias(MODEL, 'champion'))?.version).toBe('3');
    expect(await reg.getAlias(MODEL, 'challenger')).toBeUndefined();
    expect(
      ((await (await fetch(`${c.url}/v1/canary`)).json()) as { canary: { status: string } }).canary.status,
    ).toBe('promoted');

    await until(async () => (await state(c.url)).champion === '3', 'promoted champion observed');
    gw.weights.length = 0;
    expect((await post({ version: '4', steps: [20, 60], step_seconds: 0.6 })).status).toBe(202);
    const { match: abort } = await waitForEvent(
      c.url,
      (e) => e.seq > promo.seq && (e.type === 'promotion' || e.type === 'canary_abort'),
    );
    expect(abort).toMatchObject({
      type: 'canary_abort',
      reason: 'analysis_failed',
      from_version: '3',
      to_version: '4',
    });
    expect(gw.weights[0]).toBe(20);
    expect(gw.weights.at(-1)).toBe(0);
    expect((await reg.getAlias(MODEL, 'champion'))?.version).toBe('3');
    expect(await reg.getAlias(MODEL, 'challenger')).toBeUndefined();
  });

  it('persistent drift triggers the retrain job once and records events to EVENTS_FILE', async () => {
    await reg.setAlias(MODEL, 'champion', '1');
    const ms = await fakeModelServer({ alias: 'champion', errorRate: () => 0, psi: 0.6 });
    const eventsFile = path.join(dir, 'events', 'controller.ndjson');
    const c = await controller({
      modelServerUrls: [ms.url],
      thresholds: { ...THRESHOLDS, retrainAfterS: 0.5, retrainCooldownS: 600 },
      retrainCommand: [process.execPath, '-e', 'console.log("trained"); process.exit(0)'],
      eventsFile,
    });
    const { match: done, all } = await waitForEvent(
      c.url,
      (e) => e.type === 'retrain' && e.details.phase !== 'started',
    );
    expect(done.details).toMatchObject({ phase: 'succeeded', exit_code: 0 });
    expect(String(done.details.output_tail)).toContain('trained');
    const started = all.find((e) => e.type === 'retrain' && e.details.phase === 'started');
    expect(started).toMatchObject({
      reason: 'persistent_drift',
      details: { max_psi: 0.6, feature: 'amount' },
    });
    expect(all.some((e) => e.type === 'alert' && e.details.name === 'FeatureDrift')).toBe(true);

    // Long-poll with nothing new returns an empty list after the wait; bad input is a 400 naming the field.
    const t0 = Date.now();
    const res = await fetch(`${c.url}/v1/events?since=${done.seq + 1000}&wait=300`);
    expect(((await res.json()) as { events: Ev[] }).events).toEqual([]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    const badRes = await fetch(`${c.url}/v1/events?since=abc`);
    expect(badRes.status).toBe(400);
    expect(await badRes.json()).toMatchObject({ field: 'since' });

    const lines = fs
      .readFileSync(eventsFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Ev);
    expect(lines.slice(0, all.length)).toEqual(all);
    expect(lines.filter((e) => e.type === 'retrain').length).toBe(2);
  });
});

describe('controller with the real model-server', () => {
  it('rolls back a version that declines everything (prediction shift), reading the real metrics', async () => {
    const p = await startPipeline(); // real registry + feature-server (the model-server tests' fixtures)
    cleanup.push(p);
    await publish(p.registry, 'fraud-fallback', fallbackArtifact());
    const v1 = await publish(p.registry, MODEL, primaryArtifact());
    const ms = await startModelServer({
      registryUrl: p.registryUrl,
      featureServerUrl: p.featureServerUrl,
      adminToken: TOKEN,
      reloadIntervalMs: 100,
      replica: 0,
    });
    cleanup.push(ms);
    const c = await startController({
      registryUrl: p.registryUrl,
      modelServerUrls: [ms.url],
      adminToken: TOKEN,
      evalIntervalMs: 200,
      thresholds: { windowS: 3, minSamples: 30 },
    });
    cleanup.push(c);
    const send = async (n: number) => {
      const versions = new Set<string>();
      for (let i = 0; i < n; i++) {
        const res = await fetch(`${ms.url}/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...TX, amount: 50 + ((i * 7) % 200) }),
        });
        versions.add(((await res.json()) as { model_version: string }).model_version);
      }
      return versions;
    };
    await until(
      async () => (await state(c.url)).last_good === v1,
      'the initial champion adopted as last good',
    );
    // Baseline traffic for v1 (all approved with these inputs), seen by the controller.
    await send(60);
    await until(
      async () => (await state(c.url)).rules.find((r) => r.rule === 'prediction_shift')?.status === 'ok',
      'a v1 baseline',
    );

    // v2: thresholds at 0, so every transaction is declined.
    const v2 = await publish(p.registry, MODEL, primaryArtifact({ thresholds: { review: 0, decline: 0 } }));
    let rollback: Ev | undefined;
    const deadline = Date.now() + 20_000;
    while (!rollback && Date.now() < deadline) {
      await send(20);
      const body = (await (await fetch(`${c.url}/v1/events?since=0`)).json()) as { events: Ev[] };
      rollback = body.events.find((e) => e.type === 'rollback');
    }
    expect(rollback).toMatchObject({ reason: 'prediction_shift', from_version: v2, to_version: v1 });
    expect(rollback!.details.value).toBe(1);
    expect((await p.registry.getAlias(MODEL, 'champion'))?.version).toBe(v1);
    // The replica hot-reloads the restored champion.
    await until(async () => {
      const v = await send(1);
      return v.has(v1) && v.size === 1;
    }, 'the model-server serving v1 again');
  });
});
