// Redis online store (`FEATURE_STORE=redis://host:port/db`), the layout Feast-like stores use:
//   fl:user:<user_id>      hash  ":ts" → event time (epoch ms), <feature> → value as JSON text
//   fl:entities            zset  every user_id with a row (score 0, so it is ordered by id for paging)
//   fl:runs                set   materialization run ids already applied
//   fl:rows_written_total  string counter of rows written by materialization
// During an outage every call fails fast (no offline queue, no per-request retries, command timeout)
// so the server can answer 503 instead of hanging its callers.
import { Redis, type RedisOptions } from 'ioredis';
import {
  distinct,
  type FeatureStore,
  type JsonValue,
  type MaterializeResult,
  type StoredRow,
  type StoreOptions,
  type StoreStats,
  StoreUnavailableError,
} from './store.ts';

const USER = 'fl:user:';
const ENTITIES = 'fl:entities';
const RUNS = 'fl:runs';
const WRITTEN = 'fl:rows_written_total';
/** Hash field holding the event time; feature names cannot contain ':' so it never collides. */
const TS = ':ts';

// Atomic idempotent materialization. KEYS: runs, entities, counter, then one user hash per row.
// ARGV: run_id, then per row: user_id, event_ts, n, and n field/value pairs.
const MATERIALIZE_LUA = `
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return {0, 0, 1} end
local a = 2
local written, skipped = 0, 0
for i = 4, #KEYS do
  local key, uid, ts = KEYS[i], ARGV[a], ARGV[a + 1]
  local first = a + 3
  a = first + 2 * tonumber(ARGV[a + 2])
  local cur = redis.call('HGET', key, '${TS}')
  if cur and tonumber(cur) and tonumber(cur) >= tonumber(ts) then
    skipped = skipped + 1
  else
    redis.call('DEL', key)
    redis.call('HSET', key, '${TS}', ts, unpack(ARGV, first, a - 1))
    redis.call('ZADD', KEYS[2], 0, uid)
    written = written + 1
  end
end
if written > 0 then redis.call('INCRBY', KEYS[3], written) end
return {written, skipped, 0}
`;

type MaterializeFn = (numKeys: number, ...args: (string | number)[]) => Promise<[number, number, number]>;

export class RedisStore implements FeatureStore {
  readonly kind = 'redis' as const;
  /** Lookups: short command timeout, they are on every prediction's path. */
  private readonly reader: Redis;
  /** Admin writes: may carry large batches, so a longer timeout. */
  private readonly writer: Redis;
  private closed = false;

  static async open(url: string, opts: StoreOptions = {}): Promise<RedisStore> {
    const store = new RedisStore(url, opts);
    // Not reachable yet is not fatal: the clients keep reconnecting and /readyz says not-ready.
    await Promise.allSettled([store.reader.connect(), store.writer.connect()]);
    return store;
  }

  private constructor(url: string, opts: StoreOptions) {
    const base: RedisOptions = {
      lazyConnect: true,
      connectTimeout: 1000,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResubscribe: false,
      // Reconnect quickly so recovery after an outage is measured in hundreds of ms.
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), 1000),
    };
    this.reader = new Redis(url, {
      ...base,
      commandTimeout: opts.lookupTimeoutMs ?? 200,
      connectionName: 'feature-server-read',
    });
    this.writer = new Redis(url, {
      ...base,
      commandTimeout: opts.writeTimeoutMs ?? 5000,
      connectionName: 'feature-server-write',
    });
    this.writer.defineCommand('flMaterialize', { lua: MATERIALIZE_LUA });
    // Connection errors are reported by the failing commands; without listeners ioredis would log them.
    this.reader.on('error', () => {});
    this.writer.on('error', () => {});
  }

  async get(userId: string): Promise<StoredRow | undefined> {
    const h = await this.call(() => this.reader.hgetall(USER + userId));
    return decode(userId, h);
  }

  async getMany(userIds: readonly string[]): Promise<(StoredRow | undefined)[]> {
    if (userIds.length === 0) return [];
    const p = this.reader.pipeline();
    for (const id of userIds) p.hgetall(USER + id);
    const results = await this.call(() => p.exec());
    return userIds.map((id, i) => decode(id, unwrap(results, i) as Record<string, string>));
  }

  async materialize(runId: string, rows: readonly StoredRow[]): Promise<MaterializeResult> {
    const keys = [RUNS, ENTITIES, WRITTEN];
    const args: (string | number)[] = [runId];
    for (const r of rows) {
      keys.push(USER + r.user_id);
      const names = Object.keys(r.features);
      args.push(r.user_id, r.event_ts, names.length);
      for (const n of names) args.push(n, JSON.stringify(r.features[n]));
    }
    const fn = (this.writer as unknown as { flMaterialize: MaterializeFn }).flMaterialize.bind(this.writer);
    const [written, skipped, dup] = await this.call(() => fn(keys.length, ...keys, ...args));
    return dup
      ? { written: 0, skipped: rows.length, duplicate_run: true }
      : { written, skipped, duplicate_run: false };
  }

  async put(rows: readonly StoredRow[]): Promise<StoredRow[]> {
    // One MULTI: the previous values are read and replaced atomically.
    const ids = distinct(rows.map((r) => r.user_id));
    const m = this.writer.multi();
    for (const id of ids) m.hgetall(USER + id);
    for (const r of rows) {
      const key = USER + r.user_id;
      m.del(key);
      const fields: (string | number)[] = [TS, r.event_ts];
      for (const [n, v] of Object.entries(r.features)) fields.push(n, JSON.stringify(v));
      m.hset(key, ...fields);
      m.zadd(ENTITIES, 0, r.user_id);
    }
    const results = await this.call(() => m.exec());
    return collect(ids, results);
  }

  async delete(userIds: readonly string[]): Promise<StoredRow[]> {
    const ids = distinct(userIds);
    if (ids.length === 0) return [];
    const m = this.writer.multi();
    for (const id of ids) m.hgetall(USER + id);
    m.del(...ids.map((id) => USER + id));
    m.zrem(ENTITIES, ...ids);
    const results = await this.call(() => m.exec());
    return collect(ids, results);
  }

  async list(after: string | undefined, limit: number): Promise<StoredRow[]> {
    const min = after === undefined ? '-' : `(${after}`;
    const ids = await this.call(() => this.writer.zrangebylex(ENTITIES, min, '+', 'LIMIT', 0, limit));
    const p = this.writer.pipeline();
    for (const id of ids) p.hgetall(USER + id);
    const results = ids.length ? await this.call(() => p.exec()) : [];
    const out: StoredRow[] = [];
    ids.forEach((id, i) => {
      const row = decode(id, unwrap(results, i) as Record<string, string>);
      if (row) out.push(row);
    });
    return out;
  }

  async stats(): Promise<StoreStats> {
    const p = this.writer.pipeline().zcard(ENTITIES).scard(RUNS).get(WRITTEN);
    const r = await this.call(() => p.exec());
    return {
      entities: Number(unwrap(r, 0)),
      materialization_runs: Number(unwrap(r, 1)),
      rows_written_total: Number(unwrap(r, 2) ?? 0),
    };
  }

  async ping(): Promise<boolean> {
    if (this.closed || this.reader.status !== 'ready' || this.writer.status !== 'ready') return false;
    try {
      return (await this.reader.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reader.disconnect();
    this.writer.disconnect();
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('feature store is closed');
    try {
      return await fn();
    } catch (err) {
      throw new StoreUnavailableError(`redis: ${(err as Error).message}`, { cause: err });
    }
  }
}

type ExecResult = [Error | null, unknown][] | null;

function unwrap(results: ExecResult, i: number): unknown {
  if (!results) throw new StoreUnavailableError('redis: transaction aborted');
  const [err, value] = results[i];
  if (err) throw new StoreUnavailableError(`redis: ${err.message}`, { cause: err });
  return value;
}

function collect(ids: readonly string[], results: ExecResult): StoredRow[] {
  const out: StoredRow[] = [];
  ids.forEach((id, i) => {
    const row = decode(id, unwrap(results, i) as Record<string, string>);
    if (row) out.push(row);
  });
  return out;
}

function decode(userId: string, h: Record<string, string>): StoredRow | undefined {
  let features: Record<string, JsonValue> | undefined;
  let ts = 0;
  for (const field in h) {
    features ??= {};
    if (field === TS) {
      // A hash written by someone else without a usable time reads as epoch 0, i.e. stale.
      const n = Number(h[field]);
      ts = Number.isFinite(n) ? n : 0;
    } else {
      features[field] = parseValue(h[field]);
    }
  }
  return features ? { user_id: userId, event_ts: ts, features } : undefined;
}

/** Values are JSON text; anything else (written by another tool) comes back as the raw string. */
function parseValue(s: string): JsonValue {
  try {
    return JSON.parse(s) as JsonValue;
  } catch {
    return s;
  }
}
