// Built-in open-model load generator (k6 constant-arrival-rate / ramping-arrival-rate semantics).
// Requests go out at their scheduled instants whatever the server does: a timer loop sends every
// request whose intended time has passed, and latency is measured from that intended time, so a
// stalled server shows up as latency instead of silently lowering the offered load.
import { Pool } from 'undici';
import { exchange } from '../pipeline/common/exchange.ts';
import type { Histogram } from '../stats/hdr.ts';
import { newLatencyHistogram, percentileMs, toMicros } from '../stats/hdr.ts';
import { createClock } from './clock.ts';
import { type FirstChange, FirstChanges, TransformSet, type TransformSpec } from './drift-transform.ts';
import type {
  LatencySummaryMs,
  LoadDriver,
  LoadResult,
  Outcome,
  PayloadTransform,
  RecordListener,
  RequestRecord,
} from './driver.ts';
import { classifyAnswer, labeledPayloads, type SeededPayloadOptions } from './portable.ts';
import type { RateProfile } from './schedule.ts';
import { ArrivalSchedule } from './schedule.ts';

export interface BuiltinLoadConfig extends RateProfile {
  /** Gateway base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** Request path (default `/v1/predict`). */
  path?: string;
  /** Seeds the default payload generator (trainer's PayloadGenerator). */
  seed?: number;
  /** Requests outstanding at once before new ones are dropped (default 500). */
  maxInFlight?: number;
  /** Client-side timeout per request, from the actual send (default 2000 ms). */
  timeoutMs?: number;
  /** HTTP connections to the gateway (default 64, no pipelining). */
  connections?: number;
  /** Payload factory, called once per scheduled request in seq order (dropped ones included). */
  payload?: () => Record<string, unknown>;
  /** Initial payload transform; can be changed at runtime with setTransform(). */
  transform?: PayloadTransform;
  /** Keep every record in LoadResult.records (tests, short runs). Off by default: memory stays bounded. */
  keepRecords?: boolean;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Upper bound on requests sent per timer tick when catching up, so responses still get processed. */
  maxBurst?: number;
}

const DEFAULTS = { path: '/v1/predict', maxInFlight: 500, timeoutMs: 2000, connections: 64, maxBurst: 1000 };
/** The per-request client timeout when none is configured (the runner's abort rule counts unanswered requests as failed after it). */
export const DEFAULT_TIMEOUT_MS = DEFAULTS.timeoutMs;

/** Plain-JSON options of seededPayload (they cross a worker-thread boundary as data). */
export type { SeededPayloadOptions } from './portable.ts';

/** Ground truth rides on the payload under a symbol: JSON.stringify ignores it, so it is never sent. */
export const PAYLOAD_LABEL: unique symbol = Symbol('faultline.label');

/**
 * The seeded payload stream of portable.ts (the generator exported k6 scripts use too): realistic
 * requests for users the feature store knows, each carrying its true label (PAYLOAD_LABEL) for the
 * quality SLIs.
 */
export async function seededPayload(
  seed: number,
  options: SeededPayloadOptions = {},
): Promise<() => Record<string, unknown>> {
  const next = labeledPayloads(seed, options);
  return () => {
    const { tx, label } = next();
    return { ...tx, [PAYLOAD_LABEL]: label };
  };
}

/** The true label a payload factory attached (seededPayload), if any. */
export function payloadLabel(payload: Record<string, unknown>): 0 | 1 | undefined {
  const l = (payload as { [PAYLOAD_LABEL]?: unknown })[PAYLOAD_LABEL];
  return l === 0 || l === 1 ? l : undefined;
}

export class BuiltinLoadDriver implements LoadDriver {
  readonly done: Promise<LoadResult>;
  readonly schedule: ArrivalSchedule;
  private readonly cfg: BuiltinLoadConfig & typeof DEFAULTS;
  private readonly listeners = new Set<RecordListener>();
  private transform: PayloadTransform | undefined;
  private payload: (() => Record<string, unknown>) | undefined;
  private pool: Pool | undefined;
  private offsets: Iterator<number> | undefined;
  private nextOffset: number | undefined;
  private seq = 0;
  private startAt = 0;
  private now: () => number = createClock();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;
  private stoppedEarly = false;
  private schedulingDone = false;
  private finished = false;
  private inFlight = 0;
  private listenerError: unknown;
  private resolveDone!: (r: LoadResult) => void;
  private rejectDone!: (e: unknown) => void;
  private readonly records: RequestRecord[] | undefined;
  private readonly latency = newLatencyHistogram();
  private readonly lag = newLatencyHistogram();
  private latencySum = 0;
  private latencyMax = 0;
  private lagSum = 0;
  private lagMax = 0;
  private counts = { requests: 0, ok: 0, errors: 0, timeouts: 0, dropped: 0 };

  constructor(config: BuiltinLoadConfig) {
    this.cfg = { ...DEFAULTS, ...config } as BuiltinLoadConfig & typeof DEFAULTS;
    for (const k of ['maxInFlight', 'timeoutMs', 'connections', 'maxBurst'] as const) {
      const v = this.cfg[k];
      if (!Number.isInteger(v) || v < 1) throw new Error(`load.${k} must be an integer ≥ 1, got ${v}`);
    }
    new URL(this.cfg.url); // fail fast on a malformed URL
    this.schedule = new ArrivalSchedule(config);
    this.transform = config.transform;
    this.payload = config.payload;
    this.records = config.keepRecords ? [] : undefined;
    this.done = new Promise<LoadResult>((res, rej) => {
      this.resolveDone = res;
      this.rejectDone = rej;
    });
    // Callers that only use stop() must not get an unhandled rejection.
    this.done.catch(() => {});
  }

  onRecord(cb: RecordListener): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  setTransform(transform: PayloadTransform | undefined): void {
    this.transform = transform;
  }

  private readonly firstChanges = new FirstChanges();
  private firstChangeListener: ((c: FirstChange) => void) | undefined;
  private readonly specs = new TransformSet((c) => {
    this.firstChanges.report(c);
    this.firstChangeListener?.(c);
  });

  /** Hears each transform's first changed payload as it happens (the worker thread forwards it). */
  onFirstChange(cb: (c: FirstChange) => void): void {
    this.firstChangeListener = cb;
  }

  /** LoadDriver.firstChange: the first payload transform `id` changed (undefined if the run ends first). */
  firstChange(id: string): Promise<FirstChange | undefined> {
    return this.firstChanges.wait(id);
  }

  /** LoadDriver.setTransformSpec in-process (replaces a closure set with setTransform). */
  async setTransformSpec(id: string, spec: TransformSpec | undefined): Promise<number | undefined> {
    // Requests already sent cannot be drifted: a start in the past takes effect from now.
    const s = spec && { ...spec, startMs: Math.max(spec.startMs, this.now()) };
    this.transform = this.specs.set(id, s);
    return s?.startMs;
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('load driver already started');
    this.started = true;
    if (!this.payload) this.payload = await seededPayload(this.cfg.seed ?? 1);
    if (this.stopping) return; // stop() raced the payload import
    this.pool = new Pool(new URL(this.cfg.url).origin, {
      connections: this.cfg.connections,
      pipelining: 1,
      connect: { timeout: this.cfg.timeoutMs },
    });
    this.offsets = this.schedule.offsets();
    this.nextOffset = nextValue(this.offsets);
    this.now = createClock();
    this.startAt = this.now();
    this.tick();
  }

  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      if (!this.schedulingDone) {
        this.stoppedEarly = this.started;
        this.schedulingDone = true;
      }
      this.maybeFinish();
    }
    await this.done.catch(() => {});
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (this.stopping || this.schedulingDone) return;
    const now = this.now();
    let burst = 0;
    while (
      this.nextOffset !== undefined &&
      this.startAt + this.nextOffset <= now &&
      burst < this.cfg.maxBurst
    ) {
      this.fire(this.seq++, this.startAt + this.nextOffset);
      this.nextOffset = nextValue(this.offsets!);
      burst++;
      if (this.stopping) return; // a listener error stopped the run
    }
    if (this.nextOffset === undefined) {
      this.schedulingDone = true;
      this.maybeFinish();
      return;
    }
    const delay = this.startAt + this.nextOffset - this.now();
    // Behind schedule: yield to I/O once, then continue catching up.
    if (delay <= 0) this.timer = setTimeout(this.tick, 0);
    else this.timer = setTimeout(this.tick, delay);
  };

  private fire(seq: number, tIntended: number): void {
    // Payload and transform run for dropped requests too, so seq → payload is independent of timing.
    let body = this.payload!();
    // Read before the transform: drift reshapes the payload, not its truth.
    const label = payloadLabel(body);
    if (this.transform) body = this.transform(body, tIntended);
    this.counts.requests++;
    if (this.inFlight >= this.cfg.maxInFlight) {
      this.complete(
        withLabel(
          {
            seq,
            tIntended,
            tSent: null,
            tDone: this.now(),
            latencyMs: null,
            status: 0,
            outcome: 'dropped',
            error: 'max_in_flight',
          },
          label,
        ),
      );
      return;
    }
    this.inFlight++;
    const tSent = this.now();
    const signal = AbortSignal.timeout(this.cfg.timeoutMs);
    exchange(
      this.pool!,
      {
        method: 'POST',
        path: this.cfg.path,
        headers: { 'content-type': 'application/json', 'x-faultline-seq': String(seq), ...this.cfg.headers },
        body: JSON.stringify(body),
      },
      signal,
    )
      .then((res) =>
        this.fromResponse(seq, tIntended, tSent, res.statusCode, res.headers, res.body.toString('utf8')),
      )
      .catch((err: unknown): RequestRecord => {
        const tDone = this.now();
        const timedOut =
          signal.aborted && (signal.reason as { name?: string } | undefined)?.name === 'TimeoutError';
        const e = err as { code?: string; name?: string; message?: string };
        return {
          seq,
          tIntended,
          tSent,
          tDone,
          latencyMs: tDone - tIntended,
          status: 0,
          outcome: timedOut ? 'timeout' : 'error',
          error: timedOut ? 'timeout' : (e?.code ?? e?.name ?? String(err)),
        };
      })
      .then((record) => {
        this.inFlight--;
        this.complete(withLabel(record, label));
        this.maybeFinish();
      });
  }

  private fromResponse(
    seq: number,
    tIntended: number,
    tSent: number,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    text: string,
  ): RequestRecord {
    const tDone = this.now();
    // Field order as before the classification moved to portable.ts (journal lines stay the same).
    const facts = classifyAnswer(status, (name) => header(headers, name), text);
    const rec: RequestRecord = {
      seq,
      tIntended,
      tSent,
      tDone,
      latencyMs: tDone - tIntended,
      status,
      outcome: facts.outcome,
    };
    if (facts.upstream !== undefined) rec.upstream = facts.upstream;
    if (facts.modelVersion !== undefined) rec.modelVersion = facts.modelVersion;
    if (facts.fallback !== undefined) rec.fallback = facts.fallback;
    if (facts.error !== undefined) rec.error = facts.error;
    if (facts.score !== undefined) rec.score = facts.score;
    if (facts.decision !== undefined) rec.decision = facts.decision;
    return rec;
  }

  private complete(rec: RequestRecord): void {
    const c = this.counts;
    const o: Outcome = rec.outcome;
    if (o === 'ok') c.ok++;
    else if (o === 'dropped') c.dropped++;
    else if (o === 'timeout') c.timeouts++;
    else c.errors++;
    if (rec.latencyMs !== null) {
      this.latency.recordValue(toMicros(rec.latencyMs));
      this.latencySum += rec.latencyMs;
      if (rec.latencyMs > this.latencyMax) this.latencyMax = rec.latencyMs;
    }
    if (rec.tSent !== null) {
      const lag = rec.tSent - rec.tIntended;
      this.lag.recordValue(toMicros(lag));
      this.lagSum += lag;
      if (lag > this.lagMax) this.lagMax = lag;
    }
    this.records?.push(rec);
    for (const cb of this.listeners) {
      try {
        cb(rec);
      } catch (err) {
        // A failing consumer (e.g. the journal) invalidates the run: stop and report it through `done`.
        this.listenerError ??= err;
        if (!this.stopping) void this.stop();
      }
    }
  }

  private maybeFinish(): void {
    if (this.schedulingDone) this.firstChanges.close(); // no payload is built after this
    if (this.finished || !this.schedulingDone || this.inFlight > 0) return;
    this.finished = true;
    const endedAt = this.now();
    const pool = this.pool;
    const finish = (): void => {
      if (this.listenerError !== undefined) {
        this.rejectDone(this.listenerError);
        return;
      }
      this.resolveDone({
        startedAt: this.startAt,
        endedAt,
        ...this.counts,
        latency: summary(this.latency, this.latencySum, this.latencyMax),
        schedulingLag: summary(this.lag, this.lagSum, this.lagMax),
        latencyHistogram: this.latency,
        schedulingLagHistogram: this.lag,
        records: this.records,
        stoppedEarly: this.stoppedEarly,
      });
    };
    if (pool) pool.close().then(finish, finish);
    else finish();
  }
}

export function createBuiltinDriver(config: BuiltinLoadConfig): BuiltinLoadDriver {
  return new BuiltinLoadDriver(config);
}

function withLabel(rec: RequestRecord, label: 0 | 1 | undefined): RequestRecord {
  if (label !== undefined) rec.label = label;
  return rec;
}

function nextValue(it: Iterator<number>): number | undefined {
  const r = it.next();
  return r.done ? undefined : r.value;
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function summary(h: Histogram, sum: number, max: number): LatencySummaryMs {
  const n = h.totalCount;
  return {
    count: n,
    p50: percentileMs(h, 50),
    p90: percentileMs(h, 90),
    p95: percentileMs(h, 95),
    p99: percentileMs(h, 99),
    p999: percentileMs(h, 99.9),
    max: n ? max : null,
    mean: n ? sum / n : null,
  };
}
