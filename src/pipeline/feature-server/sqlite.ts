// Embedded online store: one SQLite file (node:sqlite, no native addon) in WAL mode so lookups are
// not blocked by a materialization in progress. One row per entity; features as JSON text.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  distinct,
  type FeatureStore,
  type MaterializeResult,
  type StoredRow,
  type StoreStats,
  StoreUnavailableError,
} from './store.ts';

interface DbRow {
  user_id: string;
  event_ts: number;
  features: string;
}

export class SqliteStore implements FeatureStore {
  readonly kind = 'sqlite' as const;
  readonly file: string;
  private db: DatabaseSync;
  private closed = false;
  private readonly sGet: StatementSync;
  private readonly sUpsertIfNewer: StatementSync;
  private readonly sUpsert: StatementSync;
  private readonly sDelete: StatementSync;
  private readonly sRunExists: StatementSync;
  private readonly sRunInsert: StatementSync;
  private readonly sList: StatementSync;
  private readonly sListAfter: StatementSync;
  private readonly sCountEntities: StatementSync;
  private readonly sRunStats: StatementSync;

  static open(file: string): SqliteStore {
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    return new SqliteStore(file);
  }

  private constructor(file: string) {
    this.file = file;
    this.db = new DatabaseSync(file);
    // This process is the store's only user, so it keeps the file lock instead of taking and
    // releasing it around every read (two fcntl calls per lookup) and needs no shared-memory index.
    this.db.exec(`
      PRAGMA locking_mode = EXCLUSIVE;
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 2000;
      CREATE TABLE IF NOT EXISTS features (
        user_id  TEXT PRIMARY KEY,
        event_ts INTEGER NOT NULL,
        features TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS materialization_runs (
        run_id     TEXT PRIMARY KEY,
        applied_ms INTEGER NOT NULL,
        rows       INTEGER NOT NULL,
        written    INTEGER NOT NULL,
        skipped    INTEGER NOT NULL
      ) WITHOUT ROWID;
    `);
    const db = this.db;
    this.sGet = db.prepare('SELECT user_id, event_ts, features FROM features WHERE user_id = ?');
    // The WHERE on the conflict branch is the idempotency rule: only a strictly newer event wins.
    this.sUpsertIfNewer = db.prepare(
      `INSERT INTO features (user_id, event_ts, features) VALUES (?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET event_ts = excluded.event_ts, features = excluded.features
       WHERE excluded.event_ts > features.event_ts`,
    );
    this.sUpsert = db.prepare(
      `INSERT INTO features (user_id, event_ts, features) VALUES (?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET event_ts = excluded.event_ts, features = excluded.features`,
    );
    this.sDelete = db.prepare('DELETE FROM features WHERE user_id = ?');
    this.sRunExists = db.prepare('SELECT 1 AS x FROM materialization_runs WHERE run_id = ?');
    this.sRunInsert = db.prepare(
      'INSERT INTO materialization_runs (run_id, applied_ms, rows, written, skipped) VALUES (?, ?, ?, ?, ?)',
    );
    this.sList = db.prepare('SELECT user_id, event_ts, features FROM features ORDER BY user_id LIMIT ?');
    this.sListAfter = db.prepare(
      'SELECT user_id, event_ts, features FROM features WHERE user_id > ? ORDER BY user_id LIMIT ?',
    );
    this.sCountEntities = db.prepare('SELECT COUNT(*) AS n FROM features');
    this.sRunStats = db.prepare(
      'SELECT COUNT(*) AS runs, COALESCE(SUM(written), 0) AS written FROM materialization_runs',
    );
  }

  async get(userId: string): Promise<StoredRow | undefined> {
    return this.read(userId);
  }

  async getMany(userIds: readonly string[]): Promise<(StoredRow | undefined)[]> {
    return this.guard(() => userIds.map((id) => this.read(id)));
  }

  async materialize(runId: string, rows: readonly StoredRow[]): Promise<MaterializeResult> {
    return this.tx(() => {
      if (this.sRunExists.get(runId)) return { written: 0, skipped: rows.length, duplicate_run: true };
      let written = 0;
      for (const r of rows) {
        written += Number(this.sUpsertIfNewer.run(r.user_id, r.event_ts, JSON.stringify(r.features)).changes);
      }
      const skipped = rows.length - written;
      this.sRunInsert.run(runId, Date.now(), rows.length, written, skipped);
      return { written, skipped, duplicate_run: false };
    });
  }

  async put(rows: readonly StoredRow[]): Promise<StoredRow[]> {
    return this.tx(() => {
      const previous = this.snapshot(rows.map((r) => r.user_id));
      for (const r of rows) this.sUpsert.run(r.user_id, r.event_ts, JSON.stringify(r.features));
      return previous;
    });
  }

  async delete(userIds: readonly string[]): Promise<StoredRow[]> {
    return this.tx(() => {
      const previous = this.snapshot(userIds);
      for (const row of previous) this.sDelete.run(row.user_id);
      return previous;
    });
  }

  async list(after: string | undefined, limit: number): Promise<StoredRow[]> {
    return this.guard(() => {
      const raw = (after === undefined
        ? this.sList.all(limit)
        : this.sListAfter.all(after, limit)) as unknown as DbRow[];
      return raw.map(decode);
    });
  }

  async stats(): Promise<StoreStats> {
    return this.guard(() => {
      const e = this.sCountEntities.get() as { n: number };
      const r = this.sRunStats.get() as { runs: number; written: number };
      return {
        entities: Number(e.n),
        materialization_runs: Number(r.runs),
        rows_written_total: Number(r.written),
      };
    });
  }

  async ping(): Promise<boolean> {
    return !this.closed && this.db.isOpen;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private read(userId: string): StoredRow | undefined {
    const raw = this.guard(() => this.sGet.get(userId)) as DbRow | undefined;
    return raw ? decode(raw) : undefined;
  }

  /** Previous state of each distinct entity that has a row. */
  private snapshot(userIds: readonly string[]): StoredRow[] {
    const out: StoredRow[] = [];
    for (const id of distinct(userIds)) {
      const raw = this.sGet.get(id) as DbRow | undefined;
      if (raw) out.push(decode(raw));
    }
    return out;
  }

  private tx<T>(fn: () => T): T {
    return this.guard(() => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const out = fn();
        this.db.exec('COMMIT');
        return out;
      } catch (err) {
        if (this.db.isTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  /** SQLite failures (locked, disk full, closed) surface as "store unavailable", not as a crash. */
  private guard<T>(fn: () => T): T {
    if (this.closed) throw new StoreUnavailableError('feature store is closed');
    try {
      return fn();
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(`sqlite: ${(err as Error).message}`, { cause: err });
    }
  }
}

function decode(raw: DbRow): StoredRow {
  return { user_id: raw.user_id, event_ts: Number(raw.event_ts), features: JSON.parse(raw.features) };
}
