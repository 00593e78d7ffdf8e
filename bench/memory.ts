// Benchmark 3b: what the services' memory settings (SERVICE_EXEC_ARGV, SERVICE_ENV in
// src/platforms/local/local-platform.ts) buy. Two pipelines side by side, one with Node's defaults
// and one as shipped, given the same load in turn (the other idles): RSS and PSS after warm-up and
// at the peak, and CPU and GC time per prediction (median of repeats), so a memory gain paid for in
// CPU would show. GC time (from the services' own metrics) is the sharper gauge: whole-process CPU
// moves ±10–15 % between steps on this VM.
// Run it with a warm compile cache (after any other pipeline start): a first start after a source
// change loads Node's TypeScript stripper into every service, ~15 MiB each.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scrape } from '../src/pipeline/controller/scrape.ts';
import {
  LocalPlatform,
  SERVICE_ENV,
  SERVICE_EXEC_ARGV,
  type ServiceRuntime,
} from '../src/platforms/local/local-platform.ts';
import { runLoad } from './generator.ts';
import { log, median, sleep } from './lib.ts';
import {
  type CpuPerRequest,
  cpuMeter,
  pipelinePids,
  pipelineRss,
  type RssSample,
  rssSampler,
} from './pipeline.ts';
import { haveWrk, runWrk, writeWrkScript } from './wrk.ts';

export interface MemoryVariant {
  name: string;
  runtime: ServiceRuntime;
  afterWarmup?: RssSample;
  peak?: RssSample;
  peakDuring?: string;
  /** One entry per step at the rate. */
  cpu: CpuPerRequest[];
  /** GC time per prediction in each step, µs, summed over the serving processes, by GC kind. */
  gc: Record<string, number>[];
}

/** Seconds spent in GC so far by kind (prom-client's nodejs_gc_duration_seconds), summed over `urls`. */
async function gcSeconds(urls: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const url of urls) {
    for (const s of await scrape(`${url}/metrics`, 2000)) {
      if (!s.name.endsWith('_gc_duration_seconds_sum')) continue;
      out[s.labels.kind] = (out[s.labels.kind] ?? 0) + s.value;
    }
  }
  return out;
}

/** Median GC µs per prediction over a variant's steps, all kinds. */
export function gcUs(v: MemoryVariant): number | null {
  return median(v.gc.map((g) => Object.values(g).reduce((a, b) => a + b, 0)));
}

/** CPU µs per prediction of the pipeline's processes in one step (the generator left out). */
export const stepServicesUs = (c: CpuPerRequest) => c.totalUs - (c.usPerRequest.generator ?? 0);

/** Median of stepServicesUs over a variant's steps. */
export function servicesCpuUs(v: MemoryVariant): number | null {
  return median(v.cpu.map(stepServicesUs));
}

export async function benchMemorySettings(o: {
  rate: number;
  durationMs: number;
  warmupMs: number;
  /** Steps at `rate` per variant, alternating. */
  repeats: number;
  wrkDurationS: number;
  wrkConnections: number;
  resultsDir: string;
}) {
  const variants: MemoryVariant[] = [
    { name: 'node defaults', runtime: { execArgv: [], env: {} }, cpu: [], gc: [] },
    { name: 'as shipped', runtime: { execArgv: SERVICE_EXEC_ARGV, env: SERVICE_ENV }, cpu: [], gc: [] },
  ];
  const dirs = variants.map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-memory-')));
  const platforms = variants.map(
    (v, i) => new LocalPlatform({ replicas: 2, stateDir: dirs[i], faultLinks: [] }, v.runtime),
  );
  let ok = false;
  try {
    for (const p of platforms) await p.start();
    const script = path.join(o.resultsDir, 'wrk-post.lua');
    const wrk = haveWrk() && o.wrkDurationS > 0;
    if (wrk) await writeWrkScript(script, 7);
    // Each phase runs on one pipeline while the other idles; the order alternates between phases.
    const phases: { label: string; run: (p: LocalPlatform, v: MemoryVariant) => Promise<void> }[] = [
      {
        label: 'warm-up',
        run: async (p, v) => {
          await runLoad({ url: p.endpoints.gateway, rate: 200, durationMs: o.warmupMs });
          await sleep(1000);
          v.afterWarmup = await pipelineRss(p);
        },
      },
      // Repeats: CPU per prediction moves ±10–15 % between steps on this VM.
      ...Array.from({ length: o.repeats }, () => ({
        label: `${o.rate}/s`,
        run: async (p: LocalPlatform, v: MemoryVariant) => {
          const ep = p.endpoints;
          const serving = [ep.gateway, ...ep.modelServers, ep.featureServer];
          const gc0 = await gcSeconds(serving);
          const end = cpuMeter(await pipelinePids(p), o.rate, v.cpu);
          const r = await runLoad({ url: ep.gateway, rate: o.rate, durationMs: o.durationMs });
          end(r);
          const gc1 = await gcSeconds(serving);
          v.gc.push(
            Object.fromEntries(
              Object.entries(gc1).map(([k, x]) => [k, ((x - (gc0[k] ?? 0)) * 1e6) / Math.max(1, r.ok)]),
            ),
          );
        },
      })),
      ...(wrk
        ? [
            {
              label: 'wrk (closed model)',
              run: async (p: LocalPlatform) => {
                await runWrk({
                  url: p.endpoints.gateway,
                  script,
                  connections: o.wrkConnections,
                  durationS: o.wrkDurationS,
                });
              },
            },
          ]
        : []),
    ];
    for (const [k, phase] of phases.entries()) {
      const order = k % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        const v = variants[i];
        const into: { peak?: RssSample; label?: string } = { peak: v.peak, label: v.peakDuring };
        const stop = phase.label === 'warm-up' ? () => {} : rssSampler(platforms[i], into, phase.label);
        try {
          await phase.run(platforms[i], v);
        } finally {
          stop();
        }
        v.peak = into.peak;
        v.peakDuring = into.label;
        log(`memory: ${v.name} after ${phase.label}: peak RSS ${v.peak?.totalMiB.toFixed(0) ?? '—'} MiB`);
        await sleep(1000);
      }
    }
    ok = true;
  } finally {
    for (const p of platforms) await p.stop();
    if (ok) for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
  return { rate: o.rate, durationMs: o.durationMs, variants };
}
