// Registry persistence: one SQLite file (node:sqlite, WAL). Registered models, their versions, the
// alias pointers and an append-only alias history, so a restarted registry serves the same champion.
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { HttpError, notFound } from '../common/service.ts';
import type { AliasEvent, Tag } from './client.ts';

export interface RegisteredModelRow {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description: string;
  tags: Tag[];
}

export interface ModelVersionRow {
  name: string;
  version: number;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description: string;
  source: string;
  run_id: string;
  status: string;
  tags: Tag[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS registered_models (
  name TEXT PRIMARY KEY,
  creation_ts INTEGER NOT NULL,
  last_updated_ts INTEGER NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS model_versions (
  name TEXT NOT NULL REFERENCES registered_models(name),
  version INTEGER NOT NULL,
  creation_ts INTEGER NOT NULL,
  last_updated_ts INTEGER NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL,
  run_id TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'READY',
  tags TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS aliases (
  name TEXT NOT NULL REFERENCES registered_models(name),
  alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (name, alias)
);
CREATE TABLE IF NOT EXISTS alias_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  alias TEXT NOT NULL,
  version INTEGER,
  previous_version INTEGER,
  ts_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alias_history_name ON alias_history(name, id);
-- Highest version number ever issued per model: MLflow never reuses the number of a deleted version.
CREATE TABLE IF NOT EXISTS version_counters (
  name TEXT PRIMARY KEY,
  last_version INTEGER NOT NULL
);
`;

type Row = Record<string, unknown>;

export class RegistryDb {
  readonly db: DatabaseSync;

  constructor(file: string) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new DatabaseSync(file);
    // busy_timeout: a second registry process on the same file waits instead of failing.
    this.db.exec(
      'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;',
    );
    this.db.exec(SCHEMA);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  ping(): boolean {
    return this.db.isOpen && this.db.prepare('SELECT 1 AS ok').get()?.ok === 1;
  }

  /** IMMEDIATE takes the write lock up front, so read-then-write (next version number) cannot race. */
  private tx<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.db.exec('COMMIT');
      return out;
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  createRegisteredModel(
    name: string,
    description: string,
    tags: Tag[],
    now = Date.now(),
  ): RegisteredModelRow {
    const r = this.db
      .prepare(
        'INSERT OR IGNORE INTO registered_models (name, creation_ts, last_updated_ts, description, tags) VALUES (?, ?, ?, ?, ?)',
      )
      .run(name, now, now, description, JSON.stringify(tags));
    if (r.changes === 0) {
      throw new HttpError(400, 'RESOURCE_ALREADY_EXISTS', `Registered Model (name=${name}) already exists.`);
    }
    return this.getRegisteredModel(name);
  }

  getRegisteredModel(name: string): RegisteredModelRow {
    const row = this.db.prepare('SELECT * FROM registered_models WHERE name = ?').get(name);
    if (!row) throw notFound(`Registered Model with name=${name} not found`);
    return {
      name: String(row.name),
      creation_timestamp: Number(row.creation_ts),
      last_updated_timestamp: Number(row.last_updated_ts),
      description: String(row.description),
      tags: parseTags(row.tags),
    };
  }

  createModelVersion(
    v: { name: string; source: string; run_id: string; description: string; tags: Tag[] },
    now = Date.now(),
  ): ModelVersionRow {
    return this.tx(() => {
      this.getRegisteredModel(v.name);
      const max = this.db.prepare('SELECT MAX(version) AS v FROM model_versions WHERE name = ?').get(v.name);
      const issued = this.db
        .prepare('SELECT last_version AS v FROM version_counters WHERE name = ?')
        .get(v.name);
      const version = Math.max(Number(max?.v ?? 0), Number(issued?.v ?? 0)) + 1;
      this.db
        .prepare(
          'INSERT INTO version_counters (name, last_version) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET last_version = excluded.last_version',
        )
        .run(v.name, version);
      this.db
        .prepare(
          'INSERT INTO model_versions (name, version, creation_ts, last_updated_ts, description, source, run_id, status, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(v.name, version, now, now, v.description, v.source, v.run_id, 'READY', JSON.stringify(v.tags));
      // MLflow bumps the registered model's last-updated time to the new version's creation time.
      this.db.prepare('UPDATE registered_models SET last_updated_ts = ? WHERE name = ?').run(now, v.name);
      return this.getModelVersion(v.name, version);
    });
  }

  getModelVersion(name: string, version: number): ModelVersionRow {
    const row = this.db
      .prepare('SELECT * FROM model_versions WHERE name = ? AND version = ?')
      .get(name, version);
    if (!row) throw notFound(`Model Version (name=${name}, version=${version}) not found`);
    return versionRow(row);
  }

  latestVersion(name: string): ModelVersionRow | undefined {
    const row = this.db
      .prepare('SELECT * FROM model_versions WHERE name = ? ORDER BY version DESC LIMIT 1')
      .get(name);
    return row ? versionRow(row) : undefined;
  }

  /** Aliases of a model, or (with version) the alias names pointing at that version. */
  aliases(name: string, version?: number): { alias: string; version: number }[] {
    const rows =
      version === undefined
        ? this.db.prepare('SELECT alias, version FROM aliases WHERE name = ? ORDER BY alias').all(name)
        : this.db
            .prepare('SELECT alias, version FROM aliases WHERE name = ? AND version = ? ORDER BY alias')
            .all(name, version);
    return rows.map((r) => ({ alias: String(r.alias), version: Number(r.version) }));
  }

  aliasVersion(name: string, alias: string): number | undefined {
    const row = this.db.prepare('SELECT version FROM aliases WHERE name = ? AND alias = ?').get(name, alias);
    return row ? Number(row.version) : undefined;
  }

  /** Points alias at version; returns the event recorded, or undefined when it already pointed there. */
  setAlias(name: string, alias: string, version: number, now = Date.now()): AliasEvent | undefined {
    return this.tx(() => {
      this.getModelVersion(name, version);
      const previous = this.aliasVersion(name, alias);
      if (previous === version) return undefined;
      this.db
        .prepare(
          'INSERT INTO aliases (name, alias, version) VALUES (?, ?, ?) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version',
        )
        .run(name, alias, version);
      return this.record(name, alias, version, previous, now);
    });
  }

  /** Removes alias; returns the event recorded, or undefined when it was not set (deleting is idempotent). */
  deleteAlias(name: string, alias: string, now = Date.now()): AliasEvent | undefined {
    return this.tx(() => {
      this.getRegisteredModel(name);
      const previous = this.aliasVersion(name, alias);
      if (previous === undefined) return undefined;
      this.db.prepare('DELETE FROM aliases WHERE name = ? AND alias = ?').run(name, alias);
      return this.record(name, alias, undefined, previous, now);
    });
  }

  /** Every registered model, name order (search filters and pages in memory: registries are small). */
  listRegisteredModels(): RegisteredModelRow[] {
    return this.db
      .prepare('SELECT name FROM registered_models ORDER BY name')
      .all()
      .map((r) => this.getRegisteredModel(String(r.name)));
  }

  listModelVersions(name?: string): ModelVersionRow[] {
    const rows =
      name === undefined
        ? this.db.prepare('SELECT * FROM model_versions ORDER BY name, version').all()
        : this.db.prepare('SELECT * FROM model_versions WHERE name = ? ORDER BY version').all(name);
    return rows.map(versionRow);
  }

  updateRegisteredModel(name: string, description: string, now = Date.now()): RegisteredModelRow {
    return this.tx(() => {
      this.getRegisteredModel(name);
      this.db
        .prepare('UPDATE registered_models SET description = ?, last_updated_ts = ? WHERE name = ?')
        .run(description, now, name);
      return this.getRegisteredModel(name);
    });
  }

  updateModelVersion(name: string, version: number, description: string, now = Date.now()): ModelVersionRow {
    return this.tx(() => {
      this.getModelVersion(name, version);
      this.db
        .prepare(
          'UPDATE model_versions SET description = ?, last_updated_ts = ? WHERE name = ? AND version = ?',
        )
        .run(description, now, name, version);
      return this.getModelVersion(name, version);
    });
  }

  /** Sets (value) or removes (undefined) a registered model tag. Removing an absent tag succeeds, as in MLflow. */
  setRegisteredModelTag(name: string, key: string, value: string | undefined): void {
    this.tx(() => {
      const rm = this.getRegisteredModel(name);
      this.db
        .prepare('UPDATE registered_models SET tags = ? WHERE name = ?')
        .run(JSON.stringify(withTag(rm.tags, key, value)), name);
    });
  }

  setModelVersionTag(name: string, version: number, key: string, value: string | undefined): void {
    this.tx(() => {
      const mv = this.getModelVersion(name, version);
      this.db
        .prepare('UPDATE model_versions SET tags = ? WHERE name = ? AND version = ?')
        .run(JSON.stringify(withTag(mv.tags, key, value)), name, version);
    });
  }

  /** Deletes a version and the aliases pointing at it (as MLflow does); returns the alias events. */
  deleteModelVersion(name: string, version: number, now = Date.now()): AliasEvent[] {
    return this.tx(() => {
      this.getModelVersion(name, version);
      const events = this.aliases(name, version).map((a) => {
        this.db.prepare('DELETE FROM aliases WHERE name = ? AND alias = ?').run(name, a.alias);
        return this.record(name, a.alias, undefined, version, now);
      });
      this.db.prepare('DELETE FROM model_versions WHERE name = ? AND version = ?').run(name, version);
      this.db.prepare('UPDATE registered_models SET last_updated_ts = ? WHERE name = ?').run(now, name);
      return events;
    });
  }

  /** Deletes a registered model with its versions and aliases; returns the alias events. */
  deleteRegisteredModel(name: string, now = Date.now()): AliasEvent[] {
    return this.tx(() => {
      this.getRegisteredModel(name);
      const events = this.aliases(name).map((a) => this.record(name, a.alias, undefined, a.version, now));
      this.db.prepare('DELETE FROM aliases WHERE name = ?').run(name);
      this.db.prepare('DELETE FROM model_versions WHERE name = ?').run(name);
      this.db.prepare('DELETE FROM version_counters WHERE name = ?').run(name);
      this.db.prepare('DELETE FROM registered_models WHERE name = ?').run(name);
      return events;
    });
  }

  private record(
    name: string,
    alias: string,
    version: number | undefined,
    previous: number | undefined,
    now: number,
  ): AliasEvent {
    const r = this.db
      .prepare(
        'INSERT INTO alias_history (name, alias, version, previous_version, ts_ms) VALUES (?, ?, ?, ?, ?)',
      )
      .run(name, alias, version ?? null, previous ?? null, now);
    return eventRow({
      id: r.lastInsertRowid,
      name,
      alias,
      version: version ?? null,
      previous_version: previous ?? null,
      ts_ms: now,
    });
  }

  aliasHistory(filter: { name?: string; alias?: string; after?: number; limit?: number }): AliasEvent[] {
    const where: string[] = ['id > ?'];
    const args: (string | number)[] = [filter.after ?? 0];
    if (filter.name !== undefined) {
      where.push('name = ?');
      args.push(filter.name);
    }
    if (filter.alias !== undefined) {
      where.push('alias = ?');
      args.push(filter.alias);
    }
    args.push(filter.limit ?? 1000);
    return this.db
      .prepare(`SELECT * FROM alias_history WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`)
      .all(...args)
      .map(eventRow);
  }
}

function versionRow(row: Row): ModelVersionRow {
  return {
    name: String(row.name),
    version: Number(row.version),
    creation_timestamp: Number(row.creation_ts),
    last_updated_timestamp: Number(row.last_updated_ts),
    description: String(row.description),
    source: String(row.source),
    run_id: String(row.run_id),
    status: String(row.status),
    tags: parseTags(row.tags),
  };
}

function eventRow(row: Row): AliasEvent {
  const ts = Number(row.ts_ms);
  return {
    id: Number(row.id),
    name: String(row.name),
    alias: String(row.alias),
    version: row.version === null ? null : String(row.version),
    previous_version: row.previous_version === null ? null : String(row.previous_version),
    action: row.version === null ? 'delete' : 'set',
    ts_ms: ts,
    time: new Date(ts).toISOString(),
  };
}

function withTag(tags: Tag[], key: string, value: string | undefined): Tag[] {
  const rest = tags.filter((t) => t.key !== key);
  return value === undefined ? rest : [...rest, { key, value }];
}

function parseTags(v: unknown): Tag[] {
  try {
    const t = JSON.parse(String(v));
    return Array.isArray(t) ? t : [];
  } catch {
    return [];
  }
}
