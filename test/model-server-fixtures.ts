// Shared setup for the model-server tests: a real registry and a real feature-server in-process (temp
// dirs), hand-made model artifacts, and small HTTP helpers. No HTTP mocking.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { start as startFeatureServer } from '../src/pipeline/feature-server/server.ts';
import { RegistryClient } from '../src/pipeline/registry/client.ts';
import { start as startRegistry } from '../src/pipeline/registry/server.ts';
import type { ModelArtifact } from '../src/pipeline/schema.ts';

export const TOKEN = 'test-admin-token';

/** Deterministic pseudo-random numbers in [0, 1) (LCG), so reference samples are reproducible. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function referenceSample(seed: number, n: number, f: (u: number) => number): number[] {
  const r = lcg(seed);
  return Array.from({ length: n }, () => f(r()));
}

/** Training reference: amounts ~ 50..250, balances, hours, merchant risk. */
export const REFERENCE = {
  amount: { values: referenceSample(1, 400, (u) => 50 + 200 * u) },
  old_balance: { values: referenceSample(2, 400, (u) => 1000 + 4000 * u) },
  hour: { values: referenceSample(3, 400, (u) => Math.floor(24 * u)) },
  merchant_risk: { values: referenceSample(4, 400, (u) => u * 0.5) },
  txn_count_24h: { values: referenceSample(5, 400, (u) => Math.floor(10 * u)) },
};

export function primaryArtifact(overrides: Partial<ModelArtifact> = {}): ModelArtifact {
  return {
    format: 'faultline.logistic/v1',
    name: 'fraud-primary',
    role: 'primary',
    inputs: ['log_amount', 'merchant_risk', 'txn_count_24h', 'chargebacks_90d', 'drains_account'],
    mean: [4, 0.2, 1, 0, 0],
    std: [2, 0.2, 1, 1, 1],
    weights: [0.5, 1.5, 0.3, 0.8, 2],
    bias: -3,
    thresholds: { review: 0.5, decline: 0.8 },
    reference: REFERENCE,
    trained_at: '2024-01-01T00:00:00Z',
    seed: 1,
    ...overrides,
  };
}

export function fallbackArtifact(overrides: Partial<ModelArtifact> = {}): ModelArtifact {
  return {
    format: 'faultline.logistic/v1',
    name: 'fraud-fallback',
    role: 'fallback',
    inputs: ['log_amount', 'merchant_risk', 'drains_account'],
    mean: [4, 0.2, 0],
    std: [2, 0.2, 1],
    weights: [0.4, 1.2, 1.5],
    bias: -2.5,
    thresholds: { review: 0.5, decline: 0.8 },
    reference: REFERENCE,
    ...overrides,
  };
}

export const TX = {
  user_id: 'u-good',
  type: 'TRANSFER',
  amount: 120,
  old_balance: 2000,
  new_balance: 1880,
  hour: 14,
  merchant_risk: 0.1,
} as const;

export const GOOD_FEATURES = {
  txn_count_24h: 3,
  avg_amount_30d: 110.5,
  account_age_days: 400,
  chargebacks_90d: 0,
  distinct_devices_7d: 1,
};

export interface Pipeline {
  dir: string;
  registryUrl: string;
  featureServerUrl: string;
  featurePort: number;
  registry: RegistryClient;
  closeRegistry(): Promise<void>;
  /** Stops the feature-server (the model-server then sees connection refused). */
  stopFeatureServer(): Promise<void>;
  /** Starts it again on the same port and store file. */
  restartFeatureServer(): Promise<void>;
  close(): Promise<void>;
}

/** Registry + feature-server (TTL 1 h) with users u-good (fresh) and u-stale (2 h old). */
export async function startPipeline(): Promise<Pipeline> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-ms-'));
  const reg = await startRegistry({
    db: path.join(dir, 'registry.db'),
    artifactRoot: path.join(dir, 'artifacts'),
    adminToken: TOKEN,
  });
  const storeFile = path.join(dir, 'features.db');
  let fsrv: Awaited<ReturnType<typeof startFeatureServer>> | undefined = await startFeatureServer({
    store: storeFile,
    ttlSeconds: 3600,
    adminToken: TOKEN,
  });
  const featurePort = fsrv.port;
  const featureServerUrl = fsrv.url;
  const now = Date.now();
  await http(
    'POST',
    `${featureServerUrl}/v1/materialize`,
    {
      run_id: 'seed-1',
      rows: [
        { user_id: 'u-good', event_timestamp: new Date(now - 60_000).toISOString(), features: GOOD_FEATURES },
        {
          user_id: 'u-stale',
          event_timestamp: new Date(now - 2 * 3600_000).toISOString(),
          features: GOOD_FEATURES,
        },
      ],
    },
    TOKEN,
  ).then(expectStatus(200));
  let regOpen = true;
  const p: Pipeline = {
    dir,
    registryUrl: reg.url,
    featureServerUrl,
    featurePort,
    registry: new RegistryClient({ url: reg.url, token: TOKEN }),
    async closeRegistry() {
      if (regOpen) {
        regOpen = false;
        await reg.close();
      }
    },
    async stopFeatureServer() {
      await fsrv?.close();
      fsrv = undefined;
    },
    async restartFeatureServer() {
      fsrv = await startFeatureServer({
        store: storeFile,
        ttlSeconds: 3600,
        adminToken: TOKEN,
        port: featurePort,
      });
    },
    async close() {
      await p.stopFeatureServer();
      await p.closeRegistry();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return p;
}

/** Registers an artifact as a new version and points `alias` at it; returns the version. */
export async function publish(
  reg: RegistryClient,
  name: string,
  artifact: unknown,
  alias = 'champion',
): Promise<string> {
  const version = await reg.registerModelJson(name, artifact);
  await reg.setAlias(name, alias, version);
  return version;
}

export interface HttpResult {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
  body: any;
  text: string;
}

export async function http(
  method: string,
  url: string,
  body?: unknown,
  token?: string,
  rawBody?: string,
): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  if (body !== undefined || rawBody !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, {
    method,
    headers,
    body: rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export const expectStatus = (status: number) => (r: HttpResult) => {
  if (r.status !== status) throw new Error(`expected HTTP ${status}, got ${r.status}: ${r.text}`);
  return r;
};

export const predict = (url: string, tx: Record<string, unknown>) => http('POST', `${url}/v1/predict`, tx);

/** Sum of a metric's samples whose labels include every given label (prom text format). */
export async function metric(
  url: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = (await http('GET', `${url}/metrics`)).text;
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const lbl = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => lbl.includes(`${k}="${v}"`))) {
      sum += Number(m[3]);
      found = true;
    }
  }
  return found ? sum : Number.NaN;
}

/** Polls `fn` until it returns a truthy value or the deadline passes (then throws with the last value). */
export async function waitFor<T>(
  fn: () => Promise<T>,
  timeoutMs: number,
  what: string,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
