// `--profile`: one extra pipeline run with V8's CPU profiler in every service process
// (NODE_OPTIONS=--cpu-prof, inherited by the supervisor's children) and in the harness's main
// thread (which hosts the fault proxies), under a fixed open-model load. Prints the hottest
// functions by self time per process. Profiling slows things down: its numbers are not benchmarks.
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalPlatform } from '../src/platforms/local/local-platform.ts';
import { SERVICES } from '../src/platforms/platform.ts';
import { runLoad } from './generator.ts';
import { log, sleep } from './lib.ts';

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface HotSpot {
  fn: string;
  where: string;
  selfMs: number;
  selfPct: number;
  /** Most frequent caller chain, nearest first. */
  via?: string;
}

export interface ProfileSummary {
  process: string;
  file: string;
  totalMs: number;
  /** Sampled wall time inside the window, and the share of it that was not idle. */
  busyPct: number;
  top: HotSpot[];
  /** Self time grouped by source (package or file). */
  bySource: { source: string; selfPct: number }[];
}

function sourceOf(url: string): string {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const src = url.indexOf('/src/');
  return src >= 0 ? url.slice(src + 1) : url;
}

export function summarizeProfile(
  p: CpuProfile,
  processName: string,
  file: string,
  opts: { topN?: number; window?: { start: number; end: number } } = {},
): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const frame = (id: number) => {
    const cf = byId.get(id)!.callFrame;
    return {
      fn: cf.functionName || '(anonymous)',
      where: cf.url ? `${sourceOf(cf.url)}:${cf.lineNumber + 1}` : '',
      url: cf.url,
    };
  };
  // Self time per node, optionally only for samples inside the window (the load, not the boot).
  const self = new Map<number, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (opts.window && (t < opts.window.start || t > opts.window.end)) continue;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  }
  const byFn = new Map<string, HotSpot & { callers: Map<string, number> }>();
  const bySource = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const f = frame(id);
    total += us;
    if (f.fn === '(idle)') {
      idle += us;
      continue;
    }
    const key = `${f.fn}@${f.where}`;
    const h = byFn.get(key) ?? { fn: f.fn, where: f.where, selfMs: 0, selfPct: 0, callers: new Map() };
    h.selfMs += us / 1000;
    // Caller chain (nearest first, up to 4 frames): native hot spots mean little without it.
    const chain: string[] = [];
    for (let pid = parent.get(id); pid !== undefined && chain.length < 4; pid = parent.get(pid)) {
      const pf = frame(pid);
      if (pf.fn === '(root)') break;
      chain.push(pf.where ? `${pf.fn} (${pf.where})` : pf.fn);
    }
    const c = chain.join(' < ');
    h.callers.set(c, (h.callers.get(c) ?? 0) + us);
    byFn.set(key, h);
    const src = f.fn.startsWith('(') ? f.fn : sourceOf(f.url);
    bySource.set(src, (bySource.get(src) ?? 0) + us);
  }
  const busy = total - idle;
  const top = [...byFn.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, opts.topN ?? 12)
    .map((h) => {
      const [via] = [...h.callers.entries()].sort((a, b) => b[1] - a[1]);
      return {
        fn: h.fn,
        where: h.where,
        selfMs: h.selfMs,
        selfPct: busy ? (100 * h.selfMs * 1000) / busy : 0,
        via: via?.[0] ?? '',
      };
    });
  return {
    process: processName,
    file,
    totalMs: total / 1000,
    busyPct: total ? (100 * busy) / total : 0,
    top,
    bySource: [...bySource.entries()]
      .map(([source, us]) => ({ source, selfPct: busy ? (100 * us) / busy : 0 }))
      .sort((a, b) => b.selfPct - a.selfPct)
      .slice(0, 10),
  };
}

export async function profilePipeline(o: { rate: number; durationMs: number; dir: string }) {
  fs.rmSync(o.dir, { recursive: true, force: true });
  fs.mkdirSync(o.dir, { recursive: true });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-profile-'));
  const platform = new LocalPlatform({ replicas: 2, stateDir, faultLinks: [] });
  const savedNodeOptions = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${savedNodeOptions ?? ''} --cpu-prof --cpu-prof-dir=${o.dir}`.trim();
  const pidNames = new Map<number, string>();
  const session = new Session();
  let harness: CpuProfile | undefined;
  try {
    log('profile: starting the pipeline with --cpu-prof in every service');
    const ep = (await platform.start()).endpoints;
    process.env.NODE_OPTIONS = savedNodeOptions ?? '';
    if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
    for (const s of SERVICES)
      for (const r of await platform.replicas(s)) if (r.pid) pidNames.set(r.pid, r.name);
    await runLoad({ url: ep.gateway, rate: 200, durationMs: 3000 });
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    log(`profile: ${o.rate}/s for ${o.durationMs} ms`);
    const r = await runLoad({ url: ep.gateway, rate: o.rate, durationMs: o.durationMs });
    harness = ((await session.post('Profiler.stop')) as { profile: CpuProfile }).profile;
    log(
      `profile run: p99 ${r.latency.p99} ms, errors ${r.errors + r.timeouts}, dropped ${r.dropped}, fallback ${r.fallbackTotal}`,
    );
  } finally {
    if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = savedNodeOptions;
    session.disconnect();
    await platform.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
  await sleep(200);
  const summaries: ProfileSummary[] = [];
  if (harness) {
    fs.writeFileSync(path.join(o.dir, 'harness-main.cpuprofile'), JSON.stringify(harness));
    summaries.push(
      summarizeProfile(harness, 'harness main thread (fault proxies)', 'harness-main.cpuprofile'),
    );
  }
  // The harness profile spans exactly the measured load; V8 stamps every process's profile with the
  // same system monotonic clock, so it bounds the service profiles to that window (boot excluded).
  const window = harness ? { start: harness.startTime, end: harness.endTime } : undefined;
  for (const f of fs.readdirSync(o.dir).filter((f) => f.startsWith('CPU.') && f.endsWith('.cpuprofile'))) {
    // Default name: CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile
    const pid = Number(f.split('.')[3]);
    const name = pidNames.get(pid);
    if (!name) continue; // trainer job, or a process restarted mid-run
    const prof = JSON.parse(fs.readFileSync(path.join(o.dir, f), 'utf8')) as CpuProfile;
    summaries.push(summarizeProfile(prof, name, f, { window }));
  }
  return { rate: o.rate, durationMs: o.durationMs, dir: o.dir, summaries };
}
