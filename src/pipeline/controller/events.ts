// The controller's event log: bounded in memory, appended to an NDJSON file when configured, read by
// the harness through SSE (replay from Last-Event-ID) or a JSON long-poll.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { badRequest, type Request } from '../common/service.ts';

export const EVENT_TYPES = [
  'rollback',
  'promotion',
  'canary_abort',
  'alert',
  'alert_resolved',
  'retrain',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface ControllerEvent {
  seq: number;
  type: EventType;
  time: string;
  ts_ms: number;
  reason: string;
  model_name: string;
  from_version: string | null;
  to_version: string | null;
  details: Record<string, unknown>;
}

export type NewEvent = Pick<ControllerEvent, 'type' | 'reason'> &
  Partial<Pick<ControllerEvent, 'model_name' | 'from_version' | 'to_version' | 'details'>>;

export const MAX_WAIT_MS = 30_000;
const MAX_BATCH = 1000;

export class EventLog {
  private events: ControllerEvent[] = [];
  private seq = 0;
  private readonly capacity: number;
  private readonly file?: string;
  private readonly modelName: string;
  private readonly listeners = new Set<(e: ControllerEvent) => void>();

  constructor(opts: { capacity?: number; file?: string; modelName: string }) {
    this.capacity = opts.capacity ?? 10_000;
    this.file = opts.file;
    this.modelName = opts.modelName;
    if (this.file) this.load(this.file);
  }

  /** A restarted controller continues the sequence of its file, so Last-Event-ID stays meaningful. */
  private load(file: string) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    if (!fs.existsSync(file)) return;
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as ControllerEvent;
        if (Number.isInteger(e.seq) && e.seq > this.seq) {
          this.seq = e.seq;
          this.events.push(e);
        }
      } catch {
        // a torn last line from a crash: skip it
      }
    }
    if (this.events.length > this.capacity) this.events = this.events.slice(-this.capacity);
  }

  get lastSeq(): number {
    return this.seq;
  }

  append(e: NewEvent, now = Date.now()): ControllerEvent {
    const ev: ControllerEvent = {
      seq: ++this.seq,
      type: e.type,
      time: new Date(now).toISOString(),
      ts_ms: now,
      reason: e.reason,
      model_name: e.model_name ?? this.modelName,
      from_version: e.from_version ?? null,
      to_version: e.to_version ?? null,
      details: e.details ?? {},
    };
    this.events.push(ev);
    if (this.events.length > this.capacity) this.events.splice(0, this.events.length - this.capacity);
    // Synchronous so the file order is the seq order and an event is on disk before anyone reads it.
    if (this.file) fs.appendFileSync(this.file, `${JSON.stringify(ev)}\n`);
    for (const l of this.listeners) l(ev);
    return ev;
  }

  since(seq: number, limit = MAX_BATCH): ControllerEvent[] {
    // Events are in seq order: binary search for the first newer one.
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid].seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return this.events.slice(lo, lo + limit);
  }

  all(): ControllerEvent[] {
    return [...this.events];
  }

  subscribe(fn: (e: ControllerEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Events newer than `since`, waiting up to `waitMs` for the first one. */
  wait(since: number, waitMs: number, signal?: AbortSignal): Promise<ControllerEvent[]> {
    const ready = this.since(since);
    if (ready.length > 0 || waitMs <= 0 || signal?.aborted) return Promise.resolve(ready);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener('abort', done);
        resolve(this.since(since));
      };
      const timer = setTimeout(done, waitMs);
      const unsubscribe = this.subscribe(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

function parseSeq(value: string | null | undefined, field: string): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value.trim()))
    throw badRequest(field, `expected a non-negative integer, found "${value}"`);
  return Number(value.trim());
}

/**
 * GET /v1/events. `Accept: text/event-stream` → SSE (`id: <seq>` + `data: <json>`, replay after
 * Last-Event-ID or ?since=, a comment heartbeat every 15 s); otherwise JSON long-poll
 * `?since=<seq>&wait=<ms>` → `{ events, last_seq }`. `shutdown` ends open streams and polls.
 */
export function eventsHandler(log: EventLog, shutdown: AbortSignal) {
  return async (req: Request, res: http.ServerResponse): Promise<void> => {
    const accept = String(req.headers.accept ?? '');
    const lastEventId = req.headers['last-event-id'];
    const since =
      parseSeq(Array.isArray(lastEventId) ? lastEventId[0] : lastEventId, 'Last-Event-ID') ??
      parseSeq(req.query.get('since'), 'since') ??
      0;
    if (accept.includes('text/event-stream')) {
      stream(log, since, res, shutdown);
      return;
    }
    const waitRaw = parseSeq(req.query.get('wait'), 'wait') ?? 0;
    const limit = parseSeq(req.query.get('limit'), 'limit') ?? MAX_BATCH;
    if (limit < 1) throw badRequest('limit', 'must be at least 1');
    const closed = new AbortController();
    res.on('close', () => closed.abort());
    const events = await log.wait(
      since,
      Math.min(waitRaw, MAX_WAIT_MS),
      AbortSignal.any([closed.signal, shutdown]),
    );
    if (res.destroyed) return;
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      ...(shutdown.aborted ? { connection: 'close' } : {}),
    });
    res.end(JSON.stringify({ events: events.slice(0, Math.min(limit, MAX_BATCH)), last_seq: log.lastSeq }));
  };
}

function stream(log: EventLog, since: number, res: http.ServerResponse, shutdown: AbortSignal) {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const send = (e: ControllerEvent) => res.write(`id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`);
  res.write('retry: 1000\n\n');
  let cursor = since;
  // Replay in batches; listening starts in the same tick, so nothing falls between replay and live.
  for (let batch = log.since(cursor); batch.length > 0; batch = log.since(cursor)) {
    for (const e of batch) send(e);
    cursor = batch.at(-1)!.seq;
  }
  const unsubscribe = log.subscribe((e) => {
    if (e.seq > cursor) {
      cursor = e.seq;
      send(e);
    }
  });
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  const end = () => {
    clearInterval(heartbeat);
    unsubscribe();
    shutdown.removeEventListener('abort', end);
    // On shutdown the socket is closed once the stream ends: the server's idle-connection sweep has
    // already run by then, and an EventSource reconnects anyway.
    if (!res.writableEnded) res.end(() => shutdown.aborted && res.socket?.destroy());
  };
  res.on('close', end);
  if (shutdown.aborted) end();
  else shutdown.addEventListener('abort', end, { once: true });
}
