// The built-in generator in its own worker thread (worker.ts), behind the same LoadDriver interface.
// In a scenario run the main thread also hosts the fault proxies, the 1 s scrapes and the journal;
// sharing its event loop delayed sends by tens of ms (issue 9). The worker runs BuiltinLoadDriver
// unchanged and posts its records here in batches; `done` settles after the last batch arrived.
import { Worker } from 'node:worker_threads';
import { newLatencyHistogram, toMicros } from '../stats/hdr.ts';
import type { BuiltinLoadConfig, SeededPayloadOptions } from './builtin.ts';
import { BuiltinLoadDriver } from './builtin.ts';
import { type ClockAnchor, clockAnchor, nowMs } from './clock.ts';
import { type FirstChange, FirstChanges, type TransformSpec } from './drift-transform.ts';
import type { LoadDriver, LoadResult, RecordListener, RequestRecord } from './driver.ts';

/** BuiltinLoadConfig without its closures (they cannot cross a thread): payloads come from the seed. */
export type WorkerLoadConfig = Omit<BuiltinLoadConfig, 'payload' | 'transform'> & {
  /** Plain-data options for the worker's `seededPayload(seed, options)` (e.g. a fraud share). */
  payloadOptions?: SeededPayloadOptions;
  /** Longest a completed record waits in the worker before it is posted (default 20 ms). */
  batchMs?: number;
  /** Records per batch that trigger an immediate post (default 256). */
  batchMax?: number;
  /**
   * Nice value for the generator's thread (Linux: per thread), e.g. -5 so the schedule keeps its
   * instants when the pipeline saturates the CPU. Lowering it needs CAP_SYS_NICE; without, the
   * thread keeps the process's priority (see `threadNice` after start).
   */
  threadNice?: number;
};

/** workerData of worker.ts. */
export interface WorkerInit {
  config: Omit<BuiltinLoadConfig, 'payload' | 'transform' | 'keepRecords'>;
  seed: number;
  payloadOptions?: SeededPayloadOptions;
  clock: ClockAnchor;
  batchMs: number;
  batchMax: number;
  threadNice?: number;
}

export type ToWorker =
  | { type: 'start' }
  | { type: 'stop' }
  | { type: 'transform'; id: string; seq: number; spec: TransformSpec | undefined };

export type FromWorker =
  | { type: 'started'; nice: number | null }
  | { type: 'records'; records: RequestRecord[] }
  | { type: 'transform'; id: string; seq: number; startMs: number | undefined }
  | { type: 'first-change'; change: FirstChange }
  | { type: 'done'; result: Omit<LoadResult, 'latencyHistogram' | 'schedulingLagHistogram' | 'records'> }
  | { type: 'error'; message: string; stack?: string };

const WORKER = new URL('./worker.ts', import.meta.url);

/**
 * Young generation of the generator thread. Every request allocates a payload, a record and undici
 * state; with V8's default semi-spaces the thread scavenged often enough at ≥ 5000 req/s for its
 * send lag p99 to reach 10–15 ms in one step of three, and 2.3–5.8 ms with 48 MiB (BENCHMARKS.md).
 */
export const GENERATOR_YOUNG_GENERATION_MB = 48;

/** The generator thread's nice value in scenario runs (run.ts; FAULTLINE_GENERATOR_NICE overrides). */
export const DEFAULT_GENERATOR_NICE = -5;

export class WorkerLoadDriver implements LoadDriver {
  readonly done: Promise<LoadResult>;
  private readonly init: WorkerInit;
  private readonly keepRecords: boolean;
  private readonly listeners = new Set<RecordListener>();
  private readonly records: RequestRecord[] | undefined;
  // Rebuilt here from the delivered records: the worker's histograms would not survive cloning.
  private readonly latency = newLatencyHistogram();
  private readonly lag = newLatencyHistogram();
  private worker: Worker | undefined;
  /** The generator thread's nice value once started (null: unknown, e.g. not Linux). */
  threadNice: number | null = null;
  private started = false;
  private stopping = false;
  private settled = false;
  private listenerError: unknown;
  private transformSeq = 0;
  private readonly pendingTransforms = new Map<number, (startMs: number | undefined) => void>();
  private readonly firstChanges = new FirstChanges();
  private readonly queued: ToWorker[] = [];
  private startWaiter: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  private resolveDone!: (r: LoadResult) => void;
  private rejectDone!: (e: unknown) => void;

  constructor(config: WorkerLoadConfig) {
    const { keepRecords, payloadOptions, batchMs, batchMax, threadNice, ...rest } = config;
    // Same validation (and messages) as the in-process driver, before a thread is started.
    new BuiltinLoadDriver({ ...rest, payload: () => ({}) });
    this.init = {
      config: rest,
      seed: config.seed ?? 1,
      payloadOptions,
      clock: clockAnchor(),
      batchMs: batchMs ?? 20,
      batchMax: batchMax ?? 256,
      threadNice,
    };
    this.keepRecords = keepRecords === true;
    this.records = this.keepRecords ? [] : undefined;
    this.done = new Promise<LoadResult>((res, rej) => {
      this.resolveDone = res;
      this.rejectDone = rej;
    });
    this.done.catch(() => {});
  }

  onRecord(cb: RecordListener): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  setTransformSpec(id: string, spec: TransformSpec | undefined): Promise<number | undefined> {
    // After the run there is no load to transform (a revert after the load ended must not wait).
    if (this.settled) return Promise.resolve(undefined);
    const seq = ++this.transformSeq;
    const ack = new Promise<number | undefined>((resolve) => this.pendingTransforms.set(seq, resolve));
    // Structured clone of plain data; sent in order with start/stop, so installs apply in call order.
    this.send({ type: 'transform', id, seq, spec });
    return ack;
  }

  firstChange(id: string): Promise<FirstChange | undefined> {
    return this.firstChanges.wait(id);
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('load driver already started');
    this.started = true;
    if (this.stopping) return;
    const w = new Worker(WORKER, {
      workerData: this.init,
      resourceLimits: { maxYoungGenerationSizeMb: GENERATOR_YOUNG_GENERATION_MB },
    });
    this.worker = w;
    w.on('message', (m: FromWorker) => this.onMessage(m));
    w.on('error', (e) => this.fail(e));
    w.on('messageerror', (e) => this.fail(e));
    w.on('exit', (code) => {
      if (!this.settled) this.fail(new Error(`load worker exited (code ${code}) before the run ended`));
    });
    for (const m of this.queued.splice(0)) w.postMessage(m);
    const started = new Promise<void>((resolve, reject) => {
      this.startWaiter = { resolve, reject };
    });
    w.postMessage({ type: 'start' } satisfies ToWorker);
    await started;
  }

  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      if (this.worker) this.worker.postMessage({ type: 'stop' } satisfies ToWorker);
      else this.finishEmpty();
    }
    await this.done.catch(() => {});
  }

  private send(m: ToWorker): void {
    if (this.worker) this.worker.postMessage(m);
    else this.queued.push(m);
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'started':
        this.threadNice = m.nice;
        this.startWaiter?.resolve();
        this.startWaiter = undefined;
        return;
      case 'records':
        for (const r of m.records) this.deliver(r);
        return;
      case 'transform':
        this.pendingTransforms.get(m.seq)?.(m.startMs);
        this.pendingTransforms.delete(m.seq);
        return;
      case 'first-change':
        this.firstChanges.report(m.change);
        return;
      case 'done':
        this.settle(() => {
          if (this.listenerError !== undefined) this.rejectDone(this.listenerError);
          else
            this.resolveDone({
              ...m.result,
              latencyHistogram: this.latency,
              schedulingLagHistogram: this.lag,
              records: this.records,
            });
        });
        return;
      case 'error': {
        const e = new Error(m.message);
        if (m.stack) e.stack = m.stack;
        this.fail(e);
        return;
      }
    }
  }

  private deliver(r: RequestRecord): void {
    if (r.latencyMs !== null) this.latency.recordValue(toMicros(r.latencyMs));
    if (r.tSent !== null) this.lag.recordValue(toMicros(r.tSent - r.tIntended));
    this.records?.push(r);
    for (const cb of this.listeners) {
      try {
        cb(r);
      } catch (err) {
        // As in-process: a failing consumer (e.g. the journal) stops the run and fails `done`.
        this.listenerError ??= err;
        if (!this.stopping) void this.stop();
      }
    }
  }

  private fail(e: unknown): void {
    this.startWaiter?.reject(e);
    this.startWaiter = undefined;
    this.settle(() => this.rejectDone(e));
  }

  private settle(fn: () => void): void {
    if (this.settled) return;
    this.settled = true;
    for (const resolve of this.pendingTransforms.values()) resolve(undefined);
    this.pendingTransforms.clear();
    this.firstChanges.close();
    fn();
    void this.worker?.terminate();
  }

  private finishEmpty(): void {
    const t = nowMs();
    const empty = { count: 0, p50: null, p90: null, p95: null, p99: null, p999: null, max: null, mean: null };
    this.settle(() =>
      this.resolveDone({
        startedAt: t,
        endedAt: t,
        requests: 0,
        ok: 0,
        errors: 0,
        timeouts: 0,
        dropped: 0,
        latency: empty,
        schedulingLag: empty,
        latencyHistogram: this.latency,
        schedulingLagHistogram: this.lag,
        records: this.records,
        stoppedEarly: false,
      }),
    );
  }
}

export function createWorkerDriver(config: WorkerLoadConfig): WorkerLoadDriver {
  return new WorkerLoadDriver(config);
}

/**
 * Nice value of the generator's thread. The generator is the instrument: it needs a fraction of a
 * core, and when the pipeline saturates the CPU a thread at the same priority waits its turn and
 * sends late. -5 by default (needs CAP_SYS_NICE; otherwise the thread keeps the process's priority,
 * journaled in load.start); FAULTLINE_GENERATOR_NICE overrides (0: same as the harness).
 */
export function generatorNiceFromEnv(): number | undefined {
  const v = process.env.FAULTLINE_GENERATOR_NICE;
  if (v === undefined || v.trim() === '') return DEFAULT_GENERATOR_NICE;
  const n = Number(v);
  return Number.isInteger(n) && n >= -20 && n <= 19 ? n : DEFAULT_GENERATOR_NICE;
}
