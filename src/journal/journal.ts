// The run's single timeline (NDJSON). Entries that announce or record an action (fault intents,
// injections, reverts, scrapes…) are written synchronously, so an entry is on disk, in order, before
// the action it announces: a fault is journaled before it is injected, and `faultline cleanup` can
// revert from the journal alone after the runner was killed.
//
// Per-request records (thousands per second) are the exception: one write syscall each on the
// harness's event loop cost more than the rest of the journal together, so they are buffered and
// written in batches, every `flushMs` (default 100 ms), when the buffer grows large, before any other
// entry (so the file stays in append order), on sync() and on close(). What a kill -9 can lose is the
// request records of the last flush interval; never a fault record.
import fs from 'node:fs';
import path from 'node:path';

export interface JournalEntry {
  ts_ms: number;
  type: string;
  [key: string]: unknown;
}

export interface JournalOptions {
  /** Entry types written in batches (default: `request`); every other type is written at once. */
  batched?: Iterable<string>;
  /** Longest a batched entry waits in memory (default 100 ms). */
  flushMs?: number;
  /** Buffered bytes that trigger a write regardless of the interval (default 256 KiB). */
  maxBufferBytes?: number;
}

export class Journal {
  readonly file: string;
  private fd: number;
  private listeners: ((e: JournalEntry) => void)[] = [];
  private readonly batched: Set<string>;
  private readonly flushMs: number;
  private readonly maxBufferBytes: number;
  private buffer: string[] = [];
  private bufferBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  /** A background flush that failed: thrown by the next append/flush, so the run fails as before. */
  private pendingError: unknown;

  constructor(file: string, opts: JournalOptions = {}) {
    this.file = file;
    this.batched = new Set(opts.batched ?? ['request']);
    this.flushMs = opts.flushMs ?? 100;
    this.maxBufferBytes = opts.maxBufferBytes ?? 256 * 1024;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'a');
  }

  append<T extends Record<string, unknown>>(
    type: string,
    fields: T = {} as T,
    ts_ms = Date.now(),
  ): JournalEntry {
    // `type` and `ts_ms` are the journal's own: a field of the same name cannot overwrite them.
    if (this.pendingError !== undefined) throw this.pendingError;
    const entry: JournalEntry = { ...fields, ts_ms, type };
    const line = `${JSON.stringify(entry)}\n`;
    if (this.batched.has(type)) {
      this.buffer.push(line);
      this.bufferBytes += line.length;
      if (this.bufferBytes >= this.maxBufferBytes) this.flush();
      else if (!this.flushTimer) {
        this.flushTimer = setTimeout(() => this.flushQuietly(), this.flushMs);
        this.flushTimer.unref();
      }
    } else {
      this.flush(); // everything appended before this entry reaches the file before it
      fs.writeSync(this.fd, line);
    }
    for (const l of this.listeners) l(entry);
    return entry;
  }

  /** Writes the buffered (batched) entries now. */
  flush(): void {
    if (this.pendingError !== undefined) throw this.pendingError;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.buffer.length === 0) return;
    const text = this.buffer.join('');
    this.buffer = [];
    this.bufferBytes = 0;
    fs.writeSync(this.fd, text);
  }

  /** Durable point: used right before an injection (buffered entries included). */
  sync(): void {
    this.flush();
    fs.fsyncSync(this.fd);
  }

  onAppend(listener: (e: JournalEntry) => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    try {
      this.flush();
    } catch {
      // closed already, or the disk failed: the synchronous entries are on disk regardless
    }
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
  }

  // A timer has no caller to throw to: a failed background write surfaces on the next append/flush.
  private flushQuietly(): void {
    this.flushTimer = undefined;
    try {
      this.flush();
    } catch (e) {
      this.pendingError ??= e;
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
