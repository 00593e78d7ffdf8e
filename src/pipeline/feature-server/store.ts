// The online store behind the feature-server. Two backends with identical semantics: an embedded
// SQLite file (default) and Redis (`redis://` URL). Values are kept as the JSON the client sent, so
// the admin rows API round-trips them exactly, whatever their type.

/** Any JSON value; non-finite numbers travel as the strings "NaN" / "Infinity" / "-Infinity". */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One entity's latest row: the event time of the write and every feature value as written. */
export interface StoredRow {
  user_id: string;
  /** Event time, Unix epoch milliseconds. */
  event_ts: number;
  features: Record<string, JsonValue>;
}

export interface MaterializeResult {
  written: number;
  skipped: number;
  duplicate_run: boolean;
}

export interface StoreStats {
  entities: number;
  materialization_runs: number;
  rows_written_total: number;
}

export interface FeatureStore {
  readonly kind: 'sqlite' | 'redis';
  /** Hot path: one entity's row, or undefined when the entity has none. */
  get(userId: string): Promise<StoredRow | undefined>;
  /** Rows in the order of `userIds` (undefined for missing entities). */
  getMany(userIds: readonly string[]): Promise<(StoredRow | undefined)[]>;
  /**
   * Idempotent write of one materialization run, atomically: a row whose event time is <= the stored
   * one is skipped; a run id seen before changes nothing.
   */
  materialize(runId: string, rows: readonly StoredRow[]): Promise<MaterializeResult>;
  /** Overwrites rows exactly as given (no idempotency check); returns the rows they replaced. */
  put(rows: readonly StoredRow[]): Promise<StoredRow[]>;
  /** Removes rows; returns the rows removed. */
  delete(userIds: readonly string[]): Promise<StoredRow[]>;
  /** Rows ordered by user_id, strictly after `after`, at most `limit`. */
  list(after: string | undefined, limit: number): Promise<StoredRow[]>;
  stats(): Promise<StoreStats>;
  /** True when the store answers right now. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** The store cannot be reached or failed; the server answers 503 STORE_UNAVAILABLE. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export interface StoreOptions {
  /** Redis: per-command timeout for lookups, ms (bounds latency when Redis hangs). */
  lookupTimeoutMs?: number;
  /** Redis: per-command timeout for admin writes (large batches), ms. */
  writeTimeoutMs?: number;
}

/** `redis://…` → Redis; anything else is a SQLite file path. */
export async function openStore(spec: string, opts: StoreOptions = {}): Promise<FeatureStore> {
  if (/^rediss?:\/\//.test(spec)) {
    const { RedisStore } = await import('./redis.ts');
    return RedisStore.open(spec, opts);
  }
  const { SqliteStore } = await import('./sqlite.ts');
  return SqliteStore.open(spec);
}

/** Distinct ids in first-seen order (previous rows are reported once per entity). */
export function distinct(ids: Iterable<string>): string[] {
  return [...new Set(ids)];
}
