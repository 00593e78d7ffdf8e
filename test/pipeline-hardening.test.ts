// Hardening of the running pipeline (issue 14), on one local pipeline: every service's /metrics under
// `promtool check metrics`; the admin token on every write route and on none of the reads (a table
// over every route the services register, checked against their sources); and every JSON endpoint
// fuzzed with malformed, wrongly typed, deeply nested, oversized and wrongly labelled bodies (and the
// reads with odd query strings) — each answered with a 4xx JSON error naming the field, no service
// down, no state changed.
// Runs per endpoint and kind: FAULTLINE_FUZZ_HTTP_RUNS (default 15; CI sets more, see BENCHMARKS.md).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineEndpoints } from '../src/platforms/platform.ts';
import { type Pipeline, ROOT, startPipeline } from './pipeline-local.shared.ts';

const RUNS = Number(process.env.FAULTLINE_FUZZ_HTTP_RUNS ?? 15);
const API = '/api/2.0/mlflow';
const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts';

type ServiceKey = 'gateway' | 'registry' | 'feature-server' | 'controller' | 'model-server' | 'proxy-api';

let pl: Pipeline;
let ep: PipelineEndpoints;
beforeAll(async () => {
  pl = await startPipeline({ replicas: 1 });
  ep = pl.ep;
}, 120_000);
afterAll(async () => {
  await pl?.stop();
});

const base = (s: ServiceKey): string =>
  ({
    gateway: ep.gateway,
    registry: ep.registry,
    'feature-server': ep.featureServer,
    controller: ep.controller,
    'model-server': ep.modelServers[0],
    'proxy-api': ep.toxiproxy,
  })[s];

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: assertions navigate the response JSON
  json: any;
  text: string;
}

async function call(
  s: ServiceKey,
  method: string,
  p: string,
  opts: { body?: string | Buffer; auth?: string | null; type?: string | null } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  const auth = opts.auth === undefined ? `Bearer ${ep.adminToken}` : opts.auth;
  if (auth !== null) headers.authorization = auth;
  const type = opts.type === undefined ? 'application/json' : opts.type;
  if (opts.body !== undefined && type !== null) headers['content-type'] = type;
  const res = await fetch(base(s) + p, {
    method,
    headers,
    body: opts.body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool: ${r.error.message} (apt-get install -y prometheus)`);
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

const SERVICES: ServiceKey[] = [
  'gateway',
  'registry',
  'feature-server',
  'controller',
  'model-server',
  'proxy-api',
];

describe('faithful peers: /metrics', () => {
  it('every service passes promtool check metrics with no lint output', async () => {
    for (const s of SERVICES) {
      const r = await call(s, 'GET', '/metrics', { auth: null });
      expect(r.status, s).toBe(200);
      expect(r.text, s).toContain('http_requests_total');
      const check = promtoolCheck(r.text);
      expect(check.output, s).toBe('');
      expect(check.status, s).toBe(0);
    }
    // The dropped *_total gauges' information is still there, by type.
    const ms = await call('model-server', 'GET', '/metrics', { auth: null });
    expect(ms.text).toMatch(/^model_server_nodejs_active_handles\{[^}]*type="\w+"[^}]*\} \d+/m);
    expect(ms.text).not.toContain('nodejs_active_handles_total');
    // And promtool does flag the shape that used to be there.
    const bad = promtoolCheck('# HELP x_total a gauge\n# TYPE x_total gauge\nx_total 1\n');
    expect(bad.output).toContain('non-counter metrics should not have "_total" suffix');
  });
});

// ---- every route: admin or not ----

interface RouteCase {
  service: ServiceKey;
  method: string;
  /** As registered in the source (`:param`, `*`). */
  pattern: string;
  /** Concrete path to call. */
  path?: string;
  admin: boolean;
  /** With the right token, a body that is refused after the auth check (no state change). */
  body?: string;
}

const ROUTES: RouteCase[] = [
  // every service (src/pipeline/common/service.ts)
  ...SERVICES.flatMap((service): RouteCase[] => [
    { service, method: 'GET', pattern: '/healthz', admin: false },
    { service, method: 'GET', pattern: '/readyz', admin: false },
    { service, method: 'GET', pattern: '/metrics', admin: false },
  ]),
  // gateway
  { service: 'gateway', method: 'POST', pattern: '/v1/predict', admin: false, body: '{}' },
  { service: 'gateway', method: 'GET', pattern: '/', admin: false },
  { service: 'gateway', method: 'GET', pattern: '/v1/upstreams', admin: false },
  { service: 'gateway', method: 'PUT', pattern: '/v1/admin/canary', admin: true, body: '{"weight":"x"}' },
  // feature-server
  {
    service: 'feature-server',
    method: 'GET',
    pattern: '/v1/features/:user_id',
    path: '/v1/features/u00001',
    admin: false,
  },
  { service: 'feature-server', method: 'POST', pattern: '/get-online-features', admin: false, body: '{}' },
  { service: 'feature-server', method: 'POST', pattern: '/v1/materialize', admin: true, body: '{"rows":[]}' },
  {
    service: 'feature-server',
    method: 'GET',
    pattern: '/v1/admin/rows',
    path: '/v1/admin/rows?user_id=u00001',
    admin: true,
  },
  { service: 'feature-server', method: 'PUT', pattern: '/v1/admin/rows', admin: true, body: '{"rows":[]}' },
  {
    service: 'feature-server',
    method: 'DELETE',
    pattern: '/v1/admin/rows',
    path: '/v1/admin/rows',
    admin: true,
  },
  { service: 'feature-server', method: 'GET', pattern: '/v1/stats', admin: false },
  // registry (MLflow REST subset, artifacts, alias journal)
  {
    service: 'registry',
    method: 'POST',
    pattern: `${API}/registered-models/create`,
    admin: true,
    body: '{"name":7}',
  },
  {
    service: 'registry',
    method: 'GET',
    pattern: `${API}/registered-models/get`,
    path: `${API}/registered-models/get?name=fraud-primary`,
    admin: false,
  },
  {
    service: 'registry',
    method: 'POST',
    pattern: `${API}/model-versions/create`,
    admin: true,
    body: '{"name":7}',
  },
  {
    service: 'registry',
    method: 'GET',
    pattern: `${API}/model-versions/get`,
    path: `${API}/model-versions/get?name=fraud-primary&version=1`,
    admin: false,
  },
  {
    service: 'registry',
    method: 'GET',
    pattern: `${API}/model-versions/get-download-uri`,
    path: `${API}/model-versions/get-download-uri?name=fraud-primary&version=1`,
    admin: false,
  },
  {
    service: 'registry',
    method: 'POST',
    pattern: `${API}/registered-models/alias`,
    admin: true,
    body: '{"name":7}',
  },
  {
    service: 'registry',
    method: 'GET',
    pattern: `${API}/registered-models/alias`,
    path: `${API}/registered-models/alias?name=fraud-primary&alias=champion`,
    admin: false,
  },
  {
    service: 'registry',
    method: 'DELETE',
    pattern: `${API}/registered-models/alias`,
    admin: true,
    body: '{"name":7}',
  },
  { service: 'registry', method: 'GET', pattern: `${API}/registered-models/search`, admin: false },
  { service: 'registry', method: 'GET', pattern: `${API}/model-versions/search`, admin: false },
  {
    service: 'registry',
    method: 'POST',
    pattern: `${API}/registered-models/get-latest-versions`,
    admin: false,
    body: '{"name":"fraud-primary"}',
  },
  {
    service: 'registry',
    method: 'GET',
    pattern: `${API}/registered-models/get-latest-versions`,
    path: `${API}/registered-models/get-latest-versions?name=fraud-primary`,
    admin: false,
  },
  {
    service: 'registry',
    method: 'PATCH',
    pattern: `${API}/registered-models/update`,
    admin: true,
    body: '{"name":7}',
  },
  {
    service: 'registry',
    method: 'PATCH',
    pattern: `${API}/model-versions/update`,
    admin: true,
    body: '{"name":7}',
  },
  {
    service: 'registry',
    method: 'POST',
    pattern: `${API}/registered-models/set-tag`,
    admin: true,
    body: '{"name":7}',
  },
  {
    service: 'registry',
    method: 'DELETE',
    pattern: `${API}/registered-models/delete-tag`,
    admin: true,
    body: '{"name":7}',
  },
  {
    service: 'registry',
    method: 'POST',
    pattern: `${API}/model-versions/set-tag`,
    admin: true,
    body: '{"name":7}',
  },
  {
    service: 'registry',
    method: 'DELETE',
    pattern: `${API}/model-versions/delete-tag`,
    admin: true,
    body: '{"name":7}',
  },
  {
    service: 'registry',
    method: 'DELETE',
    pattern: `${API}/model-versions/delete`,
    admin: true,
    body: '{"name":7}',
  },
  {
    service: 'registry',
    method: 'DELETE',
    pattern: `${API}/registered-models/delete`,
    admin: true,
    body: '{"name":7}',
  },
  { service: 'registry', method: 'GET', pattern: '/api/2.0/faultline/alias-history', admin: false },
  {
    service: 'registry',
    method: 'PUT',
    pattern: `${ARTIFACTS}/*`,
    path: `${ARTIFACTS}/x/a.tmp-1/f`,
    admin: true,
    body: 'x',
  },
  {
    service: 'registry',
    method: 'GET',
    pattern: `${ARTIFACTS}/*`,
    path: `${ARTIFACTS}/none/model.json`,
    admin: false,
  },
  { service: 'registry', method: 'GET', pattern: ARTIFACTS, admin: false },
  // controller
  { service: 'controller', method: 'GET', pattern: '/v1/events', path: '/v1/events?wait=0', admin: false },
  { service: 'controller', method: 'GET', pattern: '/v1/state', admin: false },
  { service: 'controller', method: 'GET', pattern: '/v1/canary', admin: false },
  { service: 'controller', method: 'POST', pattern: '/v1/canary', admin: true, body: '{"version":true}' },
  { service: 'controller', method: 'DELETE', pattern: '/v1/canary', admin: true },
  // model-server
  { service: 'model-server', method: 'POST', pattern: '/v1/predict', admin: false, body: '{}' },
  { service: 'model-server', method: 'GET', pattern: '/v1/model', admin: false },
  { service: 'model-server', method: 'GET', pattern: '/v1/drift', admin: false },
  { service: 'model-server', method: 'POST', pattern: '/v1/admin/drift/reset', admin: true },
  // fault proxy control (Toxiproxy API subset)
  { service: 'proxy-api', method: 'GET', pattern: '/version', admin: false },
  { service: 'proxy-api', method: 'GET', pattern: '/proxies', admin: false },
  { service: 'proxy-api', method: 'POST', pattern: '/proxies', admin: true, body: '{"name":1}' },
  { service: 'proxy-api', method: 'POST', pattern: '/reset', admin: true },
  { service: 'proxy-api', method: 'GET', pattern: '/proxies/:proxy', path: '/proxies/none', admin: false },
  {
    service: 'proxy-api',
    method: 'POST',
    pattern: '/proxies/:proxy',
    path: '/proxies/none',
    admin: true,
    body: '{"enabled":"x"}',
  },
  {
    service: 'proxy-api',
    method: 'GET',
    pattern: '/proxies/:proxy/toxics',
    path: '/proxies/none/toxics',
    admin: false,
  },
  {
    service: 'proxy-api',
    method: 'POST',
    pattern: '/proxies/:proxy/toxics',
    path: '/proxies/none/toxics',
    admin: true,
    body: '{"type":1}',
  },
  {
    service: 'proxy-api',
    method: 'DELETE',
    pattern: '/proxies/:proxy/toxics/:toxic',
    path: '/proxies/none/toxics/none',
    admin: true,
  },
];

/** Routes as the services register them, read from their sources (so a new route must join the table). */
function registeredRoutes(): string[] {
  const files: [ServiceKey, string][] = [
    ['gateway', 'src/pipeline/gateway/server.ts'],
    ['registry', 'src/pipeline/registry/server.ts'],
    ['feature-server', 'src/pipeline/feature-server/server.ts'],
    ['controller', 'src/pipeline/controller/http.ts'],
    ['model-server', 'src/pipeline/model-server/server.ts'],
    ['proxy-api', 'src/platforms/local/toxiproxy-api.ts'],
  ];
  const out: string[] = [];
  for (const [service, file] of files) {
    const src = fs.readFileSync(path.join(ROOT, file), 'utf8');
    for (const m of src.matchAll(/\.(?:route|rawRoute)\(\s*'([A-Z]+)',\s*([^,]+),/g)) {
      const pattern = m[2]
        .trim()
        .replace(/^[`']|[`']$/g, '')
        .replace(`\${API}`, API)
        .replace(`\${ARTIFACTS}`, ARTIFACTS)
        .replace(/^ARTIFACTS$/, ARTIFACTS);
      out.push(`${service} ${m[1]} ${pattern}`);
    }
  }
  const common = fs.readFileSync(path.join(ROOT, 'src/pipeline/common/service.ts'), 'utf8');
  for (const m of common.matchAll(/svc\.route\('([A-Z]+)', '([^']+)'/g))
    for (const service of SERVICES) out.push(`${service} ${m[1]} ${m[2]}`);
  return out.sort();
}

describe('security: the admin token on every write, on no read', () => {
  it('the table covers every route the services register', () => {
    const table = ROUTES.map((r) => `${r.service} ${r.method} ${r.pattern}`).sort();
    expect(table).toEqual(registeredRoutes());
  });

  it.each(ROUTES.filter((r) => r.admin).map((r) => [`${r.service} ${r.method} ${r.pattern}`, r] as const))(
    '%s refuses a missing, wrong or non-bearer token and lets the right one through',
    async (_name, r) => {
      const p = r.path ?? r.pattern;
      for (const auth of [
        null,
        'Bearer wrong-token',
        `Basic ${Buffer.from(`admin:${ep.adminToken}`).toString('base64')}`,
        `Bearer ${ep.adminToken}x`,
        'Bearer ',
      ]) {
        const res = await call(r.service, r.method, p, { body: r.body, auth });
        expect(res.status, `${auth}`).toBe(401);
        expect(res.json).toMatchObject({ error_code: 'UNAUTHENTICATED', field: 'authorization' });
        // The token never echoes back.
        expect(res.text).not.toContain(ep.adminToken);
      }
      const ok = await call(r.service, r.method, p, { body: r.body });
      expect([401, 403], ok.text).not.toContain(ok.status);
      expect(ok.status, ok.text).toBeLessThan(500);
    },
  );

  it.each(ROUTES.filter((r) => !r.admin).map((r) => [`${r.service} ${r.method} ${r.pattern}`, r] as const))(
    '%s needs no token',
    async (_name, r) => {
      const res = await call(r.service, r.method, r.path ?? r.pattern, { body: r.body, auth: null });
      expect([401, 403], res.text).not.toContain(res.status);
      expect(res.status, res.text).toBeLessThan(500);
      if (/^\/(healthz|readyz|metrics)$/.test(r.pattern)) expect(res.status).toBe(200);
    },
  );
});

// ---- fuzzing every JSON endpoint ----

type Kind = 'string' | 'number' | 'int' | 'version' | 'array' | 'object' | 'boolean';
interface JsonEndpoint {
  service: ServiceKey;
  method: string;
  path: string;
  /** A well-formed body aimed at something that does not exist or changes nothing if it got through. */
  template: Record<string, unknown>;
  /** Required fields and the type each must have: a value of any other type is a 400 naming it. */
  required: Record<string, Kind>;
}

const ROW = { user_id: 'fuzz-user', event_timestamp: '2026-01-01T00:00:00Z', features: { amount_avg_7d: 1 } };
const TX = {
  user_id: 'u00042',
  type: 'TRANSFER',
  amount: 900,
  old_balance: 900,
  new_balance: 0,
  hour: 3,
  merchant_risk: 0.7,
};
const GHOST = 'fuzz-no-such-model';

const ENDPOINTS: JsonEndpoint[] = [
  {
    service: 'gateway',
    method: 'POST',
    path: '/v1/predict',
    template: TX,
    required: { user_id: 'string', amount: 'number', hour: 'int', type: 'string' },
  },
  {
    service: 'gateway',
    method: 'PUT',
    path: '/v1/admin/canary',
    template: { weight: 0 },
    required: { weight: 'number' },
  },
  {
    service: 'model-server',
    method: 'POST',
    path: '/v1/predict',
    template: TX,
    required: { user_id: 'string', merchant_risk: 'number', old_balance: 'number' },
  },
  {
    service: 'feature-server',
    method: 'POST',
    path: '/get-online-features',
    template: { features: ['amount_avg_7d'], entities: { user_id: ['u00001'] } },
    required: { features: 'array', entities: 'object' },
  },
  {
    service: 'feature-server',
    method: 'POST',
    path: '/v1/materialize',
    template: { run_id: 'fuzz-run', rows: [ROW] },
    required: { run_id: 'string', rows: 'array' },
  },
  {
    service: 'feature-server',
    method: 'PUT',
    path: '/v1/admin/rows',
    template: { rows: [ROW] },
    required: { rows: 'array' },
  },
  {
    service: 'registry',
    method: 'POST',
    path: `${API}/registered-models/create`,
    template: { name: GHOST },
    required: { name: 'string' },
  },
  {
    service: 'registry',
    method: 'POST',
    path: `${API}/model-versions/create`,
    template: { name: GHOST, source: 'mlflow-artifacts:/x' },
    required: { name: 'string', source: 'string' },
  },
  {
    service: 'registry',
    method: 'POST',
    path: `${API}/registered-models/alias`,
    template: { name: GHOST, alias: 'champion', version: '1' },
    required: { name: 'string', alias: 'string', version: 'version' },
  },
  {
    service: 'registry',
    method: 'DELETE',
    path: `${API}/registered-models/alias`,
    template: { name: GHOST, alias: 'champion' },
    required: { name: 'string', alias: 'string' },
  },
  {
    service: 'registry',
    method: 'POST',
    path: `${API}/registered-models/get-latest-versions`,
    template: { name: GHOST },
    required: { name: 'string' },
  },
  {
    service: 'registry',
    method: 'PATCH',
    path: `${API}/registered-models/update`,
    template: { name: GHOST, description: 'x' },
    required: { name: 'string' },
  },
  {
    service: 'registry',
    method: 'PATCH',
    path: `${API}/model-versions/update`,
    template: { name: GHOST, version: '1', description: 'x' },
    required: { name: 'string', version: 'version' },
  },
  {
    service: 'registry',
    method: 'POST',
    path: `${API}/registered-models/set-tag`,
    template: { name: GHOST, key: 'k', value: 'v' },
    required: { name: 'string', key: 'string', value: 'string' },
  },
  {
    service: 'registry',
    method: 'DELETE',
    path: `${API}/registered-models/delete-tag`,
    template: { name: GHOST, key: 'k' },
    required: { name: 'string', key: 'string' },
  },
  {
    service: 'registry',
    method: 'POST',
    path: `${API}/model-versions/set-tag`,
    template: { name: GHOST, version: '1', key: 'k', value: 'v' },
    required: { name: 'string', version: 'version', key: 'string', value: 'string' },
  },
  {
    service: 'registry',
    method: 'DELETE',
    path: `${API}/model-versions/delete-tag`,
    template: { name: GHOST, version: '1', key: 'k' },
    required: { name: 'string', version: 'version', key: 'string' },
  },
  {
    service: 'registry',
    method: 'DELETE',
    path: `${API}/model-versions/delete`,
    template: { name: GHOST, version: '1' },
    required: { name: 'string', version: 'version' },
  },
  {
    service: 'registry',
    method: 'DELETE',
    path: `${API}/registered-models/delete`,
    template: { name: GHOST },
    required: { name: 'string' },
  },
  {
    service: 'controller',
    method: 'POST',
    path: '/v1/canary',
    template: { version: '999' },
    required: { version: 'version' },
  },
  {
    service: 'proxy-api',
    method: 'POST',
    path: '/proxies',
    template: { name: 'fuzz', listen: '127.0.0.1:0', upstream: '127.0.0.1:9' },
    required: { name: 'string', listen: 'string', upstream: 'string' },
  },
  {
    service: 'proxy-api',
    method: 'POST',
    path: '/proxies/none',
    template: { enabled: true },
    required: { enabled: 'boolean' },
  },
  {
    service: 'proxy-api',
    method: 'POST',
    path: '/proxies/none/toxics',
    template: { type: 'latency', attributes: { latency: 1 } },
    required: { type: 'string' },
  },
];

/** A value that is not of the kind (nor acceptable as one: "1" for a version, 3.0 for an int). */
function wrongFor(kind: Kind): fc.Arbitrary<unknown> {
  const any = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.string(),
    fc.array(fc.jsonValue(), { maxLength: 3 }),
    fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
  );
  return any.filter((v): boolean => {
    switch (kind) {
      case 'string':
        return typeof v !== 'string';
      case 'number':
        return typeof v !== 'number';
      case 'int':
        return !Number.isInteger(v);
      case 'version':
        return !(typeof v === 'string' || typeof v === 'number') || !/^\s*[1-9]\d*\s*$/.test(String(v));
      case 'array':
        return !Array.isArray(v);
      case 'object':
        return typeof v !== 'object' || v === null || Array.isArray(v);
      case 'boolean':
        return typeof v !== 'boolean';
      default:
        return true;
    }
  });
}

const isJson = (s: string) => {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
};

const malformed: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }).filter((s) => !isJson(s)),
  fc
    .jsonValue()
    .map((v) => JSON.stringify({ v }))
    .chain((s) => fc.nat({ max: s.length - 1 }).map((n) => s.slice(0, n)))
    .filter((s) => !isJson(s)),
  fc.constantFrom(
    '{',
    '{"name":',
    'nul',
    '{"a":1,}',
    "{'name':'x'}",
    '\u0000',
    '[1,2',
    '{"name":"x"}}',
    '\uFEFF{}',
    'NaN',
  ),
);

const nest = (depth: number, open = '[', close = ']') => `${open.repeat(depth)}${close.repeat(depth)}`;

function expectFieldError(r: Answer, what: string, field?: string | RegExp) {
  expect(r.status, `${what}: ${r.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(r.status, `${what}: ${r.text.slice(0, 300)}`).toBeLessThan(500);
  expect(typeof r.json?.error_code, `${what}: ${r.text.slice(0, 300)}`).toBe('string');
  expect(typeof r.json?.message).toBe('string');
  expect(typeof r.json?.field, `${what}: no field in ${r.text.slice(0, 300)}`).toBe('string');
  if (typeof field === 'string') expect(r.json.field, what).toBe(field);
  else if (field) expect(r.json.field, what).toMatch(field);
  // No stack trace in the answer.
  expect(r.text).not.toMatch(/\n\s+at /);
}

async function snapshot() {
  const reg = async (p: string) => (await call('registry', 'GET', `${API}/${p}`, { auth: null })).json;
  const rows: unknown[] = [];
  let after = '';
  for (;;) {
    const r = await call(
      'feature-server',
      'GET',
      `/v1/admin/rows?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`,
    );
    rows.push(...r.json.rows);
    if (!r.json.next_after) break;
    after = r.json.next_after;
  }
  return {
    models: await reg('registered-models/search?max_results=1000'),
    versions: await reg('model-versions/search'),
    aliasHistory: (
      await call('registry', 'GET', '/api/2.0/faultline/alias-history?limit=10000', { auth: null })
    ).json,
    rows,
    stats: (await call('feature-server', 'GET', '/v1/stats', { auth: null })).json,
    proxies: (await call('proxy-api', 'GET', '/proxies', { auth: null })).json,
    canary: (await call('controller', 'GET', '/v1/canary', { auth: null })).json,
    canaryWeight: (await call('gateway', 'GET', '/v1/upstreams', { auth: null })).json.canary_weight,
  };
}

describe('bad input: every JSON endpoint fuzzed', () => {
  let before: Awaited<ReturnType<typeof snapshot>>;
  let sent = 0;
  beforeAll(async () => {
    before = await snapshot();
    expect(before.versions.model_versions.length).toBeGreaterThan(0);
    expect(before.rows.length).toBeGreaterThan(0);
  });

  it.each(ENDPOINTS.map((e) => [`${e.service} ${e.method} ${e.path}`, e] as const))(
    '%s: 4xx naming the field for every bad body',
    async (name, e) => {
      const send = (body: string | Buffer, type?: string | null) => {
        sent++;
        return call(e.service, e.method, e.path, { body, type });
      };
      // Malformed JSON.
      await fc.assert(
        fc.asyncProperty(malformed, async (body) =>
          expectFieldError(
            await send(body),
            `${name} ${JSON.stringify(body)}`,
            // An empty DELETE body is MLflow's query-string form: then the missing parameter is named.
            body === '' && e.method === 'DELETE' ? undefined : '(body)',
          ),
        ),
        { numRuns: RUNS },
      );
      // A required field of the wrong type (or null).
      const fields = Object.keys(e.required);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...fields).chain((f) => fc.tuple(fc.constant(f), wrongFor(e.required[f]))),
          async ([field, value]) => {
            const body = JSON.stringify({ ...e.template, [field]: value });
            expectFieldError(await send(body), `${name} ${body}`, new RegExp(`^${field}(\\.|$)`));
          },
        ),
        { numRuns: RUNS },
      );
      // Deep nesting, at the top and inside a field.
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 65, max: 200_000 }),
          fc.constantFrom(...fields),
          fc.boolean(),
          async (depth, field, objects) => {
            const deep = objects ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : nest(depth);
            const inField = JSON.stringify({ ...e.template, [field]: '@@' }).replace('"@@"', deep);
            expectFieldError(await send(inField), `${name} depth ${depth} in ${field}`, '(body)');
          },
        ),
        { numRuns: Math.max(3, Math.ceil(RUNS / 3)) },
      );
      expectFieldError(await send(nest(500_000)), `${name} 500k brackets`, '(body)');
      // Over the 1 MiB body limit.
      const big = Buffer.from(JSON.stringify({ ...e.template, pad: 'x'.repeat(1024 * 1024) }));
      const tooBig = await send(big);
      expectFieldError(tooBig, `${name} ${big.length} bytes`, '(body)');
      expect(tooBig.status).toBe(413);
      // A valid-looking body labelled as something else.
      for (const type of [
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
      ]) {
        const r = await send(JSON.stringify(e.template), type);
        expectFieldError(r, `${name} as ${type}`, 'content-type');
        expect(r.status).toBe(415);
      }
    },
    120_000,
  );

  // Query strings of the reads: odd values for the parameters each endpoint knows, plus unknown ones.
  const QUERY_ENDPOINTS: [ServiceKey, string, string[]][] = [
    ['registry', `${API}/registered-models/get`, ['name']],
    ['registry', `${API}/model-versions/get`, ['name', 'version']],
    ['registry', `${API}/model-versions/get-download-uri`, ['name', 'version']],
    ['registry', `${API}/registered-models/alias`, ['name', 'alias']],
    ['registry', `${API}/registered-models/search`, ['filter', 'max_results', 'order_by', 'page_token']],
    ['registry', `${API}/model-versions/search`, ['filter', 'max_results', 'order_by', 'page_token']],
    ['registry', `${API}/registered-models/get-latest-versions`, ['name', 'stages']],
    ['registry', '/api/2.0/faultline/alias-history', ['name', 'alias', 'after', 'limit']],
    ['registry', ARTIFACTS, ['path']],
    ['feature-server', '/v1/admin/rows', ['user_id', 'limit', 'after']],
    // Not `wait`: a long poll may legitimately hold the request for up to its cap (MAX_WAIT_MS).
    ['controller', '/v1/events', ['since']],
  ];
  it.each(QUERY_ENDPOINTS.map((q) => [`${q[0]} GET ${q[1]}`, q] as const))(
    '%s: odd query strings get an answer, never a 5xx',
    async (name, [service, p, keys]) => {
      const value = fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.constantFrom(
          '-1',
          '0',
          '1e999',
          '99999999999999999999',
          'NaN',
          '..',
          '../../etc/passwd',
          "name = 'x' OR",
          'tags.`x',
          '%',
          '\u0000',
          'a'.repeat(5000),
        ),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 8 })), value), {
            maxLength: 4,
          }),
          async (pairs) => {
            sent++;
            const q = new URLSearchParams(
              pairs
                .filter(([k]) => k !== 'wait')
                .map(([k, v]): [string, string] => [k, v.replace(/^\\u0000$/, '\u0000')]),
            );
            const r = await call(service, 'GET', `${p}?${q}`, { auth: `Bearer ${ep.adminToken}` });
            expect(r.status, `${name}?${q}: ${r.text.slice(0, 300)}`).toBeLessThan(500);
            if (r.status === 400) expectFieldError(r, `${name}?${q}`);
          },
        ),
        { numRuns: RUNS },
      );
    },
    120_000,
  );

  it('left every service up and every piece of state as it was', async () => {
    expect(sent).toBeGreaterThan(ENDPOINTS.length * RUNS * 2);
    console.info(
      `HTTP fuzz: ${sent} bad requests to ${ENDPOINTS.length} JSON endpoints and ${QUERY_ENDPOINTS.length} query endpoints (FAULTLINE_FUZZ_HTTP_RUNS=${RUNS})`,
    );
    for (const s of SERVICES) expect((await call(s, 'GET', '/readyz', { auth: null })).status, s).toBe(200);
    expect(pl.events.filter((e) => e.type === 'replica-gone')).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });
});
