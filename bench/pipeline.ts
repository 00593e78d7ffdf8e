// Benchmark 1 (pipeline throughput through the gateway, side by side with the same pipeline with a
// fault proxy on every link, the generator's loopback ceiling and a wrk cross-check) and
// benchmark 3 (RSS and PSS of every pipeline process).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalPlatform } from '../src/platforms/local/local-platform.ts';
import { SERVICES } from '../src/platforms/platform.ts';
import {
  describeStep,
  interleavedLadder,
  type LadderStep,
  type LoadStepResult,
  maxSustained,
  runLoad,
} from './generator.ts';
import {
  type FloorTopology,
  log,
  procCpuMs,
  pssMiB,
  rssMiB,
  sleep,
  startFloorTopology,
  startTrivialServer,
} from './lib.ts';
import { haveWrk, runWrk, type WrkResult, writeWrkScript } from './wrk.ts';

export interface RssSample {
  totalMiB: number;
  /** Sum of PSS: shared pages (the Node binary, mapped by every process) counted once overall. */
  totalPssMiB: number;
  processes: { name: string; service: string; pid: number; rssMiB: number; pssMiB: number }[];
  /** The harness process itself (hosts the local platform's fault proxies and the load worker). */
  harnessMiB: number;
}

export async function pipelineRss(p: LocalPlatform): Promise<RssSample> {
  const processes: RssSample['processes'] = [];
  for (const service of SERVICES) {
    for (const r of await p.replicas(service)) {
      if (!r.pid) continue;
      const rss = rssMiB(r.pid);
      const pss = pssMiB(r.pid);
      if (rss !== null && pss !== null)
        processes.push({ name: r.name, service, pid: r.pid, rssMiB: rss, pssMiB: pss });
    }
  }
  return {
    totalMiB: processes.reduce((a, b) => a + b.rssMiB, 0),
    totalPssMiB: processes.reduce((a, b) => a + b.pssMiB, 0),
    processes,
    harnessMiB: process.memoryUsage().rss / 2 ** 20,
  };
}

/** Samples RSS once a second until the returned function is called; keeps the peak total. */
export function rssSampler(p: LocalPlatform, into: { peak?: RssSample; label?: string }, label: string) {
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    const s = await pipelineRss(p);
    if (!into.peak || s.totalMiB > into.peak.totalMiB) {
      into.peak = s;
      into.label = label;
    }
  };
  const timer = setInterval(() => void tick(), 1000);
  void sleep(500).then(tick);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

export interface CpuPerRequest {
  rate: number;
  /** Requests answered (ok or error) in the step. */
  answered: number;
  /** CPU µs per answered request, per process group. `fault proxies` is the harness's main thread
   *  (the local platform's TCP proxies), `generator` the load worker thread. */
  usPerRequest: Record<string, number>;
  totalUs: number;
  /** Rate the measured CPU cost would allow with every core at 100% and nothing else running. */
  impliedMaxRateAllCores: number;
}

/** CPU used by every pipeline process and by the harness during one step, per answered request. */
export async function pipelinePids(p: LocalPlatform): Promise<Map<number, string>> {
  const pids = new Map<number, string>();
  for (const service of SERVICES)
    for (const r of await p.replicas(service)) if (r.pid) pids.set(r.pid, service);
  return pids;
}

export function cpuMeter(pids: Map<number, string>, rate: number, into: CpuPerRequest[]) {
  const before = new Map([...pids.keys()].map((pid) => [pid, procCpuMs(pid)]));
  // Main thread only: the proxies (plus this sampler); the generator's worker reports its own.
  const self0 = process.threadCpuUsage();
  return (r?: LoadStepResult) => {
    const self = process.threadCpuUsage(self0);
    if (!r) return;
    const answered = r.sent - r.timeouts;
    if (answered <= 0) return;
    const ms: Record<string, number> = {};
    for (const [pid, service] of pids) {
      const a = before.get(pid);
      const b = procCpuMs(pid);
      if (a == null || b == null) continue; // restarted mid-step: leave it out rather than guess
      ms[service] = (ms[service] ?? 0) + (b - a);
    }
    ms['fault proxies'] = (self.user + self.system) / 1000;
    ms.generator = r.cpuMs;
    const us = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, (1000 * v) / answered]));
    const totalUs = Object.values(us).reduce((a, b) => a + b, 0);
    into.push({
      rate,
      answered,
      usPerRequest: us,
      totalUs,
      impliedMaxRateAllCores: (os.availableParallelism() * 1e6) / totalUs,
    });
  };
}

/** Counters from the services' /metrics that explain a step's latency (retries, timeouts, fallback). */
const COUNTERS = [
  'model_server_feature_fetch_total',
  'model_server_feature_fetch_retries_total',
  'model_server_fallback_total',
  'gateway_retries_total',
  'gateway_retry_budget_exhausted_total',
  'gateway_ejections_total',
];

/** Sums the selected counters over the given services, keyed by name plus outcome/reason label. */
async function scrapeCounters(urls: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const u of urls) {
    let text = '';
    try {
      text = await (await fetch(`${u}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const m = /^([a-z_]+)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!m || !COUNTERS.includes(m[1])) continue;
      const label = /(?:outcome|reason)="([^"]*)"/.exec(m[2] ?? '')?.[1];
      const key = label ? `${m[1]}{${label}}` : m[1];
      out[key] = (out[key] ?? 0) + Number(m[3]);
    }
  }
  return out;
}

function counterDelta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) !== 0) d[k] = v - (a[k] ?? 0);
  return d;
}

export interface PipelineBenchOptions {
  rates: number[];
  /** Tried by the ceiling (and the pipeline) only while still passing at the top of `rates`. */
  extraRates: number[];
  durationMs: number;
  warmupMs: number;
  p99BudgetMs: number;
  throughput: boolean;
  rss: boolean;
  wrkDurationS: number;
  wrkConnections: number;
  /** The throughput goal's rate, run `goalRepeats` more times after the ladder (0: not at all). */
  goalRate: number;
  goalRepeats: number;
  /** Offered rate for the RSS-under-load step when the throughput ladder is not run. */
  rssLoadRate: number;
  resultsDir: string;
}

export async function benchPipeline(o: PipelineBenchOptions) {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-pipeline-'));
  // As the runner starts it for a scenario without network faults: no fault proxy on any link.
  const platform = new LocalPlatform({ replicas: 2, stateDir, faultLinks: [] });
  // Side by side: the same pipeline with a fault proxy on every link (a scenario with network faults
  // proxies only the links it targets, so this is the upper bound of what proxies cost).
  const proxied = o.throughput
    ? new LocalPlatform({
        replicas: 2,
        stateDir: fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-proxied-')),
        faultLinks: 'all',
      })
    : undefined;
  const trivial = await startTrivialServer();
  let floor: FloorTopology | undefined;
  const out: {
    stateDir: string;
    warmup?: Awaited<ReturnType<typeof runLoad>>;
    rssAfterWarmup?: RssSample;
    rssUnderLoad?: RssSample;
    rssUnderLoadDuring?: string;
    /** RSS of the trivial one-file Node HTTP server after the same load: the per-process floor. */
    trivialServerMiB?: number | null;
    /**
     * RSS of the topology floor's processes after its ladder and repeats: an HTTP hop with an undici
     * client and nothing else, so the least a pipeline process with the same shape can hold.
     */
    floorRss?: { role: string; rssMiB: number; pssMiB: number | null }[];
    steps?: LadderStep[];
    /** Idle CPU of every pipeline process after warm-up (ms of CPU per second), and the total. */
    idleCpuMsPerS?: Record<string, number>;
    /** Non-zero counter increases per pipeline step (feature fetch outcomes, retries, fallback). */
    counters?: { rate: number; delta: Record<string, number> }[];
    cpu?: CpuPerRequest[];
    /** The same accounting for the proxied pipeline. */
    proxiedCpu?: CpuPerRequest[];
    /** The same accounting for the topology floor (same hops, trivial handlers: bench/floor-hop.ts). */
    floorCpu?: CpuPerRequest[];
    floorMaxRate?: number;
    /** Repeated steps at the goal rate, pipeline and floor interleaved: the goal's verdict. */
    goalSteps?: LadderStep[];
    proxiedMaxRate?: number;
    /** The same accounting for the ceiling steps (trivial server + generator). */
    ceilingCpu?: CpuPerRequest[];
    pipelineMaxRate?: number;
    ceilingMaxRate?: number;
    wrk?: { pipeline?: WrkResult; ceiling?: WrkResult; skipped?: string };
  } = { stateDir };
  let ok = false;
  try {
    log('pipeline: starting the local platform (2 model-server replicas, no fault proxies)');
    const ep = (await platform.start()).endpoints;
    let proxiedEp: LocalPlatform['endpoints'] | undefined;
    if (proxied) {
      log('pipeline: starting a second one with a fault proxy on every link');
      proxiedEp = (await proxied.start()).endpoints;
      await runLoad({ url: proxiedEp.gateway, rate: 200, durationMs: o.warmupMs });
    }
    log(`pipeline: ready, warming up for ${o.warmupMs} ms at 200/s`);
    out.warmup = await runLoad({ url: ep.gateway, rate: 200, durationMs: o.warmupMs });
    await runLoad({ url: trivial.url, rate: 200, durationMs: Math.min(2000, o.warmupMs) });
    await sleep(1000);
    out.rssAfterWarmup = await pipelineRss(platform);
    {
      // What the pipeline burns with no traffic: timers, scrapes, reload polls.
      const pids = await pipelinePids(platform);
      const before = new Map([...pids.keys()].map((pid) => [pid, procCpuMs(pid)]));
      const t = performance.now();
      await sleep(3000);
      const dt = (performance.now() - t) / 1000;
      const idle: Record<string, number> = {};
      for (const [pid, service] of pids) {
        const a = before.get(pid);
        const b = procCpuMs(pid);
        if (a != null && b != null) idle[service] = (idle[service] ?? 0) + (b - a) / dt;
      }
      idle.total = Object.values(idle).reduce((x, y) => x + y, 0);
      out.idleCpuMsPerS = idle;
    }
    const serviceUrls = [ep.gateway, ...ep.modelServers];
    const counters: { rate: number; delta: Record<string, number> }[] = [];
    const peak: { peak?: RssSample; label?: string } = {};

    if (o.throughput) {
      floor = await startFloorTopology();
      await runLoad({ url: floor.url, rate: 200, durationMs: Math.min(2000, o.warmupMs) });
      const floorPids = floor.pids;
      const cpu: CpuPerRequest[] = [];
      const floorCpu: CpuPerRequest[] = [];
      out.floorCpu = floorCpu;
      const proxiedCpu: CpuPerRequest[] = [];
      const ceilingCpu: CpuPerRequest[] = [];
      out.cpu = cpu;
      out.proxiedCpu = proxiedCpu;
      out.ceilingCpu = ceilingCpu;
      out.steps = await interleavedLadder({
        targets: [
          { name: 'pipeline', url: ep.gateway },
          ...(proxiedEp ? [{ name: 'proxied', url: proxiedEp.gateway }] : []),
          { name: 'floor', url: floor.url },
          { name: 'ceiling', url: trivial.url },
        ],
        rates: o.rates,
        extraRates: o.extraRates,
        durationMs: o.durationMs,
        budget: { p99Ms: o.p99BudgetMs },
        onStep: (s) => log(describeStep(s)),
        during: async (target, rate) => {
          if (target === 'ceiling')
            return cpuMeter(new Map([[trivial.pid, 'trivial server']]), rate, ceilingCpu);
          if (target === 'proxied' && proxied) return cpuMeter(await pipelinePids(proxied), rate, proxiedCpu);
          if (target === 'floor') return cpuMeter(floorPids, rate, floorCpu);
          const stopRss = rssSampler(platform, peak, `${rate}/s`);
          const endCpu = cpuMeter(await pipelinePids(platform), rate, cpu);
          const c0 = await scrapeCounters(serviceUrls);
          return async (r) => {
            stopRss();
            endCpu(r);
            counters.push({ rate, delta: counterDelta(c0, await scrapeCounters(serviceUrls)) });
          };
        },
      });
      out.counters = counters;
      out.pipelineMaxRate = maxSustained(out.steps, 'pipeline');
      if (proxied) out.proxiedMaxRate = maxSustained(out.steps, 'proxied');
      out.floorMaxRate = maxSustained(out.steps, 'floor');
      // One step per rate is one sample of a noisy machine: the goal rate gets repeats.
      out.goalSteps = [];
      for (let i = 0; i < o.goalRepeats; i++) {
        out.goalSteps.push(
          ...(await interleavedLadder({
            targets: [
              { name: 'pipeline', url: ep.gateway },
              { name: 'floor', url: floor.url },
            ],
            rates: [o.goalRate],
            durationMs: o.durationMs,
            budget: { p99Ms: o.p99BudgetMs },
            onStep: (s) => log(`goal repeat ${i + 1}/${o.goalRepeats}: ${describeStep(s)}`),
          })),
        );
      }
      out.ceilingMaxRate = maxSustained(out.steps, 'ceiling');
      out.floorRss = [...floor.pids].flatMap(([pid, role]) => {
        const rss = rssMiB(pid);
        return rss === null ? [] : [{ role, rssMiB: rss, pssMiB: pssMiB(pid) }];
      });

      if (haveWrk() && o.wrkDurationS > 0) {
        const script = path.join(o.resultsDir, 'wrk-post.lua');
        await writeWrkScript(script, 7);
        out.wrk = {};
        const stopSampling = rssSampler(platform, peak, 'wrk (closed model)');
        try {
          out.wrk.pipeline = await runWrk({
            url: ep.gateway,
            script,
            connections: o.wrkConnections,
            durationS: o.wrkDurationS,
          });
        } finally {
          stopSampling();
        }
        log(
          `wrk pipeline: ${out.wrk.pipeline.rps.toFixed(0)} req/s, p99 ${out.wrk.pipeline.p99Ms} ms, non-2xx ${out.wrk.pipeline.non2xx}`,
        );
        await sleep(1000);
        out.wrk.ceiling = await runWrk({
          url: trivial.url,
          script,
          connections: o.wrkConnections,
          durationS: o.wrkDurationS,
        });
        log(`wrk ceiling: ${out.wrk.ceiling.rps.toFixed(0)} req/s, p99 ${out.wrk.ceiling.p99Ms} ms`);
      } else {
        out.wrk = { skipped: haveWrk() ? 'disabled' : 'wrk not installed (apt-get install wrk)' };
      }
    } else if (o.rss) {
      const stopSampling = rssSampler(platform, peak, `${o.rssLoadRate}/s`);
      try {
        await runLoad({ url: ep.gateway, rate: o.rssLoadRate, durationMs: o.durationMs });
      } finally {
        stopSampling();
      }
      // Same load on the trivial server, so its RSS is a like-for-like floor.
      await runLoad({ url: trivial.url, rate: o.rssLoadRate, durationMs: o.durationMs });
    }
    out.trivialServerMiB = rssMiB(trivial.pid);
    out.rssUnderLoad = peak.peak;
    out.rssUnderLoadDuring = peak.label;
    ok = true;
  } finally {
    await platform.stop();
    await proxied?.stop();
    await floor?.close();
    await trivial.close();
    // Keep the logs of a failed run for diagnosis.
    if (ok) {
      fs.rmSync(stateDir, { recursive: true, force: true });
      if (proxied) fs.rmSync(proxied.stateDir, { recursive: true, force: true });
    } else log(`pipeline: logs kept in ${stateDir}/logs${proxied ? ` and ${proxied.stateDir}/logs` : ''}`);
  }
  return out;
}
