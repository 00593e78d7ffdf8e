// The one registry client (trainer, model-server, controller, harness). Speaks the MLflow REST subset
// the registry serves, so it also works against a real MLflow tracking server for the MLflow parts.
import { randomUUID } from 'node:crypto';
import { request } from 'undici';

export interface Tag {
  key: string;
  value: string;
}

export interface RegisteredModel {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description: string;
  aliases: { alias: string; version: string }[];
  latest_versions?: ModelVersion[];
  tags?: Tag[];
}

export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  current_stage: string;
  description: string;
  source: string;
  run_id: string;
  status: string;
  aliases: string[];
  tags?: Tag[];
}

/** One alias move as journaled by the registry (`GET /api/2.0/faultline/alias-history`). */
export interface AliasEvent {
  /** Monotonic; pass as `after` to read only newer events. */
  id: number;
  name: string;
  alias: string;
  /** null when the alias was deleted. */
  version: string | null;
  /** null when the alias did not exist before. */
  previous_version: string | null;
  action: 'set' | 'delete';
  ts_ms: number;
  time: string;
}

export interface RegistryClientOptions {
  url: string;
  /** ADMIN_TOKEN of the registry; needed for writes. */
  token?: string;
  /** Per-request deadline (connect + headers + body). Default 5000. */
  timeoutMs?: number;
}

export interface VersionOptions {
  runId?: string;
  description?: string;
  tags?: Record<string, string> | Tag[];
}

export class RegistryError extends Error {
  /** HTTP status; 0 when no HTTP answer came (unreachable, timeout). */
  readonly status: number;
  /** MLflow error_code (`RESOURCE_DOES_NOT_EXIST`, ...) or `UNAVAILABLE` / `TIMEOUT` / `BAD_RESPONSE`. */
  readonly errorCode: string;
  readonly field?: string;
  constructor(status: number, errorCode: string, message: string, field?: string) {
    super(message);
    this.name = 'RegistryError';
    this.status = status;
    this.errorCode = errorCode;
    this.field = field;
  }
}

const API = '/api/2.0/mlflow';
const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts';

export class RegistryClient {
  readonly url: string;
  private readonly token?: string;
  private readonly timeoutMs: number;

  constructor(opts: RegistryClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.token = opts.token || undefined;
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  async createRegisteredModel(
    name: string,
    opts: { description?: string; tags?: Record<string, string> | Tag[] } = {},
  ): Promise<RegisteredModel> {
    const body = { name, description: opts.description, tags: toTags(opts.tags) };
    return (
      (await this.call('POST', 'registered-models/create', body)) as { registered_model: RegisteredModel }
    ).registered_model;
  }

  /** Creates the model, or returns the existing one (RESOURCE_ALREADY_EXISTS is not an error here). */
  async ensureRegisteredModel(name: string): Promise<RegisteredModel> {
    try {
      return await this.createRegisteredModel(name);
    } catch (e) {
      if (e instanceof RegistryError && e.errorCode === 'RESOURCE_ALREADY_EXISTS')
        return this.getRegisteredModel(name);
      throw e;
    }
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    return (
      (await this.call('GET', 'registered-models/get', { name })) as { registered_model: RegisteredModel }
    ).registered_model;
  }

  async createModelVersion(name: string, source: string, opts: VersionOptions = {}): Promise<ModelVersion> {
    const body = { name, source, run_id: opts.runId, description: opts.description, tags: toTags(opts.tags) };
    return ((await this.call('POST', 'model-versions/create', body)) as { model_version: ModelVersion })
      .model_version;
  }

  async getModelVersion(name: string, version: string | number): Promise<ModelVersion> {
    return (
      (await this.call('GET', 'model-versions/get', { name, version: String(version) })) as {
        model_version: ModelVersion;
      }
    ).model_version;
  }

  async getDownloadUri(name: string, version: string | number): Promise<string> {
    return (
      (await this.call('GET', 'model-versions/get-download-uri', { name, version: String(version) })) as {
        artifact_uri: string;
      }
    ).artifact_uri;
  }

  async setAlias(name: string, alias: string, version: string | number): Promise<void> {
    await this.call('POST', 'registered-models/alias', { name, alias, version: String(version) });
  }

  /** The version the alias points at, or undefined when the alias (or the model) does not exist. */
  async getAlias(name: string, alias: string): Promise<ModelVersion | undefined> {
    try {
      return (
        (await this.call('GET', 'registered-models/alias', { name, alias })) as {
          model_version: ModelVersion;
        }
      ).model_version;
    } catch (e) {
      if (!(e instanceof RegistryError)) throw e;
      if (e.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      // A real MLflow server answers a missing alias with 400 "Registered model alias X not found."
      if (e.errorCode === 'INVALID_PARAMETER_VALUE' && /alias .* not found/i.test(e.message))
        return undefined;
      throw e;
    }
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.call('DELETE', 'registered-models/alias', { name, alias });
  }

  /** Stores bytes at `<path>` under the registry's artifact root (e.g. `fraud-primary/3/model.json`). */
  async uploadArtifact(artifactPath: string, body: Buffer | string): Promise<void> {
    const res = await this.send('PUT', `${ARTIFACTS}/${encodePath(artifactPath)}`, {
      body,
      contentType: 'application/octet-stream',
    });
    await this.expectOk(res, `upload of artifact ${artifactPath}`);
  }

  /** Fetches `<file>` below an `mlflow-artifacts:/x` URI (a model version's source / download URI). */
  async downloadArtifact(artifactUri: string, file = 'model.json'): Promise<Buffer> {
    const base = artifactPath(artifactUri);
    const full = [base, file].filter(Boolean).join('/');
    const res = await this.send('GET', `${ARTIFACTS}/${encodePath(full)}`);
    return this.expectOk(res, `download of artifact ${full}`);
  }

  async aliasHistory(name?: string, opts: { alias?: string; after?: number } = {}): Promise<AliasEvent[]> {
    const q = new URLSearchParams();
    if (name !== undefined) q.set('name', name);
    if (opts.alias !== undefined) q.set('alias', opts.alias);
    if (opts.after !== undefined) q.set('after', String(opts.after));
    const res = await this.send('GET', `/api/2.0/faultline/alias-history?${q}`);
    return (parseJson(await this.expectOk(res, 'alias history')) as { events: AliasEvent[] }).events;
  }

  /**
   * Registers `artifactJson` as a new version of `name` (creating the model if needed) and returns the
   * version string. The version number is only known after create while MLflow needs `source` at
   * create, so the artifact goes first to a unique path `<name>/staging-<uuid>/model.json` and the
   * version's source points there. Consumers must resolve the artifact through the version's
   * source / get-download-uri, never by building `<name>/<version>` themselves.
   */
  async registerModelJson(name: string, artifactJson: unknown, opts: VersionOptions = {}): Promise<string> {
    await this.ensureRegisteredModel(name);
    const dir = `${name}/staging-${randomUUID()}`;
    await this.uploadArtifact(`${dir}/model.json`, JSON.stringify(artifactJson));
    const mv = await this.createModelVersion(name, `mlflow-artifacts:/${dir}`, opts);
    return mv.version;
  }

  // ---- transport ----

  private async call(
    method: 'GET' | 'POST' | 'DELETE',
    endpoint: string,
    params: Record<string, unknown>,
  ): Promise<unknown> {
    const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
    let res: Awaited<ReturnType<RegistryClient['send']>>;
    if (method === 'POST') {
      res = await this.send(method, `${API}/${endpoint}`, {
        body: JSON.stringify(clean),
        contentType: 'application/json',
      });
    } else {
      // As MLflow's client does: GET and DELETE carry their parameters in the query string.
      res = await this.send(
        method,
        `${API}/${endpoint}?${new URLSearchParams(clean as Record<string, string>)}`,
      );
    }
    return parseJson(await this.expectOk(res, `${method} ${endpoint}`));
  }

  private async send(
    method: string,
    pathAndQuery: string,
    opts: { body?: Buffer | string; contentType?: string } = {},
  ) {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.contentType) headers['content-type'] = opts.contentType;
    if (this.token && method !== 'GET') headers.authorization = `Bearer ${this.token}`;
    const target = `${this.url}${pathAndQuery}`;
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await request(target, {
        method: method as 'GET',
        headers,
        body: opts.body,
        signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      // The body is read under the same deadline, so a server stalling mid-body cannot hang the caller.
      const buf = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, body: buf };
    } catch (e) {
      throw this.transportError(e, method, target, signal);
    }
  }

  private transportError(e: unknown, method: string, target: string, signal: AbortSignal): RegistryError {
    const err = e as { name?: string; code?: string; message?: string };
    if (
      signal.aborted ||
      err.name === 'TimeoutError' ||
      err.code === 'UND_ERR_HEADERS_TIMEOUT' ||
      err.code === 'UND_ERR_BODY_TIMEOUT'
    ) {
      return new RegistryError(
        0,
        'TIMEOUT',
        `registry did not answer ${method} ${target} within ${this.timeoutMs} ms: check that the registry is healthy (GET /readyz) or raise timeoutMs`,
      );
    }
    return new RegistryError(
      0,
      'UNAVAILABLE',
      `registry unreachable at ${this.url} (${err.code ?? err.message ?? String(e)}): is it running? check REGISTRY_URL`,
    );
  }

  private async expectOk(res: { status: number; body: Buffer }, what: string): Promise<Buffer> {
    if (res.status >= 200 && res.status < 300) return res.body;
    let code = `HTTP_${res.status}`;
    let message = res.body.toString('utf8').slice(0, 500);
    let field: string | undefined;
    try {
      const j = JSON.parse(message) as { error_code?: string; message?: string; field?: string };
      if (j.error_code) code = j.error_code;
      if (j.message) message = j.message;
      field = j.field;
    } catch {
      // not JSON: keep the raw text
    }
    return Promise.reject(
      new RegistryError(
        res.status,
        code,
        `registry ${what} failed: ${code}: ${message}${advice(code, res.status)}`,
        field,
      ),
    );
  }
}

function advice(code: string, status: number): string {
  if (code === 'UNAUTHENTICATED' || status === 401 || status === 403) {
    return ' (writes need the registry admin token: pass token / set ADMIN_TOKEN to the value the registry runs with)';
  }
  if (code === 'RESOURCE_DOES_NOT_EXIST')
    return ' (register the model/version first, e.g. run the trainer with MODE=bootstrap, or check the name)';
  if (code === 'RESOURCE_ALREADY_EXISTS') return ' (use ensureRegisteredModel to accept an existing model)';
  if (code === 'INVALID_PARAMETER_VALUE' || code === 'MALFORMED_REQUEST') return ' (fix the named field)';
  if (status >= 500) return ' (registry-side failure: see the registry logs)';
  return '';
}

function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw new RegistryError(
      200,
      'BAD_RESPONSE',
      'registry answered with a body that is not JSON: is REGISTRY_URL pointing at the registry?',
    );
  }
}

function toTags(tags: Record<string, string> | Tag[] | undefined): Tag[] | undefined {
  if (tags === undefined) return undefined;
  return Array.isArray(tags) ? tags : Object.entries(tags).map(([key, value]) => ({ key, value }));
}

/** `mlflow-artifacts:/a/b` and `mlflow-artifacts://host:port/a/b` → `a/b`. */
export function artifactPath(uri: string): string {
  const m = /^mlflow-artifacts:(\/\/[^/]*)?\/*(.*)$/.exec(uri);
  if (!m) {
    throw new RegistryError(
      0,
      'INVALID_PARAMETER_VALUE',
      `artifact URI "${uri}" is not an mlflow-artifacts:/ URI: use the version's source or get-download-uri`,
    );
  }
  return m[2].replace(/\/+$/, '');
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}
