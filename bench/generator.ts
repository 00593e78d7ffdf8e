// Load steps with the built-in open-model generator (run in a worker thread), rate ladders, and
// benchmark 4: the generator's own overhead against a trivial local server.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { readJournal } from '../src/journal/journal.ts';
import type { LatencySummaryMs, RequestRecord } from '../src/load/driver.ts';
import { DEFAULT_GENERATOR_NICE, WorkerLoadDriver } from '../src/load/worker-driver.ts';
import { percentilesOf } from '../src/stats/hdr.ts';
import {
  describeMachine,
  log,
  type MachineDelta,
  machineMeter,
  median,
  procCpuMs,
  sleep,
  startTrivialServer,
} from './lib.ts';
import { haveWrk, runWrk, type WrkResult, writeWrkScript } from './wrk.ts';

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

// ── Issue 9: the generator as scenario runs use it (WorkerLoadDriver), side by side with wrk ──

/** CPU (ms) of this process's reaped children (cutime + cstime of /proc/self/stat): wrk's, once it exited. */
function childrenCpuMs(): number | null {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
  } catch {
    return null;
  }
}

export interface CapacityRow {
  rate: number;
  /** Lag p99 and verdict of every repeat at this rate (the row itself is the median repeat). */
  lagP99EachMs?: (number | null)[];
  sustainedEach?: boolean[];
  achievedRate: number;
  requests: number;
  errors: number;
  dropped: number;
  /** Lag after the worker's first second (a new thread: JIT, connections opening), as a scenario's warm-up excludes. */
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  lagMaxMs: number | null;
  /** Lag over the whole step, first second included. */
  lagP99WholeMs: number | null;
  latencyP99Ms: number | null;
  /** CPU of the whole generator process (worker + main thread receiving records) per request sent. */
  cpuUsPerRequest: number;
  /** Share of one core the generator process used. */
  cpuShare: number;
  serverCpuUsPerRequest: number | null;
  sustained: boolean;
}

/**
 * One generator process (the WorkerLoadDriver scenario runs use: BuiltinLoadDriver + undici in a
 * worker thread, records posted to the main thread) at fixed offered rates against the trivial
 * loopback server, then wrk (closed model, as fast as it can) against the same server.
 */
export async function benchGeneratorCapacity(opts: {
  rates: number[];
  durationMs: number;
  lagBudgetMs: number;
  /** Steps per rate; the row reported is the one with the median lag p99 (default 3). */
  repeats?: number;
  wrkDurationS: number;
  wrkConnections: number;
  resultsDir: string;
}) {
  const server = await startTrivialServer();
  const rows: CapacityRow[] = [];
  let wrk: (WrkResult & { cpuUsPerRequest: number | null; serverCpuUsPerRequest: number | null }) | undefined;
  let wrkSkipped: string | undefined;
  try {
    const step = async (rate: number, durationMs: number): Promise<CapacityRow> => {
      // maxInFlight as a scenario run has it by default (DEFAULTS.maxInFlight), so a stall of the shared
      // machine shows as lag and latency rather than as drops.
      const d = new WorkerLoadDriver({
        // As a scenario run has it: the runner's thread priority and maxInFlight.
        threadNice: DEFAULT_GENERATOR_NICE,
        url: server.url,
        rate,
        durationMs,
        seed: LOAD_DEFAULTS.seed,
        maxInFlight: 1000,
      });
      let sent = 0;
      const intended: number[] = [];
      const lags: number[] = [];
      d.onRecord((r) => {
        if (r.tSent === null) return;
        sent++;
        intended.push(r.tIntended);
        lags.push(r.tSent - r.tIntended);
      });
      const cpu0 = process.cpuUsage();
      const srv0 = procCpuMs(server.pid);
      const wall0 = performance.now();
      await d.start();
      const r = await d.done;
      const wallMs = performance.now() - wall0;
      const cpu = process.cpuUsage(cpu0);
      const srv1 = procCpuMs(server.pid);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const achievedRate = sent / (Math.max(durationMs, r.endedAt - r.startedAt) / 1000);
      const steady = lags.filter((_, i) => intended[i] >= r.startedAt + 1000);
      const [p50, p99] = percentilesOf(steady, [50, 99]);
      const row: CapacityRow = {
        rate,
        achievedRate,
        requests: r.requests,
        errors: r.errors + r.timeouts,
        dropped: r.dropped,
        lagP50Ms: p50,
        lagP99Ms: p99,
        lagMaxMs: steady.length ? Math.max(...steady) : null,
        lagP99WholeMs: r.schedulingLag.p99,
        latencyP99Ms: r.latency.p99,
        cpuUsPerRequest: sent ? (cpuMs * 1000) / sent : 0,
        cpuShare: cpuMs / wallMs,
        serverCpuUsPerRequest: srv0 !== null && srv1 !== null && sent ? ((srv1 - srv0) * 1000) / sent : null,
        sustained: false,
      };
      row.sustained =
        row.errors === 0 &&
        row.dropped === 0 &&
        achievedRate >= 0.95 * rate &&
        (row.lagP99Ms ?? Number.POSITIVE_INFINITY) <= opts.lagBudgetMs;
      return row;
    };
    await step(1000, 1500); // JIT and connection pool warm-up, not reported
    for (const rate of opts.rates) {
      // Like every fixed-rate figure here, the median of repeats: a single 5 s step on this shared VM
      // can catch one 10–25 ms stall of the machine at any rate.
      const reps: CapacityRow[] = [];
      for (let i = 0; i < (opts.repeats ?? 3); i++) {
        reps.push(await step(rate, opts.durationMs));
        await sleep(300);
      }
      const byLag = [...reps].sort(
        (a, b) => (a.lagP99Ms ?? Number.POSITIVE_INFINITY) - (b.lagP99Ms ?? Number.POSITIVE_INFINITY),
      );
      const row: CapacityRow = {
        ...byLag[Math.floor((byLag.length - 1) / 2)],
        lagP99EachMs: reps.map((r) => r.lagP99Ms),
        sustainedEach: reps.map((r) => r.sustained),
      };
      rows.push(row);
      log(
        `generator (worker driver) ${rate}/s → ${row.achievedRate.toFixed(0)}/s, lag p99 ${row.lagP99Ms} max ${row.lagMaxMs?.toFixed(1)} ms, ` +
          `err ${row.errors} drop ${row.dropped}, ${row.cpuUsPerRequest.toFixed(0)} µs CPU/req (${(100 * row.cpuShare).toFixed(0)}% of a core) ${row.sustained ? 'SUSTAINED' : 'not sustained'}`,
      );
      await sleep(500);
    }
    if (opts.wrkDurationS <= 0) wrkSkipped = 'disabled (--no-wrk)';
    else if (!haveWrk()) wrkSkipped = 'wrk not installed (apt-get install wrk)';
    else {
      const script = path.join(opts.resultsDir, 'wrk-post.lua');
      await writeWrkScript(script, LOAD_DEFAULTS.seed);
      const c0 = childrenCpuMs();
      const srv0 = procCpuMs(server.pid);
      const w = await runWrk({
        url: server.url,
        script,
        connections: opts.wrkConnections,
        durationS: opts.wrkDurationS,
      });
      const c1 = childrenCpuMs();
      const srv1 = procCpuMs(server.pid);
      wrk = {
        ...w,
        cpuUsPerRequest: c0 !== null && c1 !== null && w.requests ? ((c1 - c0) * 1000) / w.requests : null,
        serverCpuUsPerRequest:
          srv0 !== null && srv1 !== null && w.requests ? ((srv1 - srv0) * 1000) / w.requests : null,
      };
      log(
        `wrk -c${opts.wrkConnections} against the same server: ${w.rps.toFixed(0)} req/s, p99 ${w.p99Ms} ms`,
      );
    }
  } finally {
    await server.close();
  }
  // As maxSustained(): the highest rate with every step at or below it sustained (a pass above a
  // failed step is noise on a shared machine, not capacity).
  let maxSustainedRate = 0;
  for (const r of [...rows].sort((a, b) => a.rate - b.rate)) {
    if (!r.sustained) break;
    maxSustainedRate = r.rate;
  }
  return {
    rows,
    lagBudgetMs: opts.lagBudgetMs,
    maxSustainedRate,
    wrk,
    wrkSkipped,
  };
}

/**
 * The generator's lag in a real scenario run: the CLI runs bench/scenarios/generator-lag.yaml
 * (2000 req/s, a latency fault so a fault proxy relays in the harness process, 1 s scrapes, every
 * request journaled) against the local pipeline; the lag is read back from the journal's records.
 */
export async function benchScenarioLag(opts: {
  scenario: string;
  budgetMs: number;
  nices: (number | undefined)[];
}) {
  const runs: Awaited<ReturnType<typeof scenarioLagRun>>[] = [];
  for (const nice of opts.nices) {
    const r = await scenarioLagRun({ ...opts, nice });
    log(
      `scenario at ${r.rate}/s, generator nice ${r.threadNice}: lag p50 ${r.lagP50Ms} p99 ${r.lagP99Ms} max ${r.lagMaxMs?.toFixed(1)} ms (${r.verdict}${r.reason ? `: ${r.reason}` : ''})`,
    );
    runs.push(r);
    await sleep(2000);
  }
  return { runs, budgetMs: opts.budgetMs };
}

async function scenarioLagRun(opts: { scenario: string; budgetMs: number; nice: number | undefined }) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-lag-'));
  const reportDir = path.join(home, 'report');
  const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const machine = machineMeter();
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [main, 'run', opts.scenario, '--report-dir', reportDir, '--quiet'],
        {
          env: {
            ...process.env,
            FAULTLINE_HOME: home,
            LOG_LEVEL: 'warn',
            // undefined: the runner's default
            FAULTLINE_GENERATOR_NICE: opts.nice === undefined ? '' : String(opts.nice),
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    });
    const report = JSON.parse(fs.readFileSync(path.join(reportDir, 'report.json'), 'utf8')) as {
      scenarios: {
        verdict: string;
        reason?: string;
        journal: string;
        phases: { whole: { from: number; to: number } };
        load: { rate: number };
        harness?: Record<string, number | boolean>;
      }[];
    };
    const s = report.scenarios[0];
    const entries = readJournal(path.join(reportDir, s.journal));
    // After warm-up (the worker's JIT), over the whole measured part of the run.
    const recs = entries
      .filter((e) => e.type === 'request')
      .map((e) => e.r as RequestRecord)
      .filter((r) => r.tIntended >= s.phases.whole.from);
    const lags = recs.filter((r) => r.tSent !== null).map((r) => r.tSent! - r.tIntended);
    const [p50, p99, p999] = percentilesOf(lags, [50, 99, 99.9]);
    const perSecond = entries.filter((e) => e.type === 'load.lag').map((e) => Number(e.p99Ms));
    const spanS = (s.phases.whole.to - s.phases.whole.from) / 1000;
    const loadStart = entries.find((e) => e.type === 'load.start');
    return {
      threadNice: (loadStart?.generator_thread_nice as number | null | undefined) ?? null,
      exitCode: code,
      verdict: s.verdict,
      reason: s.reason,
      rate: s.load.rate,
      requests: recs.length,
      sent: lags.length,
      dropped: recs.filter((r) => r.outcome === 'dropped').length,
      errors: recs.filter((r) => r.outcome === 'error' || r.outcome === 'timeout').length,
      achievedRate: lags.length / spanS,
      lagP50Ms: p50,
      lagP99Ms: p99,
      lagP999Ms: p999,
      lagMaxMs: lags.length ? Math.max(...lags) : null,
      perSecondP99Median: median(perSecond),
      perSecondP99Max: perSecond.length ? Math.max(...perSecond) : null,
      harnessLoopDelayP99Ms: (s.harness?.loopDelayP99Ms as number | undefined) ?? null,
      harnessLoopDelayMaxMs: (s.harness?.loopDelayMaxMs as number | undefined) ?? null,
      budgetMs: opts.budgetMs,
      met: p99 !== null && p99 <= opts.budgetMs,
      machine: machine(),
    };
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}
