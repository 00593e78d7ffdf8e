// Model registry: the MLflow REST subset the pipeline needs (registered models, versions, aliases),
// an MLflow-artifacts-style file store, and an alias-history journal for the chaos harness.
import fs from 'node:fs';
import path from 'node:path';
import client from 'prom-client';
import { adminGuard } from '../common/auth.ts';
import { badRequest, createService, HttpError, type Request } from '../common/service.ts';
import type { ModelVersion, RegisteredModel, Tag } from './client.ts';
import { type ModelVersionRow, type RegisteredModelRow, RegistryDb } from './db.ts';
import {
  comparator,
  MAX_RESULTS,
  matches,
  pageOffset,
  pageToken,
  parseFilter,
  type SearchKind,
} from './search.ts';

export interface RegistryConfig {
  port?: number;
  host?: string;
  /** SQLite file (parent directories are created). */
  db: string;
  /** Directory holding artifacts (`mlflow-artifacts:/<path>` → `<artifactRoot>/<path>`). */
  artifactRoot: string;
  /** Bearer token required for writes; when unset the registry is open (local development only). */
  adminToken?: string;
  /** Largest artifact upload, bytes (default 20 MiB). JSON bodies stay capped at 1 MiB. */
  maxArtifactBytes?: number;
}

export interface RegistryHandle {
  url: string;
  port: number;
  close(): Promise<void>;
}

const API = '/api/2.0/mlflow';
const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts';
const MAX_JSON_BYTES = 1024 * 1024;
// MLflow reserves these alias names: `latest` and `v<N>` would be ambiguous in `models:/name@alias` URIs.
const RESERVED_ALIAS = /^(latest|v\d+)$/i;

export async function start(config: RegistryConfig): Promise<RegistryHandle> {
  const db = new RegistryDb(config.db);
  const root = path.resolve(config.artifactRoot);
  fs.mkdirSync(root, { recursive: true });

  const svc = createService({
    name: 'registry',
    port: config.port,
    host: config.host,
    maxBodyBytes: config.maxArtifactBytes ?? 20 * 1024 * 1024,
    ready: () => db.ping(),
    onShutdown: () => db.close(),
  });

  const aliasChanges = new client.Counter({
    name: 'registry_alias_changes_total',
    help: 'Alias moves (set to a different version, or delete), by alias',
    labelNames: ['alias'],
    registers: [svc.metrics],
  });
  const versionsCreated = new client.Counter({
    name: 'registry_model_versions_created_total',
    help: 'Model versions created',
    registers: [svc.metrics],
  });
  const artifactBytes = new client.Counter({
    name: 'registry_artifact_bytes_total',
    help: 'Artifact bytes transferred, by direction (upload | download)',
    labelNames: ['direction'],
    registers: [svc.metrics],
  });

  const requireAdmin = adminGuard(config.adminToken);

  function registeredModelJson(rm: RegisteredModelRow): RegisteredModel {
    const latest = db.latestVersion(rm.name);
    return {
      name: rm.name,
      creation_timestamp: rm.creation_timestamp,
      last_updated_timestamp: rm.last_updated_timestamp,
      description: rm.description,
      aliases: db.aliases(rm.name).map((a) => ({ alias: a.alias, version: String(a.version) })),
      // MLflow lists the latest version per stage; every version here is in stage "None".
      ...(latest ? { latest_versions: [modelVersionJson(latest)] } : {}),
      tags: rm.tags,
    };
  }

  function modelVersionJson(mv: ModelVersionRow): ModelVersion {
    return {
      name: mv.name,
      version: String(mv.version),
      creation_timestamp: mv.creation_timestamp,
      last_updated_timestamp: mv.last_updated_timestamp,
      current_stage: 'None',
      description: mv.description,
      source: mv.source,
      run_id: mv.run_id,
      status: mv.status,
      aliases: db.aliases(mv.name, mv.version).map((a) => a.alias),
      tags: mv.tags,
    };
  }

  function recordAlias(ev: { alias: string } | undefined) {
    if (ev) aliasChanges.inc({ alias: ev.alias });
  }

  // ---- registered models ----
  svc.route('POST', `${API}/registered-models/create`, async (req) => {
    requireAdmin(req);
    const p = await bodyParams(req);
    const name = modelName(p);
    const rm = db.createRegisteredModel(name, optString(p, 'description', 5000), tags(p));
    svc.log.info({ name }, 'registered model created');
    return { registered_model: registeredModelJson(rm) };
  });

  svc.route('GET', `${API}/registered-models/get`, async (req) => {
    const p = await queryParams(req);
    return { registered_model: registeredModelJson(db.getRegisteredModel(modelName(p))) };
  });

  // ---- model versions ----
  svc.route('POST', `${API}/model-versions/create`, async (req) => {
    requireAdmin(req);
    const p = await bodyParams(req);
    const name = modelName(p);
    const source = reqString(p, 'source', 4096);
    const mv = db.createModelVersion({
      name,
      source,
      run_id: optString(p, 'run_id', 256),
      description: optString(p, 'description', 5000),
      tags: tags(p),
    });
    versionsCreated.inc();
    svc.log.info({ name, version: mv.version, source }, 'model version created');
    return { model_version: modelVersionJson(mv) };
  });

  svc.route('GET', `${API}/model-versions/get`, async (req) => {
    const p = await queryParams(req);
    return { model_version: modelVersionJson(db.getModelVersion(modelName(p), versionNumber(p))) };
  });

  svc.route('GET', `${API}/model-versions/get-download-uri`, async (req) => {
    const p = await queryParams(req);
    return { artifact_uri: db.getModelVersion(modelName(p), versionNumber(p)).source };
  });

  // ---- aliases ----
  svc.route('POST', `${API}/registered-models/alias`, async (req) => {
    requireAdmin(req);
    const p = await bodyParams(req);
    const name = modelName(p);
    const alias = aliasName(p);
    const version = versionNumber(p);
    const ev = db.setAlias(name, alias, version);
    recordAlias(ev);
    if (ev) svc.log.info({ name, alias, version, previous_version: ev.previous_version }, 'alias moved');
    return {};
  });

  svc.route('GET', `${API}/registered-models/alias`, async (req) => {
    const p = await queryParams(req);
    const name = modelName(p);
    const alias = aliasName(p);
    db.getRegisteredModel(name);
    const version = db.aliasVersion(name, alias);
    if (version === undefined)
      throw new HttpError(404, 'RESOURCE_DOES_NOT_EXIST', `Registered model alias ${alias} not found.`);
    return { model_version: modelVersionJson(db.getModelVersion(name, version)) };
  });

  svc.route('DELETE', `${API}/registered-models/alias`, async (req) => {
    requireAdmin(req);
    const p = await deleteParams(req);
    const name = modelName(p);
    const alias = aliasName(p);
    const ev = db.deleteAlias(name, alias);
    recordAlias(ev);
    if (ev) svc.log.info({ name, alias, previous_version: ev.previous_version }, 'alias deleted');
    return {};
  });

  // ---- search (MLflow filter strings, order_by, page tokens) ----
  function searchParams(req: Request, kind: SearchKind) {
    const p = queryParamsSync(req);
    const filter = p.filter === undefined ? '' : String(p.filter);
    const limits = MAX_RESULTS[kind];
    let max = limits.default;
    if (p.max_results !== undefined && p.max_results !== '') {
      const s = String(p.max_results);
      if (!/^\d{1,9}$/.test(s) || Number(s) < 1 || Number(s) > limits.max)
        throw badRequest('max_results', `expected an integer between 1 and ${limits.max}, found "${s}"`);
      max = Number(s);
    }
    return {
      clauses: parseFilter(kind, filter),
      orderBy: req.query.getAll('order_by').filter((o) => o !== ''),
      offset: pageOffset(p.page_token),
      max,
    };
  }

  function page<T>(rows: T[], offset: number, max: number) {
    const slice = rows.slice(offset, offset + max);
    return { slice, next: offset + max < rows.length ? pageToken(offset + max) : undefined };
  }

  svc.route('GET', `${API}/registered-models/search`, (req) => {
    const q = searchParams(req, 'registered-models');
    const rows = db
      .listRegisteredModels()
      .filter((rm) => matches(rm, q.clauses))
      .sort(comparator('registered-models', q.orderBy));
    const { slice, next } = page(rows, q.offset, q.max);
    return {
      registered_models: slice.map(registeredModelJson),
      ...(next ? { next_page_token: next } : {}),
    };
  });

  svc.route('GET', `${API}/model-versions/search`, (req) => {
    const q = searchParams(req, 'model-versions');
    const rows = db
      .listModelVersions()
      .filter((mv) => matches(mv, q.clauses))
      .sort(comparator('model-versions', q.orderBy));
    const { slice, next } = page(rows, q.offset, q.max);
    return { model_versions: slice.map(modelVersionJson), ...(next ? { next_page_token: next } : {}) };
  });

  // MLflow lists the newest version per stage; every version here is in stage "None".
  const latestVersions = (p: Params) => {
    const name = modelName(p);
    const stages = stageList(p.stages);
    const rm = db.getRegisteredModel(name);
    const latest = db.latestVersion(rm.name);
    const wanted = stages.length === 0 || stages.some((s) => s.toLowerCase() === 'none');
    return { model_versions: latest && wanted ? [modelVersionJson(latest)] : [] };
  };
  svc.route('POST', `${API}/registered-models/get-latest-versions`, async (req) =>
    latestVersions(await bodyParams(req)),
  );
  svc.route('GET', `${API}/registered-models/get-latest-versions`, (req) =>
    latestVersions({ ...queryParamsSync(req), stages: req.query.getAll('stages') }),
  );

  // ---- updates, tags, deletes (admin) ----
  svc.route('PATCH', `${API}/registered-models/update`, async (req) => {
    requireAdmin(req);
    const p = await bodyParams(req);
    const rm = db.updateRegisteredModel(modelName(p), optString(p, 'description', 5000));
    return { registered_model: registeredModelJson(rm) };
  });

  svc.route('PATCH', `${API}/model-versions/update`, async (req) => {
    requireAdmin(req);
    const p = await bodyParams(req);
    const mv = db.updateModelVersion(modelName(p), versionNumber(p), optString(p, 'description', 5000));
    return { model_version: modelVersionJson(mv) };
  });

  svc.route('POST', `${API}/registered-models/set-tag`, async (req) => {
    requireAdmin(req);
    const p = await bodyParams(req);
    db.setRegisteredModelTag(modelName(p), tagKey(p), tagValue(p));
    return {};
  });

  svc.route('DELETE', `${API}/registered-models/delete-tag`, async (req) => {
    requireAdmin(req);
    const p = await deleteParams(req);
    db.setRegisteredModelTag(modelName(p), tagKey(p), undefined);
    return {};
  });

  svc.route('POST', `${API}/model-versions/set-tag`, async (req) => {
    requireAdmin(req);
    const p = await bodyParams(req);
    db.setModelVersionTag(modelName(p), versionNumber(p), tagKey(p), tagValue(p));
    return {};
  });

  svc.route('DELETE', `${API}/model-versions/delete-tag`, async (req) => {
    requireAdmin(req);
    const p = await deleteParams(req);
    db.setModelVersionTag(modelName(p), versionNumber(p), tagKey(p), undefined);
    return {};
  });

  svc.route('DELETE', `${API}/model-versions/delete`, async (req) => {
    requireAdmin(req);
    const p = await deleteParams(req);
    const name = modelName(p);
    const version = versionNumber(p);
    const events = db.deleteModelVersion(name, version);
    for (const ev of events) recordAlias(ev);
    svc.log.info({ name, version, aliases_deleted: events.map((e) => e.alias) }, 'model version deleted');
    return {};
  });

  svc.route('DELETE', `${API}/registered-models/delete`, async (req) => {
    requireAdmin(req);
    const p = await deleteParams(req);
    const name = modelName(p);
    const events = db.deleteRegisteredModel(name);
    for (const ev of events) recordAlias(ev);
    svc.log.info({ name, aliases_deleted: events.map((e) => e.alias) }, 'registered model deleted');
    return {};
  });

  // ---- alias journal (not MLflow) ----
  svc.route('GET', '/api/2.0/faultline/alias-history', async (req) => {
    const p = await queryParams(req);
    const name = p.name === undefined ? undefined : modelName(p);
    const alias = p.alias === undefined ? undefined : aliasName(p);
    const after = p.after === undefined ? undefined : nonNegInt(p, 'after');
    const limit = p.limit === undefined ? undefined : Math.min(nonNegInt(p, 'limit'), 10_000);
    return { events: db.aliasHistory({ name, alias, after, limit }) };
  });

  // ---- artifacts ----
  svc.route('PUT', `${ARTIFACTS}/*`, async (req) => {
    requireAdmin(req);
    const rel = safeArtifactPath(req.params['*']);
    const file = path.join(root, rel);
    const body = await req.raw();
    if (isDir(file)) throw badRequest('path', `"${rel}" is a directory`);
    // Write then rename: a reader (a model-server hot-reloading) never sees a half-written file.
    const tmp = `${file}.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    try {
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      await fs.promises.writeFile(tmp, body);
      await fs.promises.rename(tmp, file);
    } catch (e) {
      await fs.promises.rm(tmp, { force: true });
      const code = (e as NodeJS.ErrnoException).code;
      // A parent segment is an existing file (`a/model.json/x`): the caller's path is wrong, not the server.
      if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR')
        throw badRequest('path', `"${rel}" conflicts with an existing artifact`);
      throw e;
    }
    artifactBytes.inc({ direction: 'upload' }, body.length);
    return {};
  });

  svc.route('GET', `${ARTIFACTS}/*`, async (req) => {
    const rel = safeArtifactPath(req.params['*']);
    const file = path.join(root, rel);
    let data: Buffer;
    try {
      data = await fs.promises.readFile(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') {
        throw new HttpError(404, 'RESOURCE_DOES_NOT_EXIST', `artifact ${rel} not found`);
      }
      throw e;
    }
    artifactBytes.inc({ direction: 'download' }, data.length);
    const type = rel.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    return { text: data, headers: { 'content-type': type } };
  });

  // MLflow's list-artifacts shape: `?path=dir` → { files: [{ path: <basename>, is_dir, file_size? }] }.
  svc.route('GET', ARTIFACTS, async (req) => {
    const p = await queryParams(req);
    const rel = p.path === undefined || p.path === '' ? '' : safeArtifactPath(reqString(p, 'path', 4096));
    const dir = path.join(root, rel);
    let entries: fs.Dirent[] = [];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch {
      // MLflow answers a missing directory with an empty listing.
    }
    const files = [];
    for (const e of entries
      .filter((x) => !x.name.includes('.tmp-'))
      .sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) files.push({ path: e.name, is_dir: true });
      else if (e.isFile())
        files.push({
          path: e.name,
          is_dir: false,
          file_size: (await fs.promises.stat(path.join(dir, e.name))).size,
        });
    }
    return { files };
  });

  try {
    const port = await svc.listen();
    const host = config.host ?? '127.0.0.1';
    const urlHost =
      host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    svc.log.info(
      { db: config.db, artifactRoot: root, auth: config.adminToken ? 'bearer' : 'open' },
      'registry ready',
    );
    return { url: `http://${urlHost}:${port}`, port, close: () => svc.close() };
  } catch (e) {
    db.close();
    throw e;
  }
}

// ---- parameters ----

type Params = Record<string, unknown>;

/** GET: MLflow sends parameters in the query string. */
async function queryParams(req: Request): Promise<Params> {
  return queryParamsSync(req);
}

function queryParamsSync(req: Request): Params {
  const out: Params = {};
  for (const [k, v] of req.query) if (!(k in out)) out[k] = v;
  return out;
}

/** POST: a JSON object body. Unknown fields are ignored, as MLflow's server does (ignore_unknown_fields). */
async function bodyParams(req: Request): Promise<Params> {
  const buf = await req.raw();
  if (buf.length > MAX_JSON_BYTES) {
    throw new HttpError(
      413,
      'PAYLOAD_TOO_LARGE',
      `request body: ${buf.length} bytes exceeds the limit of ${MAX_JSON_BYTES} bytes`,
      '(body)',
    );
  }
  const body = await req.json();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('(body)', 'expected a JSON object');
  }
  return body as Params;
}

/** DELETE: query string (MLflow's way) and/or a JSON body; the body wins on conflicts. */
async function deleteParams(req: Request): Promise<Params> {
  const q = await queryParams(req);
  const buf = await req.raw();
  if (buf.length === 0) return q;
  return { ...q, ...(await bodyParams(req)) };
}

function reqString(p: Params, field: string, max: number): string {
  const v = p[field];
  if (v === undefined || v === null || v === '')
    throw badRequest(field, 'missing value for required parameter');
  if (typeof v !== 'string') throw badRequest(field, `expected a string, found ${typeName(v)}`);
  if (v.length > max) throw badRequest(field, `longer than ${max} characters`);
  return v;
}

function optString(p: Params, field: string, max: number): string {
  const v = p[field];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw badRequest(field, `expected a string, found ${typeName(v)}`);
  if (v.length > max) throw badRequest(field, `longer than ${max} characters`);
  return v;
}

function modelName(p: Params): string {
  const name = reqString(p, 'name', 256);
  // Names become artifact directories: keep them to a single, printable path segment.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[/\\\u0000-\u001f]/.test(name) || name === '.' || name === '..') {
    throw badRequest('name', 'must not contain "/", "\\" or control characters, nor be "." or ".."');
  }
  return name;
}

function aliasName(p: Params): string {
  const alias = reqString(p, 'alias', 255);
  if (!/^[\w-]+$/.test(alias)) throw badRequest('alias', 'may contain only letters, digits, "_" and "-"');
  if (RESERVED_ALIAS.test(alias)) throw badRequest('alias', `"${alias}" is reserved (latest, v<N>)`);
  return alias;
}

/** Versions are strings on the wire ("3"); an integer number is accepted too. */
function versionNumber(p: Params): number {
  const v = p.version;
  if (v === undefined || v === null || v === '')
    throw badRequest('version', 'missing value for required parameter');
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : undefined;
  if (s === undefined)
    throw badRequest('version', `expected a version string such as "1", found ${typeName(v)}`);
  if (!/^[1-9]\d{0,15}$/.test(s))
    throw badRequest('version', `expected a positive integer version such as "1", found "${s}"`);
  return Number(s);
}

function nonNegInt(p: Params, field: string): number {
  const s = String(p[field]);
  if (!/^\d{1,15}$/.test(s)) throw badRequest(field, `expected a non-negative integer, found "${s}"`);
  return Number(s);
}

function tags(p: Params): Tag[] {
  const v = p.tags;
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badRequest('tags', `expected an array of {key, value}, found ${typeName(v)}`);
  return v.map((t, i) => {
    if (typeof t !== 'object' || t === null || Array.isArray(t))
      throw badRequest(`tags.${i}`, `expected {key, value}, found ${typeName(t)}`);
    const { key, value } = t as Record<string, unknown>;
    if (typeof key !== 'string' || key === '')
      throw badRequest(`tags.${i}.key`, 'expected a non-empty string');
    if (key.length > 250) throw badRequest(`tags.${i}.key`, 'longer than 250 characters');
    if (value !== undefined && value !== null && typeof value !== 'string')
      throw badRequest(`tags.${i}.value`, `expected a string, found ${typeName(value)}`);
    if (typeof value === 'string' && value.length > 5000)
      throw badRequest(`tags.${i}.value`, 'longer than 5000 characters');
    return { key, value: typeof value === 'string' ? value : '' };
  });
}

function tagKey(p: Params): string {
  return reqString(p, 'key', 250);
}

/** A tag value is required by MLflow's API but may be empty. */
function tagValue(p: Params): string {
  const v = p.value;
  if (v === undefined || v === null) throw badRequest('value', 'missing value for required parameter');
  if (typeof v !== 'string') throw badRequest('value', `expected a string, found ${typeName(v)}`);
  if (v.length > 5000) throw badRequest('value', 'longer than 5000 characters');
  return v;
}

const STAGES = ['None', 'Staging', 'Production', 'Archived'];

function stageList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list))
    throw badRequest('stages', `expected an array of stage names, found ${typeName(v)}`);
  return list.map((s, i) => {
    if (typeof s !== 'string') throw badRequest(`stages.${i}`, `expected a string, found ${typeName(s)}`);
    if (!STAGES.some((x) => x.toLowerCase() === s.toLowerCase()))
      throw badRequest(`stages.${i}`, `invalid stage "${s}" (expected one of ${STAGES.join(', ')})`);
    return s;
  });
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/**
 * Normalizes an artifact path (already URL-decoded per segment by the router) and rejects anything
 * that could leave the artifact root: `..`, `.`, absolute paths, backslashes, NUL.
 */
function safeArtifactPath(raw: string | undefined): string {
  const p = raw ?? '';
  if (p === '') throw badRequest('path', 'missing artifact path');
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p))
    throw badRequest('path', 'must be relative to the artifact root');
  if (p.includes('\\') || p.includes('\0')) throw badRequest('path', 'must not contain "\\" or NUL');
  const parts = p.split('/');
  if (parts.some((s) => s === '' || s === '.' || s === '..'))
    throw badRequest('path', 'must not contain "..", "." or empty segments');
  if (parts.some((s) => s.includes('.tmp-')))
    throw badRequest('path', 'segments containing ".tmp-" are reserved');
  return parts.join('/');
}

function isDir(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}
