import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactPath, RegistryClient, RegistryError } from '../src/pipeline/registry/client.ts';
import { type RegistryHandle, start } from '../src/pipeline/registry/server.ts';

const TOKEN = 'test-admin-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const API = '/api/2.0/mlflow';
// biome-ignore lint/suspicious/noExplicitAny: response JSON is inspected loosely in assertions
type J = any;

let dir: string;
let srv: RegistryHandle;

async function call(method: string, p: string, body?: unknown, headers: Record<string, string> = AUTH) {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' || Buffer.isBuffer(body) ? (body as string) : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(`${srv.url}${p}`, init);
  const text = await res.text();
  let json: J;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** Raw request without WHATWG URL normalization, so `..` reaches the server as sent. */
function rawRequest(method: string, rawPath: string, body?: string): Promise<{ status: number; json: J }> {
  const u = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method, path: rawPath, headers: AUTH },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: J;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const cfg = () => ({
  db: path.join(dir, 'nested', 'registry.db'),
  artifactRoot: path.join(dir, 'artifacts'),
  adminToken: TOKEN,
});

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-registry-'));
  srv = await start(cfg());
});

afterAll(async () => {
  await srv?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('registered models', () => {
  it('creates with MLflow shape, rejects duplicates, gets, 404s on missing', async () => {
    const before = Date.now();
    const c = await call('POST', `${API}/registered-models/create`, {
      name: 'rm-a',
      description: 'first',
      tags: [{ key: 'team', value: 'risk' }],
    });
    expect(c.status).toBe(200);
    const rm = c.json.registered_model;
    expect(rm).toMatchObject({
      name: 'rm-a',
      description: 'first',
      aliases: [],
      tags: [{ key: 'team', value: 'risk' }],
    });
    expect(rm.creation_timestamp).toBeGreaterThanOrEqual(before);
    expect(rm.last_updated_timestamp).toBe(rm.creation_timestamp);
    expect(rm.latest_versions).toBeUndefined();

    const dup = await call('POST', `${API}/registered-models/create`, { name: 'rm-a' });
    expect(dup.status).toBe(400);
    expect(dup.json.error_code).toBe('RESOURCE_ALREADY_EXISTS');

    const g = await call('GET', `${API}/registered-models/get?name=rm-a`);
    expect(g.status).toBe(200);
    expect(g.json.registered_model).toEqual(rm);

    const missing = await call('GET', `${API}/registered-models/get?name=nope`);
    expect(missing.status).toBe(404);
    expect(missing.json.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    expect(missing.json.message).toContain('nope');
  });
});

describe('model versions', () => {
  it('numbers versions per model as strings, gets them, returns the download URI', async () => {
    await call('POST', `${API}/registered-models/create`, { name: 'mv-a' });
    await call('POST', `${API}/registered-models/create`, { name: 'mv-b' });
    const v1 = await call('POST', `${API}/model-versions/create`, {
      name: 'mv-a',
      source: 'mlflow-artifacts:/mv-a/1',
      run_id: 'r1',
    });
    expect(v1.status).toBe(200);
    expect(v1.json.model_version).toMatchObject({
      name: 'mv-a',
      version: '1',
      current_stage: 'None',
      description: '',
      source: 'mlflow-artifacts:/mv-a/1',
      run_id: 'r1',
      status: 'READY',
      aliases: [],
    });
    expect(typeof v1.json.model_version.creation_timestamp).toBe('number');
    const v2 = await call('POST', `${API}/model-versions/create`, {
      name: 'mv-a',
      source: 'mlflow-artifacts:/mv-a/2',
    });
    expect(v2.json.model_version.version).toBe('2');
    const b1 = await call('POST', `${API}/model-versions/create`, {
      name: 'mv-b',
      source: 'mlflow-artifacts:/mv-b/1',
    });
    expect(b1.json.model_version.version).toBe('1');

    const g = await call('GET', `${API}/model-versions/get?name=mv-a&version=2`);
    expect(g.status).toBe(200);
    expect(g.json.model_version).toEqual(v2.json.model_version);

    const uri = await call('GET', `${API}/model-versions/get-download-uri?name=mv-a&version=1`);
    expect(uri.json).toEqual({ artifact_uri: 'mlflow-artifacts:/mv-a/1' });

    const rm = (await call('GET', `${API}/registered-models/get?name=mv-a`)).json.registered_model;
    expect(rm.latest_versions.map((v: J) => v.version)).toEqual(['2']);
    expect(rm.last_updated_timestamp).toBe(v2.json.model_version.creation_timestamp);
  });

  it('404s on a missing model or version, 400 on a malformed version', async () => {
    const noModel = await call('POST', `${API}/model-versions/create`, { name: 'ghost', source: 'x' });
    expect(noModel.status).toBe(404);
    expect(noModel.json.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    const noVersion = await call('GET', `${API}/model-versions/get?name=mv-a&version=99`);
    expect(noVersion.status).toBe(404);
    expect(noVersion.json.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    const bad = await call('GET', `${API}/model-versions/get-download-uri?name=mv-a&version=abc`);
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', field: 'version' });
    expect(bad.json.message).toMatch(/^version: /);
  });
});

describe('auth on writes', () => {
  it('401 UNAUTHENTICATED without or with a wrong bearer token; reads stay open', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }] as Record<
      string,
      string
    >[]) {
      const r = await call('POST', `${API}/registered-models/create`, { name: 'auth-x' }, headers);
      expect(r.status).toBe(401);
      expect(r.json.error_code).toBe('UNAUTHENTICATED');
    }
    expect((await call('PUT', '/api/2.0/mlflow-artifacts/artifacts/auth-x/f', 'data', {})).status).toBe(401);
    expect(
      (await call('DELETE', `${API}/registered-models/alias?name=mv-a&alias=champion`, undefined, {})).status,
    ).toBe(401);
    expect(
      (await call('POST', `${API}/registered-models/alias`, { name: 'mv-a', alias: 'x', version: '1' }, {}))
        .status,
    ).toBe(401);
    // Nothing was created by the rejected writes.
    expect((await call('GET', `${API}/registered-models/get?name=auth-x`, undefined, {})).status).toBe(404);
    expect((await call('GET', `${API}/registered-models/get?name=mv-a`, undefined, {})).status).toBe(200);
  });
});

describe('aliases', () => {
  it('sets, gets, moves (rollback), deletes, and journals every move', async () => {
    await call('POST', `${API}/registered-models/create`, { name: 'al' });
    for (let i = 0; i < 3; i++)
      await call('POST', `${API}/model-versions/create`, {
        name: 'al',
        source: `mlflow-artifacts:/al/${i + 1}`,
      });

    const set = await call('POST', `${API}/registered-models/alias`, {
      name: 'al',
      alias: 'champion',
      version: '2',
    });
    expect(set.status).toBe(200);
    expect(set.json).toEqual({});
    const got = await call('GET', `${API}/registered-models/alias?name=al&alias=champion`);
    expect(got.json.model_version).toMatchObject({ name: 'al', version: '2', aliases: ['champion'] });

    await call('POST', `${API}/registered-models/alias`, { name: 'al', alias: 'champion', version: '3' });
    // Same version again is not a move and is not journaled.
    await call('POST', `${API}/registered-models/alias`, { name: 'al', alias: 'champion', version: 3 });
    await call('POST', `${API}/registered-models/alias`, { name: 'al', alias: 'challenger', version: '3' });
    // Roll back by moving the alias.
    await call('POST', `${API}/registered-models/alias`, { name: 'al', alias: 'champion', version: '2' });
    const rm = (await call('GET', `${API}/registered-models/get?name=al`)).json.registered_model;
    expect(rm.aliases).toEqual([
      { alias: 'challenger', version: '3' },
      { alias: 'champion', version: '2' },
    ]);
    expect(
      (await call('GET', `${API}/model-versions/get?name=al&version=3`)).json.model_version.aliases,
    ).toEqual(['challenger']);

    // DELETE as MLflow's client sends it (query string) and with a JSON body.
    expect((await call('DELETE', `${API}/registered-models/alias?name=al&alias=challenger`)).status).toBe(
      200,
    );
    expect(
      (await call('DELETE', `${API}/registered-models/alias`, { name: 'al', alias: 'champion' })).status,
    ).toBe(200);
    const gone = await call('GET', `${API}/registered-models/alias?name=al&alias=champion`);
    expect(gone.status).toBe(404);
    expect(gone.json.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    // Deleting an absent alias is idempotent.
    expect((await call('DELETE', `${API}/registered-models/alias?name=al&alias=champion`)).status).toBe(200);

    const h = await call('GET', '/api/2.0/faultline/alias-history?name=al');
    expect(h.status).toBe(200);
    const events = h.json.events.map(({ name, alias, version, previous_version, action }: J) => ({
      name,
      alias,
      version,
      previous_version,
      action,
    }));
    expect(events).toEqual([
      { name: 'al', alias: 'champion', version: '2', previous_version: null, action: 'set' },
      { name: 'al', alias: 'champion', version: '3', previous_version: '2', action: 'set' },
      { name: 'al', alias: 'challenger', version: '3', previous_version: null, action: 'set' },
      { name: 'al', alias: 'champion', version: '2', previous_version: '3', action: 'set' },
      { name: 'al', alias: 'challenger', version: null, previous_version: '3', action: 'delete' },
      { name: 'al', alias: 'champion', version: null, previous_version: '2', action: 'delete' },
    ]);
    for (const e of h.json.events) {
      expect(typeof e.ts_ms).toBe('number');
      expect(new Date(e.time).getTime()).toBe(e.ts_ms);
    }
    const after = h.json.events[3].id;
    const tail = await call('GET', `/api/2.0/faultline/alias-history?name=al&alias=champion&after=${after}`);
    expect(tail.json.events.map((e: J) => e.version)).toEqual([null]);

    const metrics = (await call('GET', '/metrics')).text;
    expect(metrics).toMatch(/registry_alias_changes_total\{alias="champion"\} 4/);
    expect(metrics).toMatch(/registry_alias_changes_total\{alias="challenger"\} 2/);
  });

  it('rejects aliases to missing versions and invalid alias names', async () => {
    const missing = await call('POST', `${API}/registered-models/alias`, {
      name: 'al',
      alias: 'champion',
      version: '42',
    });
    expect(missing.status).toBe(404);
    expect(missing.json.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    for (const alias of ['latest', 'v3', 'has space', '']) {
      const r = await call('POST', `${API}/registered-models/alias`, { name: 'al', alias, version: '1' });
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', field: 'alias' });
    }
    const noModel = await call('GET', `${API}/registered-models/alias?name=ghost&alias=champion`);
    expect(noModel.status).toBe(404);
  });
});

describe('bad input → 400 naming the field, never 500', () => {
  const cases: [string, string, unknown, string][] = [
    ['POST', 'registered-models/create', '{"name": ', '(body)'],
    ['POST', 'registered-models/create', [], '(body)'],
    ['POST', 'registered-models/create', {}, 'name'],
    ['POST', 'registered-models/create', { name: 5 }, 'name'],
    ['POST', 'registered-models/create', { name: 'a/b' }, 'name'],
    ['POST', 'registered-models/create', { name: 'ok-name', description: 3 }, 'description'],
    ['POST', 'registered-models/create', { name: 'ok-name', tags: {} }, 'tags'],
    ['POST', 'registered-models/create', { name: 'ok-name', tags: [{ key: 1, value: 'x' }] }, 'tags.0.key'],
    ['POST', 'model-versions/create', { name: 'mv-a' }, 'source'],
    ['POST', 'model-versions/create', { name: 'mv-a', source: ['x'] }, 'source'],
    ['POST', 'model-versions/create', { name: 'mv-a', source: 'x', run_id: {} }, 'run_id'],
    ['POST', 'registered-models/alias', { name: 'mv-a', alias: 'champion', version: true }, 'version'],
    ['POST', 'registered-models/alias', { name: 'mv-a', alias: 'champion', version: '-1' }, 'version'],
    ['POST', 'registered-models/alias', { name: 'mv-a', version: '1' }, 'alias'],
    ['GET', 'registered-models/get', undefined, 'name'],
    ['GET', 'model-versions/get?name=mv-a', undefined, 'version'],
    ['GET', 'registered-models/alias?name=mv-a', undefined, 'alias'],
    ['DELETE', 'registered-models/alias?alias=champion', undefined, 'name'],
  ];
  it.each(cases)('%s %s %j → 400 %s', async (method, endpoint, body, field) => {
    const r = await call(method, `${API}/${endpoint}`, body);
    expect(r.status).toBe(400);
    if (field === '(body)') {
      expect(['MALFORMED_REQUEST', 'INVALID_PARAMETER_VALUE']).toContain(r.json.error_code);
      expect(r.json.message).toMatch(/request body|\(body\)/);
    } else {
      expect(r.json).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', field });
      expect(r.json.message.startsWith(`${field}: `)).toBe(true);
    }
  });

  it('caps JSON bodies at 1 MiB (413) and ignores unknown fields as MLflow does', async () => {
    const big = await call('POST', `${API}/registered-models/create`, {
      name: 'big',
      description: 'x'.repeat(1024 * 1024 + 10),
    });
    expect(big.status).toBe(413);
    const extra = await call('POST', `${API}/registered-models/create`, {
      name: 'extra-fields',
      deployment_job_id: '',
      future: 1,
    });
    expect(extra.status).toBe(200);
  });
});

describe('artifacts', () => {
  it('round-trips bytes, lists them, counts bytes', async () => {
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
    const put = await fetch(`${srv.url}/api/2.0/mlflow-artifacts/artifacts/art/1/model.bin`, {
      method: 'PUT',
      headers: AUTH,
      body: bytes,
    });
    expect(put.status).toBe(200);
    const get = await fetch(`${srv.url}/api/2.0/mlflow-artifacts/artifacts/art/1/model.bin`);
    expect(get.status).toBe(200);
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'artifacts', 'art', '1', 'model.bin')).equals(bytes)).toBe(true);

    // Bigger than the 1 MiB JSON cap: artifacts have their own limit.
    const large = Buffer.alloc(2 * 1024 * 1024, 7);
    const putLarge = await fetch(`${srv.url}/api/2.0/mlflow-artifacts/artifacts/art/1/large.bin`, {
      method: 'PUT',
      headers: AUTH,
      body: large,
    });
    expect(putLarge.status).toBe(200);

    const list = await call('GET', '/api/2.0/mlflow-artifacts/artifacts?path=art/1');
    expect(list.json.files).toEqual([
      { path: 'large.bin', is_dir: false, file_size: large.length },
      { path: 'model.bin', is_dir: false, file_size: 300 },
    ]);
    expect((await call('GET', '/api/2.0/mlflow-artifacts/artifacts?path=art')).json.files).toEqual([
      { path: '1', is_dir: true },
    ]);

    const missing = await call('GET', '/api/2.0/mlflow-artifacts/artifacts/art/9/model.json');
    expect(missing.status).toBe(404);
    expect(missing.json.error_code).toBe('RESOURCE_DOES_NOT_EXIST');

    const m = (await call('GET', '/metrics')).text;
    const up = Number(/registry_artifact_bytes_total\{direction="upload"\} (\d+)/.exec(m)?.[1]);
    const down = Number(/registry_artifact_bytes_total\{direction="download"\} (\d+)/.exec(m)?.[1]);
    expect(up).toBeGreaterThanOrEqual(300 + large.length);
    expect(down).toBeGreaterThanOrEqual(300);
  });

  it('rejects path traversal and absolute paths with 400, writing nothing outside the root', async () => {
    // The router resolves literal and %2E-encoded dot segments like a browser does, so these land
    // outside the artifacts prefix (no endpoint) — or, inside it, stay inside it.
    const attempts: [string, number][] = [
      ['/api/2.0/mlflow-artifacts/artifacts/../escape.txt', 404],
      ['/api/2.0/mlflow-artifacts/artifacts/a/../../escape.txt', 404],
      ['/api/2.0/mlflow-artifacts/artifacts/a/%2E%2E/%2E%2E/escape.txt', 404],
      // Encoded slashes survive routing and reach the path check.
      ['/api/2.0/mlflow-artifacts/artifacts/a%2F..%2F..%2Fescape.txt', 400],
      ['/api/2.0/mlflow-artifacts/artifacts/%2Ftmp%2Fescape.txt', 400],
      ['/api/2.0/mlflow-artifacts/artifacts/a/..%5C..%5Cescape.txt', 400],
      ['/api/2.0/mlflow-artifacts/artifacts/a/.%2F.%2Fescape.txt', 400],
    ];
    for (const [p, expected] of attempts) {
      for (const method of ['PUT', 'GET']) {
        const r = await rawRequest(method, p, method === 'PUT' ? 'pwned' : undefined);
        expect(r.status, `${method} ${p}`).toBe(expected);
        if (expected === 400)
          expect(r.json).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', field: 'path' });
        else expect(r.json.error_code).toBe('ENDPOINT_NOT_FOUND');
      }
    }
    const listing = await rawRequest('GET', '/api/2.0/mlflow-artifacts/artifacts?path=../..');
    expect(listing.status).toBe(400);
    expect(fs.existsSync(path.join(dir, 'escape.txt'))).toBe(false);
    expect(fs.existsSync('/tmp/escape.txt')).toBe(false);
  });
});

describe('client', () => {
  it('registers a model JSON, resolves it through the alias, and rolls back', async () => {
    const reg = new RegistryClient({ url: srv.url, token: TOKEN, timeoutMs: 5000 });
    const a = await reg.ensureRegisteredModel('cl-model');
    const again = await reg.ensureRegisteredModel('cl-model');
    expect(again.creation_timestamp).toBe(a.creation_timestamp);

    const v1 = await reg.registerModelJson(
      'cl-model',
      { weights: [1, 2], tag: 'good' },
      { runId: 'run-1', tags: { kind: 'primary' } },
    );
    const v2 = await reg.registerModelJson('cl-model', { weights: [3], tag: 'bad' });
    expect([v1, v2]).toEqual(['1', '2']);
    const mv1 = await reg.getModelVersion('cl-model', v1);
    expect(mv1.run_id).toBe('run-1');
    expect(mv1.tags).toEqual([{ key: 'kind', value: 'primary' }]);
    expect(mv1.source).toMatch(/^mlflow-artifacts:\/cl-model\/staging-[0-9a-f-]+$/);
    expect(await reg.getDownloadUri('cl-model', v1)).toBe(mv1.source);

    expect(await reg.getAlias('cl-model', 'champion')).toBeUndefined();
    await reg.setAlias('cl-model', 'champion', v2);
    let champ = await reg.getAlias('cl-model', 'champion');
    expect(champ?.version).toBe('2');
    expect(JSON.parse((await reg.downloadArtifact(champ!.source)).toString())).toEqual({
      weights: [3],
      tag: 'bad',
    });

    await reg.setAlias('cl-model', 'champion', v1);
    champ = await reg.getAlias('cl-model', 'champion');
    expect(JSON.parse((await reg.downloadArtifact(champ!.source, 'model.json')).toString())).toEqual({
      weights: [1, 2],
      tag: 'good',
    });

    const hist = await reg.aliasHistory('cl-model');
    expect(hist.map((e) => [e.version, e.previous_version])).toEqual([
      ['2', null],
      ['1', '2'],
    ]);
    await reg.deleteAlias('cl-model', 'champion');
    expect(await reg.getAlias('cl-model', 'champion')).toBeUndefined();
    expect((await reg.getRegisteredModel('cl-model')).aliases).toEqual([]);

    await reg.uploadArtifact('cl-model/manual/model.json', Buffer.from('{"x":1}'));
    expect((await reg.downloadArtifact('mlflow-artifacts://somehost:5000/cl-model/manual')).toString()).toBe(
      '{"x":1}',
    );
  });

  it('throws RegistryError with status, error code and advice', async () => {
    const reg = new RegistryClient({ url: srv.url, token: TOKEN });
    const missing = await reg.getRegisteredModel('absent').catch((e) => e);
    expect(missing).toBeInstanceOf(RegistryError);
    expect(missing).toMatchObject({ status: 404, errorCode: 'RESOURCE_DOES_NOT_EXIST' });

    await reg.ensureRegisteredModel('dup');
    const dup = await reg.createRegisteredModel('dup').catch((e) => e);
    expect(dup).toMatchObject({ status: 400, errorCode: 'RESOURCE_ALREADY_EXISTS' });
    expect(dup.message).toContain('ensureRegisteredModel');

    const bad = await reg.setAlias('dup', 'latest', '1').catch((e) => e);
    expect(bad).toMatchObject({ status: 400, errorCode: 'INVALID_PARAMETER_VALUE', field: 'alias' });

    const anon = new RegistryClient({ url: srv.url });
    const unauth = await anon.createRegisteredModel('anon').catch((e) => e);
    expect(unauth).toMatchObject({ status: 401, errorCode: 'UNAUTHENTICATED' });
    expect(unauth.message).toContain('ADMIN_TOKEN');
    expect((await anon.getRegisteredModel('dup')).name).toBe('dup');

    expect(() => artifactPath('s3://bucket/x')).toThrow(RegistryError);
  });

  it('reports an unreachable registry and a stalled one distinctly', async () => {
    // A port that was free a moment ago: connection refused.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const freePort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const down = await new RegistryClient({ url: `http://127.0.0.1:${freePort}`, timeoutMs: 2000 })
      .getRegisteredModel('x')
      .catch((e) => e);
    expect(down).toMatchObject({ status: 0, errorCode: 'UNAVAILABLE' });
    expect(down.message).toContain('REGISTRY_URL');

    // Accepts connections, never answers.
    const sockets: net.Socket[] = [];
    const stall = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => stall.listen(0, '127.0.0.1', r));
    try {
      const port = (stall.address() as net.AddressInfo).port;
      const t0 = Date.now();
      const err = await new RegistryClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 300 })
        .getAlias('x', 'champion')
        .catch((e) => e);
      expect(err).toMatchObject({ status: 0, errorCode: 'TIMEOUT' });
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => stall.close(() => r()));
    }
  });
});

describe('persistence and modes', () => {
  it('keeps models, versions, aliases, history and artifacts across a restart', async () => {
    const reg = new RegistryClient({ url: srv.url, token: TOKEN });
    await reg.ensureRegisteredModel('persist');
    const v = await reg.registerModelJson('persist', { n: 1 });
    await reg.setAlias('persist', 'champion', v);
    await srv.close();

    srv = await start(cfg());
    const reg2 = new RegistryClient({ url: srv.url, token: TOKEN });
    const champ = await reg2.getAlias('persist', 'champion');
    expect(champ?.version).toBe(v);
    expect(JSON.parse((await reg2.downloadArtifact(champ!.source)).toString())).toEqual({ n: 1 });
    expect((await reg2.aliasHistory('persist')).length).toBe(1);
    // Version numbering continues after the restart.
    expect(await reg2.registerModelJson('persist', { n: 2 })).toBe(String(Number(v) + 1));
    expect((await call('GET', '/readyz')).status).toBe(200);
  });

  it('without an admin token, writes are open', async () => {
    const open = await start({ db: path.join(dir, 'open.db'), artifactRoot: path.join(dir, 'open-art') });
    try {
      const reg = new RegistryClient({ url: open.url });
      expect(await reg.registerModelJson('open-model', { ok: true })).toBe('1');
    } finally {
      await open.close();
    }
  });
});
