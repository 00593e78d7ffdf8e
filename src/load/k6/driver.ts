// The k6 load driver: runs the user's k6 (binary.ts) on a script — the one `faultline export k6`
// writes for the scenario, or the scenario's own `load.script` — with `--out json=<file>`, tails that
// file while k6 writes it and turns its points into the built-in driver's RequestRecords
// (ingest.ts), so checks, MTTR and the report work unchanged. Same LoadDriver interface as the
// worker driver. k6's exit code is reported through `events` (99 = its thresholds were crossed:
// journaled, Faultline's verdict stays its own); any other failure of k6 fails `done`.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Histogram } from '../../stats/hdr.ts';
import { newLatencyHistogram, percentileMs, toMicros } from '../../stats/hdr.ts';
import { nowMs } from '../clock.ts';
import type { FirstChange, TransformSpec } from '../drift-transform.ts';
import type { LatencySummaryMs, LoadDriver, LoadResult, RecordListener, RequestRecord } from '../driver.ts';
import type { ArrivalSchedule } from '../schedule.ts';
import { findK6, k6ExitMeaning } from './binary.ts';
import { K6Ingest, type K6IngestStats, type K6Source } from './ingest.ts';

export interface K6DriverConfig {
  /** Gateway base URL, handed to the script as FAULTLINE_URL. */
  url: string;
  /** The k6 script to run. */
  script: string;
  /** `faultline`: a script Faultline exported (faultline_request samples); `http`: any other script. */
  source: K6Source;
  /** Where k6's JSON output and log go. */
  workDir: string;
  /** The k6 binary (default: findK6(), i.e. K6_BIN or PATH). */
  k6Bin?: string;
  /** How often the output file is read (default 50 ms; k6 itself flushes every 200 ms). */
  pollMs?: number;
  /** Longest to wait for k6 to exit after SIGINT before SIGKILL (default 10 s). */
  stopTimeoutMs?: number;
  keepRecords?: boolean;
  /** The load's arrival schedule: with `faultline` records it gives k6's exact start (scheduleStart). */
  schedule?: ArrivalSchedule;
  /** Journal hook: the runner writes these entries (k6 command, exit code, ingestion stats). */
  events?: (type: string, data: Record<string, unknown>) => void;
  env?: NodeJS.ProcessEnv;
}

export class K6LoadDriver implements LoadDriver {
  readonly done: Promise<LoadResult>;
  /** A k6 process has no generator thread of Faultline's (journaled as null, like a non-Linux host). */
  readonly threadNice: number | null = null;
  /** k6's exit code once it exited. */
  exitCode: number | null | undefined;
  readonly outputFile: string;
  private readonly cfg: K6DriverConfig;
  private readonly bin: string;
  private readonly listeners = new Set<RecordListener>();
  private readonly records: RequestRecord[] | undefined;
  private readonly latency = newLatencyHistogram();
  private readonly lag = newLatencyHistogram();
  private latencySum = 0;
  private latencyMax = 0;
  private lagSum = 0;
  private lagMax = 0;
  private readonly counts = { requests: 0, ok: 0, errors: 0, timeouts: 0, dropped: 0 };
  private readonly ingest: K6Ingest;
  private child: ChildProcess | undefined;
  private fd: number | undefined;
  private offset = 0;
  private readonly decoder = new TextDecoder();
  private poller: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;
  private settled = false;
  private startedAt: number | undefined;
  private firstRecordWaiter: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  private listenerError: unknown;
  private stderrTail: string[] = [];
  private resolveDone!: (r: LoadResult) => void;
  private rejectDone!: (e: unknown) => void;

  constructor(config: K6DriverConfig) {
    this.cfg = config;
    // Fails here (K6NotFoundError) rather than half-way into a run.
    this.bin = config.k6Bin ?? findK6(config.env);
    if (!fs.existsSync(config.script)) throw new Error(`k6 script not found: ${config.script}`);
    new URL(config.url);
    this.outputFile = path.join(config.workDir, 'k6.json');
    this.records = config.keepRecords ? [] : undefined;
    this.ingest = new K6Ingest({ source: config.source, onRecord: (r) => this.deliver(r) });
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

  /** Drift is refused at validation for driver k6 (a k6 process cannot be handed a transform mid-run). */
  async setTransformSpec(_id: string, spec: TransformSpec | undefined): Promise<number | undefined> {
    if (spec === undefined) return undefined;
    throw new Error('the k6 driver cannot change payloads mid-run (drift needs driver: builtin)');
  }

  async firstChange(_id: string): Promise<FirstChange | undefined> {
    return undefined;
  }

  /**
   * When k6's schedule started (epoch ms), once a record arrived. The runner's own load start is when
   * start() returned, i.e. after k6's first record reached the file (a few hundred ms later).
   */
  get scheduleStart(): number | undefined {
    return this.startedAt;
  }

  get ingestStats(): K6IngestStats {
    return this.ingest.stats;
  }

  /** Starts k6; resolves once its first request record arrived (the load is running). */
  async start(): Promise<void> {
    if (this.started) throw new Error('load driver already started');
    this.started = true;
    if (this.stopping) return;
    fs.mkdirSync(this.cfg.workDir, { recursive: true });
    fs.rmSync(this.outputFile, { force: true });
    const args = [
      'run',
      '--no-color',
      '--out',
      `json=${this.outputFile}`,
      '-e',
      `FAULTLINE_URL=${this.cfg.url}`,
      this.cfg.script,
    ];
    const log = fs.openSync(path.join(this.cfg.workDir, 'k6.log'), 'w');
    const child = spawn(this.bin, args, {
      cwd: path.dirname(this.cfg.script),
      env: { ...(this.cfg.env ?? process.env), K6_NO_USAGE_REPORT: 'true' },
      stdio: ['ignore', log, 'pipe'],
    });
    fs.closeSync(log);
    this.child = child;
    this.cfg.events?.('load.k6.start', {
      bin: this.bin,
      args,
      pid: child.pid ?? null,
      source: this.cfg.source,
    });
    child.stderr?.on('data', (d: Buffer) => {
      fs.appendFileSync(path.join(this.cfg.workDir, 'k6.log'), d);
      this.stderrTail = [...this.stderrTail, ...d.toString('utf8').split('\n').filter(Boolean)].slice(-5);
    });
    child.once('error', (e) => this.fail(new Error(`k6 could not be started (${this.bin}): ${e.message}`)));
    child.once('exit', (code, signal) => void this.onExit(code, signal));
    this.poll();
    await new Promise<void>((resolve, reject) => {
      this.firstRecordWaiter = { resolve, reject };
    });
  }

  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      const child = this.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) {
        if (!child) this.finish(null, null);
      } else {
        // k6 stops gracefully on SIGINT (in-flight iterations end, output is flushed).
        child.kill('SIGINT');
        const kill = setTimeout(() => child.kill('SIGKILL'), this.cfg.stopTimeoutMs ?? 10_000);
        child.once('exit', () => clearTimeout(kill));
      }
    }
    await this.done.catch(() => {});
  }

  private readonly poll = (): void => {
    this.poller = undefined;
    this.readNew();
    if (!this.settled) this.poller = setTimeout(this.poll, this.cfg.pollMs ?? 50);
  };

  /** Reads what k6 appended since the last read (any size: the parser keeps a partial last line). */
  private readNew(): void {
    if (this.fd === undefined) {
      try {
        this.fd = fs.openSync(this.outputFile, 'r');
      } catch {
        return; // k6 has not created it yet
      }
    }
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(this.fd, buf, 0, buf.length, this.offset);
      if (n <= 0) break;
      this.offset += n;
      // stream: true keeps a multi-byte character split across reads intact.
      this.ingest.push(this.decoder.decode(buf.subarray(0, n), { stream: true }));
    }
  }

  private deliver(r: RequestRecord): void {
    const c = this.counts;
    c.requests++;
    if (r.outcome === 'ok') c.ok++;
    else if (r.outcome === 'dropped') c.dropped++;
    else if (r.outcome === 'timeout') c.timeouts++;
    else c.errors++;
    if (r.latencyMs !== null) {
      this.latency.recordValue(toMicros(r.latencyMs));
      this.latencySum += r.latencyMs;
      this.latencyMax = Math.max(this.latencyMax, r.latencyMs);
    }
    if (r.tSent !== null) {
      const lag = Math.max(0, r.tSent - r.tIntended);
      this.lag.recordValue(toMicros(lag));
      this.lagSum += lag;
      this.lagMax = Math.max(this.lagMax, lag);
    }
    // Where k6's schedule started: exact from any record of Faultline's script (intended time minus
    // its arrival offset), else the earliest intended time seen.
    const offset =
      this.cfg.source === 'faultline' && r.seq >= 0 ? this.cfg.schedule?.offset(r.seq) : undefined;
    const start = offset === undefined ? r.tIntended : r.tIntended - offset;
    this.startedAt = Math.min(this.startedAt ?? start, start);
    this.records?.push(r);
    if (this.firstRecordWaiter) {
      this.firstRecordWaiter.resolve();
      this.firstRecordWaiter = undefined;
    }
    for (const cb of this.listeners) {
      try {
        cb(r);
      } catch (err) {
        // As the other drivers: a failing consumer (e.g. the journal) stops the run and fails `done`.
        this.listenerError ??= err;
        if (!this.stopping) void this.stop();
      }
    }
  }

  private async onExit(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    this.exitCode = code;
    // Everything k6 flushed before exiting is in the file now: read it to the end.
    this.readNew();
    this.ingest.end();
    this.cfg.events?.('load.k6.exit', {
      code,
      signal,
      meaning: k6ExitMeaning(code),
      thresholds_crossed: code === 99,
      stopped_by_faultline: this.stopping,
      ingest: this.ingest.stats,
    });
    this.finish(code, signal);
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): void {
    // 0 and 99 (thresholds) are runs that completed; after our SIGINT any exit is the stop we asked for.
    const completed = code === 0 || code === 99 || this.stopping || !this.child;
    if (!completed) {
      const tail = this.stderrTail.length ? `: ${this.stderrTail.join(' | ')}` : '';
      this.fail(
        new Error(
          `k6 exited with ${code ?? signal} (${k6ExitMeaning(code)}) before the load ended${tail} (see k6.log)`,
        ),
      );
      return;
    }
    if (this.firstRecordWaiter) {
      if (this.stopping) {
        // Stopped before the first request: start() returns, `done` holds an empty run.
        this.firstRecordWaiter.resolve();
        this.firstRecordWaiter = undefined;
      } else {
        // k6 ended without a single request: nothing to measure.
        this.fail(new Error(`k6 exited (${k6ExitMeaning(code)}) without sending a request (see k6.log)`));
        return;
      }
    }
    this.settle(() => {
      if (this.listenerError !== undefined) {
        this.rejectDone(this.listenerError);
        return;
      }
      const end = nowMs();
      this.resolveDone({
        startedAt: this.startedAt ?? end,
        endedAt: end,
        ...this.counts,
        latency: summary(this.latency, this.latencySum, this.latencyMax),
        schedulingLag: summary(this.lag, this.lagSum, this.lagMax),
        latencyHistogram: this.latency,
        schedulingLagHistogram: this.lag,
        records: this.records,
        stoppedEarly: this.stopping && this.started,
      });
    });
  }

  private fail(e: unknown): void {
    this.firstRecordWaiter?.reject(e);
    this.firstRecordWaiter = undefined;
    if (this.child && this.child.exitCode === null && this.child.signalCode === null)
      this.child.kill('SIGKILL');
    this.settle(() => this.rejectDone(e));
  }

  private settle(fn: () => void): void {
    if (this.settled) return;
    this.settled = true;
    if (this.poller) clearTimeout(this.poller);
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    fn();
  }
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
