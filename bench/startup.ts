// Benchmark 2: cold start-to-ready of the whole local pipeline (fresh state dir each time, so the
// trainer bootstraps models and features from scratch), broken down by phase from the service logs.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalPlatform } from '../src/platforms/local/local-platform.ts';
import { log, median, sleep } from './lib.ts';

export interface StartupPhases {
  /** start() called → registry and feature-server both logged `listening`. */
  infraMs: number;
  /** → the bootstrap trainer finished (it starts with the infrastructure and waits for it; the
   *  serving replicas boot meanwhile): the critical path of a cold start. */
  trainerMs: number;
  /** The trainer's own reported work (`trainer finished` duration_ms, from its `trainer started`). */
  trainerWorkMs: number | null;
  /** → start() returned (replicas load the new champion, readiness). */
  servingMs: number;
  /** Median over replicas of model-server spawn → `listening` (Node boot + imports, overlapping the trainer). */
  modelServerBootMs: number | null;
  /** Median over replicas of trainer finished → last `model loaded`. */
  modelLoadMs: number | null;
}

export interface StartupRun {
  totalMs: number;
  stopMs: number;
  phases: StartupPhases | null;
}

interface LogLine {
  time?: string;
  msg?: string;
  duration_ms?: number;
}

function readLog(file: string): LogLine[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as LogLine];
      } catch {
        return [];
      }
    });
}

const at = (lines: LogLine[], msg: string, which: 'first' | 'last' = 'first'): number | null => {
  const hits = lines.filter((l) => l.msg === msg && l.time);
  const h = which === 'first' ? hits[0] : hits[hits.length - 1];
  return h ? Date.parse(h.time!) : null;
};

function phasesFromLogs(
  stateDir: string,
  t0: number,
  tReady: number,
  spawned: Map<string, number>,
): StartupPhases | null {
  const L = (n: string) => readLog(path.join(stateDir, 'logs', `${n}.log`));
  const regUp = at(L('registry'), 'listening');
  const fsUp = at(L('feature-server'), 'listening');
  const ms0 = spawned.get('model-server-0');
  if (regUp === null || fsUp === null || ms0 === undefined) return null;
  const infraEnd = Math.max(regUp, fsUp);
  const trainer = L('trainer');
  const finished = trainer.find((l) => l.msg === 'trainer finished');
  const trainerEnd = finished?.time ? Date.parse(finished.time) : null;
  if (trainerEnd === null) return null;
  const boot: number[] = [];
  const load: number[] = [];
  for (const [name, ts] of spawned) {
    if (!name.startsWith('model-server-')) continue;
    const lines = L(name);
    const up = at(lines, 'listening');
    const loaded = at(lines, 'model loaded', 'last');
    if (up !== null) boot.push(up - ts);
    if (loaded !== null) load.push(loaded - trainerEnd);
  }
  return {
    infraMs: infraEnd - t0,
    trainerMs: trainerEnd - infraEnd,
    trainerWorkMs: finished?.duration_ms ?? null,
    servingMs: tReady - trainerEnd,
    modelServerBootMs: median(boot),
    modelLoadMs: median(load),
  };
}

/** Wall time of a bare `node -e 0`: the machine's own process-start cost, for a side-by-side ratio. */
async function nodeBootMs(): Promise<number> {
  const t = performance.now();
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await once(child, 'exit');
  return performance.now() - t;
}

async function oneStart(replicas: number, label: string): Promise<StartupRun> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-start-'));
  const p = new LocalPlatform({ replicas, stateDir });
  const spawned = new Map<string, number>();
  p.onEvent((e) => {
    if (e.type === 'replica-started' && !spawned.has(e.name)) spawned.set(e.name, e.ts_ms);
  });
  const t0 = Date.now();
  const p0 = performance.now();
  let totalMs = 0;
  let tReady = 0;
  let stopMs = 0;
  try {
    await p.start();
    totalMs = performance.now() - p0;
    tReady = Date.now();
  } finally {
    const s0 = performance.now();
    await p.stop();
    stopMs = performance.now() - s0;
  }
  // Read the logs before the state dir goes.
  const phases = phasesFromLogs(stateDir, t0, tReady, spawned);
  fs.rmSync(stateDir, { recursive: true, force: true });
  log(`${label}: ${(totalMs / 1000).toFixed(2)} s (stop ${stopMs.toFixed(0)} ms)`);
  return { totalMs, stopMs, phases };
}

function summarize(runs: StartupRun[]) {
  const med = (f: (r: StartupRun) => number | null | undefined) =>
    median(runs.map(f).filter((x): x is number => typeof x === 'number'));
  return {
    runs,
    medianMs: med((r) => r.totalMs),
    minMs: runs.length ? Math.min(...runs.map((r) => r.totalMs)) : null,
    maxMs: runs.length ? Math.max(...runs.map((r) => r.totalMs)) : null,
    medianStopMs: med((r) => r.stopMs),
    medianPhases: {
      infraMs: med((r) => r.phases?.infraMs),
      trainerMs: med((r) => r.phases?.trainerMs),
      trainerWorkMs: med((r) => r.phases?.trainerWorkMs),
      servingMs: med((r) => r.phases?.servingMs),
      modelServerBootMs: med((r) => r.phases?.modelServerBootMs),
      modelLoadMs: med((r) => r.phases?.modelLoadMs),
    },
  };
}

/**
 * Cold starts as shipped (a fresh pipeline; the compile cache in $FAULTLINE_HOME warm from earlier
 * runs), interleaved with the first start on a machine (an empty compile cache) and with a second
 * start of the same seed (trained models cached), under the same machine conditions.
 */
export async function benchStartup(opts: { repeats: number; replicas?: number; compileCache?: boolean }) {
  const replicas = opts.replicas ?? 2;
  const boots: number[] = [];
  for (let i = 0; i < 5; i++) boots.push(await nodeBootMs());
  const plain: StartupRun[] = [];
  const cached: StartupRun[] = [];
  const trained: StartupRun[] = [];
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-ccache-'));
  const trainerCache = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-trainer-'));
  const saved = process.env.NODE_COMPILE_CACHE;
  const savedTrainer = process.env.FAULTLINE_TRAINER_CACHE;
  const withTrainerCache = async <T>(value: string, fn: () => Promise<T>) => {
    process.env.FAULTLINE_TRAINER_CACHE = value;
    try {
      return await fn();
    } finally {
      if (savedTrainer === undefined) delete process.env.FAULTLINE_TRAINER_CACHE;
      else process.env.FAULTLINE_TRAINER_CACHE = savedTrainer;
    }
  };
  try {
    // Primes the trainer cache: the "trained models cached" series measures a second start.
    await withTrainerCache(trainerCache, () => oneStart(replicas, 'priming the trainer cache'));
    for (let i = 0; i < opts.repeats; i++) {
      // Truly cold: the trainer trains every model (its result cache is off).
      plain.push(
        await withTrainerCache('off', () => oneStart(replicas, `cold start ${i + 1}/${opts.repeats}`)),
      );
      await sleep(500);
      trained.push(
        await withTrainerCache(trainerCache, () =>
          oneStart(replicas, `start with trained models cached ${i + 1}/${opts.repeats}`),
        ),
      );
      await sleep(500);
      if (!opts.compileCache) continue;
      // The first start on a machine: an empty compile cache, so every module is parsed (and its
      // TypeScript stripped) again.
      const empty = fs.mkdtempSync(path.join(cacheDir, 'empty-'));
      process.env.NODE_COMPILE_CACHE = empty;
      try {
        cached.push(
          await withTrainerCache('off', () =>
            oneStart(replicas, `first start on a machine (empty compile cache) ${i + 1}/${opts.repeats}`),
          ),
        );
      } finally {
        if (saved === undefined) delete process.env.NODE_COMPILE_CACHE;
        else process.env.NODE_COMPILE_CACHE = saved;
      }
      await sleep(500);
    }
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
    fs.rmSync(trainerCache, { recursive: true, force: true });
  }
  return {
    repeats: opts.repeats,
    nodeBootMedianMs: median(boots),
    ...summarize(plain),
    compileCache: opts.compileCache ? summarize(cached) : null,
    trainedCached: summarize(trained),
  };
}
