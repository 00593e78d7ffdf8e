// The run's single timeline (NDJSON). Writes are synchronous so an entry is on disk, in order, before
// the action it announces: a fault is journaled before it is injected, and `faultline cleanup` can
// revert from the journal alone after the runner was killed.
import fs from 'node:fs';
import path from 'node:path';

export interface JournalEntry {
  ts_ms: number;
  type: string;
  [key: string]: unknown;
}

export class Journal {
  readonly file: string;
  private fd: number;
  private listeners: ((e: JournalEntry) => void)[] = [];

  constructor(file: string) {
    this.file = file;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'a');
  }

  append<T extends Record<string, unknown>>(
    type: string,
    fields: T = {} as T,
    ts_ms = Date.now(),
  ): JournalEntry {
    // `type` and `ts_ms` are the journal's own: a field of the same name cannot overwrite them.
    const entry: JournalEntry = { ...fields, ts_ms, type };
    fs.writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    for (const l of this.listeners) l(entry);
    return entry;
  }

  /** Durable point: used right before an injection. */
  sync(): void {
    fs.fsyncSync(this.fd);
  }

  onAppend(listener: (e: JournalEntry) => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

export function readJournal(file: string): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // A torn last line after kill -9: everything before it still counts.
    }
  }
  return out;
}
