// Load steps with the built-in open-model generator (run in a worker thread), rate ladders, and
// benchmark 4: the generator's own overhead against a trivial local server.
import { Worker } from 'node:worker_threads';
import type { LatencySummaryMs } from '../src/load/driver.ts';
import { describeMachine, log, type MachineDelta, machineMeter, sleep, startTrivialServer } from './lib.ts';

export interface LoadJob {
  url: string;
  rate: number;
  durationMs: number;
  seed: number;
  maxInFlight: number;
  connections: number;
  timeoutMs: number;
}

export interface LoadStepResult {
  url: string;
  rate: number;
  durationMs: number;
  requests: number;
  sent: number;
  ok: number;
  errors: number;
  timeouts: number;
  dropped: number;
  achievedRate: number;
  latency: LatencySummaryMs;
  lag: LatencySummaryMs;
  fallback: Record<string, number>;
  fallbackTotal: number;
  errorKinds: Record<string, number>;
  upstreams: Record<string, number>;
  /** CPU time of the generator's thread (user + system). */
  cpuMs: number;
  wallMs: number;
  eventLoopUtilization: number;
}

export const LOAD_DEFAULTS = { seed: 7, maxInFlight: 500, connections: 64, timeoutMs: 2000 };

export function runLoad(
  job: Partial<LoadJob> & Pick<LoadJob, 'url' | 'rate' | 'durationMs'>,
): Promise<LoadStepResult> {
  const full: LoadJob = { ...LOAD_DEFAULTS, ...job };
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./load-worker.ts', import.meta.url), { workerData: full });
    let result: LoadStepResult | undefined;
    // The driver bounds itself (duration + request timeout); this only guards against a hung worker.
    const guard = setTimeout(() => void w.terminate(), full.durationMs + full.timeoutMs + 20_000);
    w.once('message', (m: LoadStepResult) => {
      result = m;
    });
    w.once('error', (e) => {
      clearTimeout(guard);
      reject(e);
    });
    w.once('exit', (code) => {
      clearTimeout(guard);
      if (result) resolve(result);
      else reject(new Error(`load worker exited with code ${code} without a result`));
    });
  });
}

/** The SLO a step must meet to count as sustained. */
export interface StepBudget {
  p99Ms: number;
}

export function sustained(s: LoadStepResult, b: StepBudget): boolean {
  return (
    s.errors === 0 &&
    s.timeouts === 0 &&
    s.dropped === 0 &&
    s.latency.p99 !== null &&
    s.latency.p99 <= b.p99Ms &&
    s.achievedRate >= 0.95 * s.rate
  );
}

export interface LadderTarget {
  name: string;
  url: string;
}

export interface LadderStep {
  target: string;
  rate: number;
  pass: boolean;
  result: LoadStepResult;
  /** What the whole machine did during the step: tells a stall of the target from one of the VM. */
  machine?: MachineDelta | null;
}

/**
 * Steps the offered rate up for several targets, interleaved rate by rate so every target sees the
 * same machine conditions. A target drops out after `stopAfterFailures` consecutive failed steps.
 */
export async function interleavedLadder(opts: {
  targets: LadderTarget[];
  rates: number[];
  durationMs: number;
  budget: StepBudget;
  stopAfterFailures?: number;
  pauseMs?: number;
  /** Extra rates tried only by targets still passing at the end of `rates`. */
  extraRates?: number[];
  onStep?: (s: LadderStep) => void;
  /** Called around each step of a target (e.g. to sample memory and CPU while it runs); the
   *  returned function is called with the step's result when it ends. */
  during?: (target: string, rate: number) => Promise<(r?: LoadStepResult) => Promise<void> | void>;
}): Promise<LadderStep[]> {
  const stopAfter = opts.stopAfterFailures ?? 2;
  const failures = new Map(opts.targets.map((t) => [t.name, 0]));
  const lastPass = new Map(opts.targets.map((t) => [t.name, true]));
  const steps: LadderStep[] = [];
  const rates = [...opts.rates, ...(opts.extraRates ?? [])];
  for (const [i, rate] of rates.entries()) {
    const isExtra = i >= opts.rates.length;
    for (const t of opts.targets) {
      if ((failures.get(t.name) ?? 0) >= stopAfter) continue;
      if (isExtra && !lastPass.get(t.name)) continue;
      const endSampling = await opts.during?.(t.name, rate);
      let result: LoadStepResult | undefined;
      const machine = machineMeter();
      try {
        result = await runLoad({ url: t.url, rate, durationMs: opts.durationMs });
      } finally {
        await endSampling?.(result);
      }
      const pass = sustained(result, opts.budget);
      failures.set(t.name, pass ? 0 : (failures.get(t.name) ?? 0) + 1);
      lastPass.set(t.name, pass);
      const step = { target: t.name, rate, pass, result, machine: machine() };
      steps.push(step);
      opts.onStep?.(step);
      // Let queues from an overloaded step drain before the next one starts.
      await sleep(opts.pauseMs ?? 1000);
    }
  }
  return steps;
}

/**
 * Highest rate R such that this target passed every step at or below R: a pass above a failed
 * step is noise on a shared machine, not capacity.
 */
export function maxSustained(steps: LadderStep[], target: string): number {
  const mine = steps.filter((s) => s.target === target).sort((a, b) => a.rate - b.rate);
  let best = 0;
  for (const s of mine) {
    if (!s.pass) break;
    best = s.rate;
  }
  return best;
}

export function describeStep(s: LadderStep): string {
  const r = s.result;
  return (
    `${s.target.padEnd(9)} ${String(s.rate).padStart(5)}/s → ${r.achievedRate.toFixed(0)}/s ` +
    `p50 ${r.latency.p50 ?? '—'} p99 ${r.latency.p99 ?? '—'} ms, err ${r.errors + r.timeouts}, ` +
    `drop ${r.dropped}, fallback ${r.fallbackTotal}, lag p99 ${r.lag.p99 ?? '—'} ms ${s.pass ? 'PASS' : 'FAIL'}` +
    (s.pass ? '' : ` (${describeMachine(s.machine)})`)
  );
}

export interface GeneratorOverheadRow {
  rate: number;
  achievedRate: number;
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  lagMaxMs: number | null;
  latencyP99Ms: number | null;
  errors: number;
  dropped: number;
  /** Generator thread CPU time / wall time (1.0 = one full core). */
  cpuShare: number;
  /** CPU µs per request sent. */
  cpuUsPerRequest: number;
  eventLoopUtilization: number;
}

/** Benchmark 4: scheduling lag and CPU of the generator itself at fixed rates, trivial target. */
export async function benchGeneratorOverhead(opts: { rates: number[]; durationMs: number; repeats: number }) {
  const server = await startTrivialServer();
  const rows: GeneratorOverheadRow[] = [];
  try {
    // Warm the JIT and the connection pool path once before measuring.
    await runLoad({ url: server.url, rate: 500, durationMs: Math.min(2000, opts.durationMs) });
    for (const rate of opts.rates) {
      const reps: GeneratorOverheadRow[] = [];
      for (let i = 0; i < opts.repeats; i++) {
        const r = await runLoad({ url: server.url, rate, durationMs: opts.durationMs });
        reps.push({
          rate,
          achievedRate: r.achievedRate,
          lagP50Ms: r.lag.p50,
          lagP99Ms: r.lag.p99,
          lagMaxMs: r.lag.max,
          latencyP99Ms: r.latency.p99,
          errors: r.errors + r.timeouts,
          dropped: r.dropped,
          cpuShare: r.cpuMs / r.wallMs,
          cpuUsPerRequest: r.sent ? (r.cpuMs * 1000) / r.sent : 0,
          eventLoopUtilization: r.eventLoopUtilization,
        });
        log(
          `generator ${rate}/s rep ${i + 1}: lag p99 ${r.lag.p99} ms, cpu ${((100 * r.cpuMs) / r.wallMs).toFixed(1)}% of a core`,
        );
        await sleep(300);
      }
      // Median repeat by lag p99 (keeps one row's fields consistent).
      reps.sort((a, b) => (a.lagP99Ms ?? Infinity) - (b.lagP99Ms ?? Infinity));
      rows.push(reps[(reps.length - 1) >> 1]);
    }
  } finally {
    await server.close();
  }
  return { rows, durationMs: opts.durationMs, repeats: opts.repeats };
}
