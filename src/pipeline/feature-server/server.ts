// feature-server: online features per user with Feast semantics (latest value per entity key,
// per-feature status, enforced freshness TTL, idempotent materialization) plus a raw admin rows API
// the chaos harness uses to corrupt features and restore them exactly.

import client from 'prom-client';
import { adminGuard } from '../common/auth.ts';
import { badRequest, createService, HttpError, type Request } from '../common/service.ts';
import { type FeatureStatus, STORE_FEATURE_NAMES } from '../schema.ts';
import {
  iso,
  MAX_ENTITIES,
  MAX_USER_ID,
  MaterializeBody,
  OnlineFeaturesBody,
  PutRowsBody,
  parse,
  toStored,
  toWire,
} from './api.ts';
import {
  type FeatureStore,
  type JsonValue,
  openStore,
  type StoredRow,
  StoreUnavailableError,
} from './store.ts';

export interface FeatureServerConfig {
  port?: number;
  host?: string;
  /** SQLite file path, or `redis://host:port/db`. */
  store: string;
  /** Freshness TTL; rows older than now − TTL are OUTSIDE_MAX_AGE. 0 disables it. Default 7 days. */
  ttlSeconds?: number;
  /** Bearer token for admin endpoints; unset → admin endpoints are open (local development). */
  adminToken?: string;
  /** Features every lookup reports (NOT_FOUND when absent). Default: the domain's STORE_FEATURE_NAMES. */
  featureNames?: readonly string[];
  /** Redis: lookup command timeout, ms (default 200). */
  lookupTimeoutMs?: number;
  /** Exit the process on SIGTERM/SIGINT after closing (default true; false when embedded, e.g. in tests). */
  handleSignals?: boolean;
}

export interface FeatureServer {
  url: string;
  port: number;
  store: FeatureStore;
  close(): Promise<void>;
}

export const DEFAULT_TTL_SECONDS = 604_800;
const EPOCH = '1970-01-01T00:00:00.000Z';

interface FeatureAnswer {
  value: JsonValue;
  status: FeatureStatus;
  event_timestamp: string | null;
}

export async function start(config: FeatureServerConfig): Promise<FeatureServer> {
  const ttlMs = Math.max(0, config.ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000;
  const featureNames = [...(config.featureNames ?? STORE_FEATURE_NAMES)];
  const known = new Set(featureNames);
  const store = await openStore(config.store, { lookupTimeoutMs: config.lookupTimeoutMs });

  const svc = createService({
    name: 'feature-server',
    port: config.port,
    host: config.host,
    handleSignals: config.handleSignals,
    ready: () => store.ping(),
    onShutdown: () => store.close(),
  });

  const lookups = new client.Counter({
    name: 'feature_server_lookups_total',
    help: 'Features looked up, by the status returned',
    labelNames: ['status'],
    registers: [svc.metrics],
  });
  // Bound children: the hot path increments without hashing label objects.
  const byStatus: Record<FeatureStatus, client.Counter.Internal> = {
    PRESENT: lookups.labels('PRESENT'),
    NOT_FOUND: lookups.labels('NOT_FOUND'),
    NULL_VALUE: lookups.labels('NULL_VALUE'),
    OUTSIDE_MAX_AGE: lookups.labels('OUTSIDE_MAX_AGE'),
  };
  const materialized = new client.Counter({
    name: 'feature_server_materialized_rows_total',
    help: 'Rows received by materialization, by outcome (skipped = not newer than the stored row, or a repeated run)',
    labelNames: ['outcome'],
    registers: [svc.metrics],
  });
  const storeErrors = new client.Counter({
    name: 'feature_server_store_errors_total',
    help: 'Requests that failed because the online store was unreachable or failed',
    registers: [svc.metrics],
  });
  const lookupSeconds = new client.Histogram({
    name: 'feature_server_lookup_duration_seconds',
    help: 'Time to read and assemble one lookup request (store round trip included)',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5],
    registers: [svc.metrics],
  });
  materialized.inc({ outcome: 'written' }, 0);
  materialized.inc({ outcome: 'skipped' }, 0);

  // During an outage every request fails; log the first failure and then a summary every 5 s.
  let lastErrorLog = 0;
  let suppressed = 0;
  async function guarded<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      storeErrors.inc();
      const now = Date.now();
      if (now - lastErrorLog >= 5000) {
        svc.log.warn({ op, err: err.message, suppressed }, 'feature store unavailable');
        lastErrorLog = now;
        suppressed = 0;
      } else suppressed++;
      throw new HttpError(503, 'STORE_UNAVAILABLE', `feature store unavailable: ${err.message}`);
    }
  }

  if (!config.adminToken)
    svc.log.warn('ADMIN_TOKEN is not set: admin endpoints are open to anyone who can reach this port');
  const requireAdmin = adminGuard(config.adminToken);

  /** Status of one feature of a row, Feast's rules plus an enforced TTL (the value is still returned). */
  function status(row: StoredRow | undefined, name: string, staleBefore: number): FeatureStatus {
    if (!row || !Object.hasOwn(row.features, name)) return 'NOT_FOUND';
    if (row.features[name] === null) return 'NULL_VALUE';
    return row.event_ts < staleBefore ? 'OUTSIDE_MAX_AGE' : 'PRESENT';
  }

  function answer(
    row: StoredRow | undefined,
    name: string,
    staleBefore: number,
    ts: string | null,
  ): FeatureAnswer {
    const s = status(row, name, staleBefore);
    byStatus[s].inc();
    return s === 'NOT_FOUND'
      ? { value: null, status: s, event_timestamp: null }
      : { value: row!.features[name], status: s, event_timestamp: ts };
  }

  svc.route('GET', '/v1/features/:user_id', async (req) => {
    const started = performance.now();
    const userId = req.params.user_id;
    if (userId.length > MAX_USER_ID) throw badRequest('user_id', `at most ${MAX_USER_ID} characters`);
    const row = await guarded('lookup', () => store.get(userId));
    const staleBefore = ttlMs > 0 ? Date.now() - ttlMs : Number.NEGATIVE_INFINITY;
    const ts = row ? iso(row.event_ts) : null;
    const features: Record<string, FeatureAnswer> = {};
    for (const name of featureNames) features[name] = answer(row, name, staleBefore, ts);
    // Features stored beyond the configured set are reported too: values are returned as stored.
    if (row)
      for (const name in row.features)
        if (!known.has(name)) features[name] = answer(row, name, staleBefore, ts);
    lookupSeconds.observe((performance.now() - started) / 1000);
    return { user_id: userId, features };
  });

  // Feast feature-server shape: one result column per name, the entity column first.
  svc.route('POST', '/get-online-features', async (req) => {
    const body = parse(OnlineFeaturesBody, await req.json());
    const started = performance.now();
    const ids = body.entities.user_id;
    const rows = await guarded('lookup', () => store.getMany(ids.map(String)));
    const staleBefore = ttlMs > 0 ? Date.now() - ttlMs : Number.NEGATIVE_INFINITY;
    const names = ['user_id'];
    const results = [
      {
        values: ids as JsonValue[],
        statuses: ids.map(() => 'PRESENT'),
        event_timestamps: ids.map(() => EPOCH),
      },
    ];
    for (const ref of body.features) {
      // "view:feature" as Feast clients send it; the store is keyed by the feature name.
      const sep = ref.indexOf(':');
      const name = sep >= 0 ? ref.slice(sep + 1) : ref;
      names.push(sep >= 0 && body.full_feature_names ? `${ref.slice(0, sep)}__${name}` : name);
      const values: JsonValue[] = [];
      const statuses: FeatureStatus[] = [];
      const stamps: string[] = [];
      for (const row of rows) {
        const s = status(row, name, staleBefore);
        byStatus[s].inc();
        values.push(s === 'NOT_FOUND' ? null : row!.features[name]);
        statuses.push(s);
        stamps.push(s === 'NOT_FOUND' ? EPOCH : (iso(row!.event_ts) ?? EPOCH));
      }
      results.push({ values, statuses, event_timestamps: stamps });
    }
    lookupSeconds.observe((performance.now() - started) / 1000);
    return { metadata: { feature_names: names }, results };
  });

  svc.route('POST', '/v1/materialize', async (req) => {
    requireAdmin(req);
    const body = parse(MaterializeBody, await req.json());
    const out = await guarded('materialize', () => store.materialize(body.run_id, body.rows.map(toStored)));
    materialized.inc({ outcome: 'written' }, out.written);
    materialized.inc({ outcome: 'skipped' }, out.skipped);
    svc.log.info({ run_id: body.run_id, rows: body.rows.length, ...out }, 'materialized');
    return { run_id: body.run_id, ...out };
  });

  svc.route('GET', '/v1/admin/rows', async (req) => {
    requireAdmin(req);
    checkQuery(req, ['user_id', 'after', 'limit']);
    const ids = userIds(req, false);
    if (ids.length > 0) {
      for (const k of ['after', 'limit'])
        if (req.query.has(k)) throw badRequest(k, 'not allowed together with user_id');
      const rows = await guarded('admin', () => store.getMany(ids));
      return { rows: rows.filter((r) => r !== undefined).map(toWire) };
    }
    // No ids: page through every row in user_id order (the corruption fault picks entities this way).
    const after = req.query.get('after') ?? undefined;
    const limit = req.query.has('limit') ? Number(req.query.get('limit')) : MAX_ENTITIES;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ENTITIES) {
      throw badRequest('limit', `expected an integer from 1 to ${MAX_ENTITIES}`);
    }
    const rows = await guarded('admin', () => store.list(after, limit));
    return {
      rows: rows.map(toWire),
      next_after: rows.length === limit ? rows[rows.length - 1].user_id : null,
    };
  });

  svc.route('PUT', '/v1/admin/rows', async (req) => {
    requireAdmin(req);
    const body = parse(PutRowsBody, await req.json());
    const previous = await guarded('admin', () => store.put(body.rows.map(toStored)));
    svc.log.info({ rows: body.rows.length }, 'rows overwritten by admin');
    return { written: body.rows.length, previous: previous.map(toWire) };
  });

  svc.route('DELETE', '/v1/admin/rows', async (req) => {
    requireAdmin(req);
    checkQuery(req, ['user_id']);
    const ids = userIds(req, true);
    const previous = await guarded('admin', () => store.delete(ids));
    svc.log.info({ requested: ids.length, deleted: previous.length }, 'rows deleted by admin');
    return { deleted: previous.length, previous: previous.map(toWire) };
  });

  svc.route('GET', '/v1/stats', async () => {
    const s = await guarded('stats', () => store.stats());
    return { ...s, store: store.kind, ttl_seconds: ttlMs / 1000 };
  });

  let port: number;
  try {
    port = await svc.listen();
  } catch (err) {
    await store.close();
    throw err;
  }
  const host = config.host ?? '127.0.0.1';
  svc.log.info({ store: store.kind, ttl_seconds: ttlMs / 1000 }, 'feature-server started');
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    store,
    close: () => svc.close(),
  };
}

function checkQuery(req: Request, allowed: string[]) {
  for (const k of req.query.keys())
    if (!allowed.includes(k))
      throw badRequest(k === '' ? '(query)' : k, `unknown query parameter${k === '' ? ' (empty name)' : ''}`);
}

function userIds(req: Request, required: boolean): string[] {
  const ids = req.query.getAll('user_id');
  if (required && ids.length === 0)
    throw badRequest('user_id', 'at least one user_id query parameter is required');
  if (ids.length > MAX_ENTITIES)
    throw badRequest('user_id', `at most ${MAX_ENTITIES} user_id values per request`);
  for (const id of ids) {
    if (id.length === 0 || id.length > MAX_USER_ID)
      throw badRequest('user_id', `expected 1 to ${MAX_USER_ID} characters`);
  }
  return ids;
}
