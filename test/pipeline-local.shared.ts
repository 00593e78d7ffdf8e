// Helpers for the acceptance tests of the reference pipeline on the local platform
// (pipeline-local*.test.ts): real child processes started through LocalPlatform, real load.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import type { BuiltinLoadDriver } from '../src/load/builtin.ts';
import { createBuiltinDriver, seededPayload } from '../src/load/builtin.ts';
import type { LoadResult, RequestRecord } from '../src/load/driver.ts';
import type { Mechanism } from '../src/pipeline/common/config.ts';
import { RegistryClient } from '../src/pipeline/registry/client.ts';
import type { PipelineEndpoints, PlatformEvent } from '../src/platforms/platform.ts';

// Active-pipeline records go to a private home, so no one else's `faultline pipeline down` or
// `cleanup` run finds (and stops) the pipelines of these tests, and these never touch theirs.
if (!process.env.FAULTLINE_HOME) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-home-'));
  process.env.FAULTLINE_HOME = home;
  // Registered on the importing test file's root suite: runs after its pipelines have stopped.
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
}
// Loaded lazily: LocalPlatform reads FAULTLINE_HOME when it records an active pipeline.
const { LocalPlatform } = await import('../src/platforms/local/local-platform.ts');

export const ROOT = path.resolve(import.meta.dirname, '..');
export const PRIMARY = 'fraud-primary';
export const FALLBACK_REASONS_STORE = ['feature_store_unavailable', 'breaker_open'];

export interface Pipeline {
  platform: InstanceType<typeof LocalPlatform>;
  ep: PipelineEndpoints;
  events: PlatformEvent[];
  registry: RegistryClient;
  stateDir: string;
  /** Every pid any replica ever had (restarts included), for the no-process-left-behind check. */
  pids(): number[];
  stopped: boolean;
  stop(): Promise<void>;
}

export async function startPipeline(
  opts: { replicas?: number; disabled?: Mechanism[]; seed?: number } = {},
): Promise<Pipeline> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-pipeline-'));
  const platform = new LocalPlatform({
    replicas: opts.replicas ?? 2,
    disabled: new Set(opts.disabled ?? []),
    seed: opts.seed ?? 42,
    stateDir,
  });
  const events: PlatformEvent[] = [];
  platform.onEvent((e) => events.push(e));
  let ep: PipelineEndpoints;
  try {
    ep = (await platform.start()).endpoints;
  } catch (e) {
    await platform.stop();
    throw e;
  }
  const pids = () => [
    ...new Set(events.flatMap((e) => (e.type === 'replica-started' && e.pid ? [e.pid] : []))),
  ];
  const pipeline: Pipeline = {
    platform,
    ep,
    events,
    registry: new RegistryClient({ url: ep.registry, token: ep.adminToken }),
    stateDir,
    pids,
    stopped: false,
    async stop() {
      pipeline.stopped = true;
      await platform.stop();
      if (!process.env.FAULTLINE_KEEP_STATE) fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return pipeline;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns something other than undefined/false; throws with `what` on timeout. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      lastErr = e;
    }
    await sleep(everyMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`,
  );
}

export interface PredictAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: assertions navigate the response JSON
  body: any;
  headers: Headers;
}

export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<PredictAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the assertion message
  }
  return { status: res.status, body: json, headers: res.headers };
}

// biome-ignore lint/suspicious/noExplicitAny: assertions navigate the response JSON
export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, body };
}

/** A seeded stream of realistic transactions for users the feature store knows. */
export async function transactions(seed: number): Promise<() => Record<string, unknown>> {
  return seededPayload(seed);
}

/** Toxiproxy API call on the platform's built-in proxy. */
export async function toxiproxy(
  ep: PipelineEndpoints,
  method: string,
  p: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: assertions navigate the response JSON
): Promise<{ status: number; body: any }> {
  const res = await fetch(ep.toxiproxy + p.replace(/[^/]+/g, (s) => encodeURIComponent(s)), {
    method,
    headers: {
      authorization: `Bearer ${ep.adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // 204 and friends
  }
  if (res.status >= 400) throw new Error(`toxiproxy ${method} ${p}: HTTP ${res.status} ${text}`);
  return { status: res.status, body: json };
}

export interface LoadRun {
  driver: BuiltinLoadDriver;
  rate: number;
  /** Records as they complete (completion order). */
  live: RequestRecord[];
  done: Promise<LoadResult>;
}

/** Starts open-model load on the gateway with per-request records kept. */
export async function startLoad(
  ep: PipelineEndpoints,
  o: { rate: number; durationMs: number; seed: number },
): Promise<LoadRun> {
  const driver = createBuiltinDriver({
    url: ep.gateway,
    rate: o.rate,
    durationMs: o.durationMs,
    seed: o.seed,
    keepRecords: true,
    payload: await seededPayload(o.seed),
  });
  const live: RequestRecord[] = [];
  driver.onRecord((r) => live.push(r));
  await driver.start();
  return { driver, rate: o.rate, live, done: driver.done };
}

export const isPrimary = (r: RequestRecord) => r.outcome === 'ok' && r.fallback === undefined;

/**
 * Waits until the pipeline is in steady state under the running load (every request of the last
 * `windowMs` answered 200 within `maxLatencyMs`, nearly all by the primary model) and returns the
 * start of that window: the experiment is measured from there. As in any chaos experiment, a fault is
 * only injected into a system whose steady state holds; on this shared 2-core machine other jobs can
 * starve the pipeline for a while, and that must not be mistaken for the fault's effect.
 */
export async function waitSteady(
  load: LoadRun,
  o: { windowMs?: number; maxLatencyMs?: number; timeoutMs?: number } = {},
): Promise<number> {
  const windowMs = o.windowMs ?? 2000;
  const maxLatencyMs = o.maxLatencyMs ?? 500;
  const settle = 600; // requests of the window have had this long to complete
  let last = '';
  try {
    return await waitFor(
      'steady state under load',
      () => {
        const end = Date.now() - settle;
        const from = end - windowMs;
        const recs = load.live.filter((r) => r.tIntended >= from && r.tIntended < end);
        const expected = (load.rate * windowMs) / 1000;
        const slow = recs.filter((r) => (r.latencyMs ?? Infinity) > maxLatencyMs).length;
        const primary = recs.filter(isPrimary).length;
        last = `${recs.length}/${expected} answered, ${recs.filter(failed).length} errors, ${slow} slower than ${maxLatencyMs} ms, ${primary} primary`;
        return recs.length >= expected * 0.9 &&
          slow === 0 &&
          recs.every((r) => r.outcome === 'ok') &&
          primary >= recs.length * 0.9
          ? from
          : undefined;
      },
      o.timeoutMs ?? 45_000,
      200,
    );
  } catch (e) {
    throw new Error(
      `${(e as Error).message}: the pipeline never held steady state (last window: ${last}); is the machine overloaded?`,
    );
  }
}

export const failed = (r: RequestRecord) => r.outcome !== 'ok';

/**
 * Waits until every replica answers from the primary model again: the last `n` answers each replica
 * gave to requests sent after `since` are all primary. Returns when that was first seen.
 */
export async function waitPrimaryAgain(
  load: LoadRun,
  replicas: number,
  since: number,
  timeoutMs: number,
  n = 5,
): Promise<number> {
  return waitFor(
    'primary answers from every replica',
    () => {
      for (let i = 0; i < replicas; i++) {
        const mine = load.live.filter((r) => r.tIntended >= since && r.upstream === String(i));
        if (mine.length < n || !mine.slice(-n).every(isPrimary)) return undefined;
      }
      return Date.now();
    },
    timeoutMs,
  );
}
export const between = (recs: RequestRecord[], from: number, to: number) =>
  recs.filter((r) => r.tIntended >= from && r.tIntended < to);

export function describeErrors(recs: RequestRecord[]): string {
  const by = new Map<string, number>();
  for (const r of recs.filter(failed)) {
    const k = `${r.outcome}:${r.status}:${r.error ?? ''}`;
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  return JSON.stringify(Object.fromEntries(by));
}

/** Runs the trainer job in MODE=degraded:<kind> and returns the version it registered. */
export async function trainDegraded(
  ep: PipelineEndpoints,
  kind: 'skewed' | 'inverted' | 'broken',
  seed = 42,
): Promise<string> {
  const child = spawn(process.execPath, [path.join(ROOT, 'src/pipeline/trainer/main.ts')], {
    env: {
      ...process.env,
      REGISTRY_URL: ep.registry,
      FEATURE_SERVER_URL: ep.featureServer,
      ADMIN_TOKEN: ep.adminToken,
      SEED: String(seed),
      MODE: `degraded:${kind}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`trainer degraded:${kind} exited with ${code}:\n${err.slice(-2000)}`);
  const result = JSON.parse(out.trim().split('\n').at(-1) as string) as { version?: string };
  if (!result.version) throw new Error(`trainer printed no version: ${out}`);
  return result.version;
}

export interface ControllerEvent {
  seq: number;
  type: string;
  reason: string;
  from_version: string | null;
  to_version: string | null;
  details: Record<string, unknown>;
}

export async function controllerEvents(ep: PipelineEndpoints, since = 0): Promise<ControllerEvent[]> {
  const { body } = await getJson(`${ep.controller}/v1/events?since=${since}`);
  return (body as { events: ControllerEvent[] }).events;
}

/** Versions served by every replica right now, read straight from each model-server. */
export async function servedVersions(ep: PipelineEndpoints): Promise<string[]> {
  return Promise.all(
    ep.modelServers.map(async (u) => {
      const { body } = await getJson(`${u}/v1/model`);
      return String(body?.primary?.version ?? 'none');
    }),
  );
}

/** Retries the gateway made, and upstream attempts that failed (5xx, refused, reset, timeout). */
export async function gatewayAttempts(gateway: string): Promise<{ retries: number; failedAttempts: number }> {
  const text = await (await fetch(`${gateway}/metrics`)).text();
  let failedAttempts = 0;
  for (const m of text.matchAll(/^gateway_upstream_requests_total\{[^}]*outcome="([^"]+)"[^}]*\} (\S+)$/gm)) {
    if (m[1] !== 'success' && m[1] !== 'client_error') failedAttempts += Number(m[2]);
  }
  return { retries: Number(/^gateway_retries_total (\S+)$/m.exec(text)?.[1] ?? 0), failedAttempts };
}

/** The gateway's view of one upstream (`/v1/upstreams`). */
export async function gatewayUpstream(ep: PipelineEndpoints, label: string) {
  const { body } = await getJson(`${ep.gateway}/v1/upstreams`);
  return (
    body.upstreams as {
      upstream: string;
      ejected: boolean;
      times_ejected: number;
      consecutive_failures: number;
    }[]
  ).find((u) => u.upstream === label);
}
