// Faultline benchmarks: `npm run bench [-- --only pipeline,startup --quick --profile]`.
// Prints a summary table and writes bench/results/latest.json. The machine is small and shared, so
// every comparison is a ratio measured side by side in the same run and fixed-rate figures are
// medians of repeats; absolute numbers move between runs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchDrift } from './drift.ts';
import { benchGeneratorCapacity, benchGeneratorOverhead, benchScenarioLag } from './generator.ts';
import { describeMachine, fmt, log, machineInfo, median, ratio, round, table } from './lib.ts';
import { benchMemorySettings, gcUs, servicesCpuUs, stepServicesUs } from './memory.ts';
import { benchMttr } from './mttr.ts';
import { benchPipeline } from './pipeline.ts';
import { profilePipeline } from './profile.ts';
import { benchProxy } from './proxy.ts';
import { benchReportGeneration } from './reports.ts';
import { benchStartup } from './startup.ts';

const ALL = [
  'drift',
  'generator',
  'proxy',
  'startup',
  'pipeline',
  'rss',
  'memory',
  'reports',
  'mttr',
] as const;
type BenchName = (typeof ALL)[number];

const GOALS = {
  throughputRps: 1000,
  p99Ms: 50,
  coldStartMs: 3000,
  // 500 MB (decimal) expressed in MiB, the unit VmRSS sums are reported in.
  rssMiB: 500e6 / 2 ** 20,
  // Issue 9: the generator's own lag in a real scenario run, and one generator process's rate.
  scenarioLagP99Ms: 5,
  scenarioLagRate: 2000,
  generatorRps: 5000,
};

const HELP = `usage: npm run bench -- [options]
  --only a,b     run only these benchmarks: ${ALL.join(', ')}
  --quick        short steps and fewer repeats (about 2 min instead of about 10 min)
  --profile      also run the pipeline once under --cpu-prof and print the hot spots
  --profile-rate offered rate for the profile run (default 500)
  --no-wrk       skip the wrk cross-check
  --out FILE     results file (default bench/results/latest.json)
  -h, --help`;

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'profile-rate': { type: 'string', default: '500' },
    'no-wrk': { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const selected = new Set<BenchName>();
for (const n of (args.only ?? ALL.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)) {
  if (!(ALL as readonly string[]).includes(n)) {
    console.error(`unknown benchmark "${n}" (known: ${ALL.join(', ')})\n${HELP}`);
    process.exit(2);
  }
  selected.add(n as BenchName);
}

const quick = args.quick;
const CFG = quick
  ? {
      pipeline: {
        rates: [250, 500, 1000, 1500],
        extraRates: [2000],
        durationMs: 3000,
        warmupMs: 2000,
        wrkDurationS: 3,
        wrkConnections: 32,
      },
      startupRepeats: 1,
      generator: { rates: [1000, 2000], durationMs: 2000, repeats: 1 },
      capacity: { rates: [2000, 5000], durationMs: 3000, wrkDurationS: 3, wrkConnections: 64 },
      proxy: { rates: [1000, 2000], durationMs: 2000, repeats: 1 },
      drift: { iterations: 50 },
      reportRepeats: 1,
    }
  : {
      pipeline: {
        rates: [250, 500, 750, 1000, 1250, 1500],
        extraRates: [2000],
        durationMs: 10_000,
        warmupMs: 5000,
        wrkDurationS: 10,
        wrkConnections: 32,
      },
      startupRepeats: 3,
      generator: { rates: [1000, 2000], durationMs: 3000, repeats: 3 },
      capacity: { rates: [2000, 5000, 7000], durationMs: 5000, wrkDurationS: 5, wrkConnections: 64 },
      proxy: { rates: [500, 1000, 2000], durationMs: 2000, repeats: 3 },
      drift: { iterations: 200 },
      reportRepeats: 3,
    };

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(here, 'results');
const outFile = path.resolve(args.out ?? path.join(resultsDir, 'latest.json'));
fs.mkdirSync(resultsDir, { recursive: true });

const t0 = performance.now();
const results: Record<string, unknown> = {};
const errors: Record<string, string> = {};
const machineBefore = machineInfo();

async function step<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  const t = performance.now();
  log(`── ${name}`);
  try {
    const r = await fn();
    results[name] = r;
    return r;
  } catch (e) {
    errors[name] = (e as Error).stack ?? String(e);
    log(`${name} FAILED: ${(e as Error).message}`);
    return undefined;
  } finally {
    log(`${name} took ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
}

const drift = selected.has('drift')
  ? await step('drift', () =>
      benchDrift({ features: 10, window: 1000, reference: 1000, iterations: CFG.drift.iterations }),
    )
  : undefined;
const generator = selected.has('generator')
  ? await step('generator', () => benchGeneratorOverhead(CFG.generator))
  : undefined;
// Side by side in one run: the worker-thread generator against the trivial server, then wrk
// against the same server, then a real scenario run at 2000 req/s.
const capacity = selected.has('generator')
  ? await step('generatorCapacity', () =>
      benchGeneratorCapacity({
        ...CFG.capacity,
        wrkDurationS: args['no-wrk'] ? 0 : CFG.capacity.wrkDurationS,
        lagBudgetMs: GOALS.scenarioLagP99Ms,
        resultsDir,
      }),
    )
  : undefined;
const scenarioLag = selected.has('generator')
  ? await step('generatorScenarioLag', () =>
      benchScenarioLag({
        scenario: path.join(here, 'scenarios', 'generator-lag.yaml'),
        budgetMs: GOALS.scenarioLagP99Ms,
        // Side by side: the generator thread at the harness's priority, then the runner's default.
        nices: [0, undefined],
      }),
    )
  : undefined;
const proxy = selected.has('proxy')
  ? await step('proxy', () => benchProxy({ ...CFG.proxy, p99BudgetMs: GOALS.p99Ms }))
  : undefined;
const startup = selected.has('startup')
  ? await step('startup', () => benchStartup({ repeats: CFG.startupRepeats, compileCache: true }))
  : undefined;
const pipeline =
  selected.has('pipeline') || selected.has('rss')
    ? await step('pipeline', () =>
        benchPipeline({
          ...CFG.pipeline,
          wrkDurationS: args['no-wrk'] ? 0 : CFG.pipeline.wrkDurationS,
          p99BudgetMs: GOALS.p99Ms,
          throughput: selected.has('pipeline'),
          goalRate: GOALS.throughputRps,
          goalRepeats: quick ? 1 : 3,
          rss: true,
          rssLoadRate: 500,
          resultsDir,
        }),
      )
    : undefined;
const memory = selected.has('memory')
  ? await step('memory', () =>
      benchMemorySettings({
        rate: GOALS.throughputRps,
        durationMs: CFG.pipeline.durationMs,
        warmupMs: CFG.pipeline.warmupMs,
        repeats: quick ? 2 : 4, // even: each setting goes first equally often
        wrkDurationS: args['no-wrk'] ? 0 : CFG.pipeline.wrkDurationS,
        wrkConnections: CFG.pipeline.wrkConnections,
        resultsDir,
      }),
    )
  : undefined;
const reports = selected.has('reports')
  ? await step('reports', () => benchReportGeneration({ scenarios: 6, repeats: CFG.reportRepeats }))
  : undefined;
// Five kill-all scenario runs through the CLI (about a minute each; --quick: two).
const mttrRuns = selected.has('mttr')
  ? await step('mttr', () => benchMttr({ runs: quick ? 2 : 5, goalMs: 100 }))
  : undefined;
const profile = args.profile
  ? await step('profile', () =>
      profilePipeline({
        rate: Number(args['profile-rate']),
        durationMs: quick ? 5000 : 10_000,
        dir: path.join(resultsDir, 'profiles'),
      }),
    )
  : undefined;

// ── summary ──────────────────────────────────────────────────────────────────────────────────
const rows: (string | number)[][] = [];
const goals: Record<string, { goal: string; measured: string; met: boolean | null }> = {};
const yes = (b: boolean | null) => (b === null ? 'n/a' : b ? 'MET' : 'NOT MET');

if (pipeline?.steps) {
  const pipeMax = pipeline.pipelineMaxRate ?? 0;
  const ceilMax = pipeline.ceilingMaxRate ?? 0;
  const lastRate = Math.max(...pipeline.steps.filter((s) => s.target === 'ceiling').map((s) => s.rate));
  const ceilingCapped = pipeline.steps.some((s) => s.target === 'ceiling' && s.rate === lastRate && s.pass);
  const top = pipeline.steps.find((s) => s.target === 'pipeline' && s.rate === pipeMax);
  rows.push([
    'pipeline: max sustained rate (p99 ≤ 50 ms, 0 errors)',
    `${pipeMax} req/s`,
    `ceiling ${ceilingCapped ? '≥' : ''}${ceilMax} req/s → ratio ${fmt(ratio(pipeMax, ceilMax), 2)}${ceilingCapped ? ' (upper bound)' : ''}`,
  ]);
  if (pipeline.floorMaxRate !== undefined)
    rows.push([
      '  topology floor: the same hops with trivial handlers',
      `${pipeline.floorMaxRate} req/s`,
      `ratio pipeline/floor ${fmt(ratio(pipeMax, pipeline.floorMaxRate), 2)} (bench/floor-hop.ts: Node HTTP + the same undici client, no work)`,
    ]);
  if (pipeline.proxiedMaxRate !== undefined)
    rows.push([
      '  same pipeline, fault proxy on every link',
      `${pipeline.proxiedMaxRate} req/s`,
      `ratio proxied/unproxied ${fmt(ratio(pipeline.proxiedMaxRate, pipeMax), 2)} (the runner proxies only links a scenario faults)`,
    ]);
  if (top) {
    rows.push([
      `pipeline @ ${pipeMax}/s latency p50 / p99`,
      `${fmt(top.result.latency.p50, 1)} / ${fmt(top.result.latency.p99, 1)} ms`,
      `fallback share ${fmt((100 * top.result.fallbackTotal) / Math.max(1, top.result.ok), 1)}%`,
    ]);
  }
  for (const rate of [...new Set(pipeline.steps.map((s) => s.rate))]) {
    const p = pipeline.steps.find((s) => s.target === 'pipeline' && s.rate === rate);
    const c = pipeline.steps.find((s) => s.target === 'ceiling' && s.rate === rate);
    const x = pipeline.steps.find((s) => s.target === 'proxied' && s.rate === rate);
    const f = pipeline.steps.find((s) => s.target === 'floor' && s.rate === rate);
    if (!p || !c) continue;
    rows.push([
      `  ${rate}/s: pipeline vs ceiling p99${x ? ' (proxied)' : ''}`,
      `${fmt(p.result.latency.p99, 1)} vs ${fmt(c.result.latency.p99, 1)} ms${x ? ` (${fmt(x.result.latency.p99, 1)} ${x.pass ? 'pass' : 'FAIL'})` : ''}${f ? `; floor ${fmt(f.result.latency.p99, 1)} ${f.pass ? 'pass' : 'FAIL'}` : ''}`,
      `×${fmt(ratio(p.result.latency.p99, c.result.latency.p99), 1)}; pipeline ${p.pass ? 'pass' : 'FAIL'}${c.pass ? '' : ' (ceiling failed too: machine-limited)'}, err ${p.result.errors + p.result.timeouts}, drop ${p.result.dropped}, fallback ${fmt((100 * p.result.fallbackTotal) / Math.max(1, p.result.ok), 1)}%`,
    ]);
  }
  // CPU cost per prediction at the highest clean rate (or the lowest tried): noise-robust, since it
  // counts CPU time used rather than time waited.
  // The highest rate the pipeline answered completely (latency aside): closest to the goal.
  const clean = (rate: number) => {
    const r = pipeline.steps?.find((s) => s.target === 'pipeline' && s.rate === rate)?.result;
    return r && r.dropped === 0 && r.errors === 0 && r.timeouts === 0;
  };
  const cpuRow = [...(pipeline.cpu ?? [])].reverse().find((c) => clean(c.rate)) ?? pipeline.cpu?.[0];
  if (cpuRow) {
    rows.push([
      `CPU per prediction @ ${cpuRow.rate}/s (all processes)`,
      `${fmt(cpuRow.totalUs, 0)} µs`,
      `${Object.entries(cpuRow.usPerRequest)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(
          ', ',
        )} → at most ${fmt(cpuRow.impliedMaxRateAllCores, 0)}/s with all ${machineBefore.nproc} cores at 100%`,
    ]);
    const fl = pipeline.floorCpu?.find((c) => c.rate === cpuRow.rate);
    if (fl)
      rows.push([
        `  topology floor @ ${cpuRow.rate}/s (same hops, trivial handlers)`,
        `${fmt(fl.totalUs, 0)} µs`,
        `pipeline/floor ${fmt(cpuRow.totalUs / fl.totalUs, 2)}; ${Object.entries(fl.usPerRequest)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${v.toFixed(0)}`)
          .join(', ')}`,
      ]);
    const px = pipeline.proxiedCpu?.find((c) => c.rate === cpuRow.rate);
    if (px)
      rows.push([
        `  same @ ${cpuRow.rate}/s, fault proxy on every link`,
        `${fmt(px.totalUs, 0)} µs`,
        `ratio proxied/unproxied ${fmt(px.totalUs / cpuRow.totalUs, 2)}; fault proxies ${fmt(px.usPerRequest['fault proxies'], 0)} µs`,
      ]);
    const bare = pipeline.ceilingCpu?.find((c) => c.rate === cpuRow.rate)?.usPerRequest['trivial server'];
    if (bare) {
      rows.push([
        `  vs one bare Node HTTP request @ ${cpuRow.rate}/s`,
        `${fmt(bare, 0)} µs (trivial server)`,
        `pipeline = ${fmt(cpuRow.totalUs / bare, 1)}× a bare request (excl. generator: ${fmt((cpuRow.totalUs - (cpuRow.usPerRequest.generator ?? 0)) / bare, 1)}×)`,
      ]);
    }
  }
  if (pipeline.idleCpuMsPerS) {
    const idle = pipeline.idleCpuMsPerS;
    rows.push([
      '  idle pipeline CPU (no traffic, after warm-up)',
      `${fmt(idle.total, 0)} ms CPU/s`,
      Object.entries(idle)
        .filter(([k]) => k !== 'total')
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(', '),
    ]);
  }
  for (const c of pipeline.counters ?? []) {
    const n = pipeline.steps.find((s) => s.target === 'pipeline' && s.rate === c.rate)?.result.sent ?? 0;
    const per1k = (k: string) => (n ? (1000 * (c.delta[k] ?? 0)) / n : 0);
    const timeouts = per1k('model_server_feature_fetch_total{timeout}');
    const retries = per1k('model_server_feature_fetch_retries_total');
    const gwRetries = per1k('gateway_retries_total');
    rows.push([
      `  ${c.rate}/s: feature-fetch timeouts / retries, gateway retries`,
      `${fmt(timeouts, 1)} / ${fmt(retries, 1)} / ${fmt(gwRetries, 1)} per 1000`,
      Object.entries(c.delta)
        .filter(([k]) => k.startsWith('model_server_fallback_total'))
        .map(([k, v]) => `${k.replace('model_server_fallback_total', 'fallback')} ${v}`)
        .join(', ') || 'no fallback',
    ]);
  }
  if (pipeline.wrk?.pipeline && pipeline.wrk.ceiling) {
    const w = pipeline.wrk;
    rows.push([
      `wrk closed-model ceiling (c=${w.pipeline!.connections})`,
      `${fmt(w.pipeline!.rps, 0)} req/s, p99 ${fmt(w.pipeline!.p99Ms, 1)} ms, non-2xx ${w.pipeline!.non2xx}`,
      `trivial ${fmt(w.ceiling!.rps, 0)} req/s → ratio ${fmt(ratio(w.pipeline!.rps, w.ceiling!.rps), 3)}`,
    ]);
  } else if (pipeline.wrk?.skipped) rows.push(['wrk closed-model ceiling', 'skipped', pipeline.wrk.skipped]);
  // The verdict: every step at the goal rate (the ladder's and the repeats), median p99 within
  // budget, no errors, timeouts or drops in any, no fallback answers.
  const atGoal = [...pipeline.steps, ...(pipeline.goalSteps ?? [])].filter(
    (s) => s.target === 'pipeline' && s.rate === GOALS.throughputRps,
  );
  const floorAtGoal = [...pipeline.steps, ...(pipeline.goalSteps ?? [])].filter(
    (s) => s.target === 'floor' && s.rate === GOALS.throughputRps,
  );
  if (atGoal.length > 0) {
    const p99s = atGoal.map((s) => s.result.latency.p99 ?? Number.POSITIVE_INFINITY);
    const clean = atGoal.every(
      (s) =>
        s.result.errors + s.result.timeouts + s.result.dropped === 0 &&
        s.result.fallbackTotal === 0 &&
        s.result.achievedRate >= 0.95 * s.rate,
    );
    const med = median(p99s);
    rows.push([
      `pipeline @ ${GOALS.throughputRps}/s, ${atGoal.length} steps (ladder + repeats): median p99`,
      `${fmt(med, 1)} ms`,
      `each: ${p99s.map((v) => fmt(v, 1)).join(', ')} ms; passed ${atGoal.filter((s) => s.pass).length}/${atGoal.length}; floor median p99 ${fmt(median(floorAtGoal.map((s) => s.result.latency.p99 ?? Number.POSITIVE_INFINITY)), 1)} ms`,
    ]);
    // A failed step with the machine's context: a stall of the VM (steal, major faults, other
    // processes' CPU) shows in the generator's own lag and here, not only in the pipeline.
    for (const [i, s] of atGoal.entries()) {
      if (s.pass) continue;
      rows.push([
        `  failed step ${i + 1}/${atGoal.length}`,
        `p99 ${fmt(s.result.latency.p99, 1)} ms`,
        `drop ${s.result.dropped}, err ${s.result.errors + s.result.timeouts}, fallback ${s.result.fallbackTotal}; generator lag p99 ${fmt(s.result.lag.p99, 1)} / max ${fmt(s.result.lag.max, 1)} ms; ${describeMachine(s.machine)}`,
      ]);
    }
    goals.throughput = {
      goal: `≥ ${GOALS.throughputRps} predictions/s at p99 ≤ ${GOALS.p99Ms} ms, 0 errors`,
      measured: `${GOALS.throughputRps}/s: median p99 ${fmt(med, 1)} ms over ${atGoal.length} steps (${atGoal.filter((s) => s.pass).length} passed)${clean ? '' : ', with errors, drops or fallback'}; ladder max ${pipeMax} req/s`,
      met: clean && med !== null && med <= GOALS.p99Ms,
    };
  }
}
if (startup) {
  const ph = startup.medianPhases;
  rows.push([
    `cold start-to-ready (median of ${startup.repeats})`,
    `${fmt(startup.medianMs! / 1000, 2)} s`,
    `min ${fmt(startup.minMs! / 1000, 2)} / max ${fmt(startup.maxMs! / 1000, 2)} s; = ${fmt(ratio(startup.medianMs, startup.nodeBootMedianMs), 0)}× a bare node boot (${fmt(startup.nodeBootMedianMs, 0)} ms)`,
  ]);
  rows.push([
    '  phases: infra / trainer / serving',
    `${fmt(ph.infraMs, 0)} / ${fmt(ph.trainerMs, 0)} / ${fmt(ph.servingMs, 0)} ms`,
    `trainer work ${fmt(ph.trainerWorkMs, 0)} ms; model-server boot ${fmt(ph.modelServerBootMs, 0)} ms (overlaps the trainer); last model loaded ${fmt(ph.modelLoadMs, 0)} ms after the trainer finished (negative: before its feature materialization ended); stop ${fmt(startup.medianStopMs, 0)} ms`,
  ]);
  const cc = startup.compileCache;
  if (cc?.medianMs) {
    rows.push([
      '  first start on a machine: empty compile cache (interleaved)',
      `${fmt(cc.medianMs / 1000, 2)} s`,
      `ratio first/as shipped ${fmt(ratio(cc.medianMs, startup.medianMs), 2)}; trainer work ${fmt(cc.medianPhases.trainerWorkMs, 0)} vs ${fmt(ph.trainerWorkMs, 0)} ms; model-server boot ${fmt(cc.medianPhases.modelServerBootMs, 0)} vs ${fmt(startup.medianPhases.modelServerBootMs, 0)} ms`,
    ]);
  }
  const tc = startup.trainedCached;
  if (tc?.medianMs) {
    rows.push([
      '  same, trained models cached (a second start: training is deterministic)',
      `${fmt(tc.medianMs / 1000, 2)} s`,
      `ratio cached/cold ${fmt(ratio(tc.medianMs, startup.medianMs), 2)}; trainer work ${fmt(tc.medianPhases.trainerWorkMs, 0)} vs ${fmt(ph.trainerWorkMs, 0)} ms`,
    ]);
  }
  const first = startup.compileCache?.medianMs;
  goals.coldStart = {
    goal: `≤ ${GOALS.coldStartMs / 1000} s`,
    measured: `${fmt(startup.medianMs! / 1000, 2)} s fresh pipeline${first ? `; first start on a machine ${fmt(first / 1000, 2)} s${first > GOALS.coldStartMs ? ' (over)' : ''}` : ''}`,
    met: startup.medianMs! <= GOALS.coldStartMs,
  };
}
if (pipeline?.rssAfterWarmup) {
  const w = pipeline.rssAfterWarmup;
  const l = pipeline.rssUnderLoad;
  const per = (s: typeof w) =>
    Object.entries(
      s.processes.reduce<Record<string, number>>((a, p) => {
        a[p.service] = (a[p.service] ?? 0) + p.rssMiB;
        return a;
      }, {}),
    )
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ');
  rows.push([
    `RSS, ${w.processes.length} pipeline processes, after warm-up`,
    `${fmt(w.totalMiB, 0)} MiB`,
    per(w),
  ]);
  if (l)
    rows.push([
      `RSS under load (peak, during ${pipeline.rssUnderLoadDuring})`,
      `${fmt(l.totalMiB, 0)} MiB`,
      `${per(l)}; harness process ${fmt(l.harnessMiB, 0)} MiB`,
    ]);
  rows.push([
    '  PSS (shared pages counted once), after warm-up / at the RSS peak',
    `${fmt(w.totalPssMiB, 0)} / ${fmt(l?.totalPssMiB, 0)} MiB`,
    `RSS sums count the Node binary's shared pages once per process; PSS splits them`,
  ]);
  if (pipeline.trivialServerMiB != null) {
    const floor = pipeline.trivialServerMiB;
    rows.push([
      '  per-process floor: trivial Node HTTP server',
      `${fmt(floor, 0)} MiB`,
      `× ${w.processes.length} processes = ${fmt(floor * w.processes.length, 0)} MiB; pipeline/floor ratio ${fmt(ratio(l?.totalMiB ?? w.totalMiB, floor * w.processes.length), 2)}`,
    ]);
  }
  const hops = pipeline.floorRss?.filter((h) => h.role !== 'feature-server') ?? [];
  if (hops.length) {
    // A hop that also calls out (gateway, model-server): the floor of any pipeline process with a client.
    const mean = hops.reduce((a, h) => a + h.rssMiB, 0) / hops.length;
    rows.push([
      '  per-process floor: topology-floor hop (HTTP server + undici client, no work)',
      `${fmt(mean, 0)} MiB`,
      `× ${w.processes.length} processes = ${fmt(mean * w.processes.length, 0)} MiB (goal ${fmt(GOALS.rssMiB, 0)} MiB); each: ${hops.map((h) => `${h.role} ${fmt(h.rssMiB, 0)}`).join(', ')}`,
    ]);
  }
  const worst = Math.max(w.totalMiB, l?.totalMiB ?? 0);
  const worstPss = Math.max(w.totalPssMiB, l?.totalPssMiB ?? 0);
  goals.rss = {
    goal: '≤ 500 MB (476.8 MiB) total RSS',
    measured: `${fmt(worst, 0)} MiB peak (sum of RSS)`,
    met: worst <= GOALS.rssMiB,
  };
  goals.pss = {
    goal: '≤ 500 MB (476.8 MiB) total PSS',
    measured: `${fmt(worstPss, 0)} MiB peak (sum of PSS)`,
    met: worstPss <= GOALS.rssMiB,
  };
}
if (memory) {
  const [defaults, shipped] = memory.variants;
  for (const v of memory.variants) {
    rows.push([
      `memory settings: ${v.name} (${v.runtime.execArgv.join(' ') || 'no V8 flags'}${
        Object.keys(v.runtime.env).length
          ? `, ${Object.entries(v.runtime.env)
              .map(([k, x]) => `${k}=${x}`)
              .join(' ')}`
          : ''
      })`,
      `RSS ${fmt(v.afterWarmup?.totalMiB, 0)} / ${fmt(v.peak?.totalMiB, 0)} MiB`,
      `after warm-up / peak (during ${v.peakDuring}); PSS ${fmt(v.afterWarmup?.totalPssMiB, 0)} / ${fmt(v.peak?.totalPssMiB, 0)} MiB; services' CPU @ ${memory.rate}/s ${fmt(servicesCpuUs(v), 0)} µs per prediction (median of ${v.cpu.length}: ${v.cpu.map((c) => fmt(stepServicesUs(c), 0)).join(', ')})`,
    ]);
  }
  rows.push([
    '  GC time per prediction (gateway, model-servers, feature-server)',
    `${fmt(gcUs(shipped), 0)} vs ${fmt(gcUs(defaults), 0)} µs`,
    `as shipped vs node defaults, median of ${shipped.gc.length}; as shipped by kind: ${Object.entries(
      shipped.gc.at(-1) ?? {},
    )
      .map(([k, x]) => `${k} ${fmt(x, 0)}`)
      .join(', ')} (last step)`,
  ]);
  rows.push([
    '  ratio as shipped / node defaults (same run, interleaved)',
    `peak RSS ${fmt(ratio(shipped.peak?.totalMiB, defaults.peak?.totalMiB), 2)}`,
    `peak PSS ${fmt(ratio(shipped.peak?.totalPssMiB, defaults.peak?.totalPssMiB), 2)}; CPU per prediction ${fmt(ratio(servicesCpuUs(shipped), servicesCpuUs(defaults)), 2)}; GC +${fmt((gcUs(shipped) ?? 0) - (gcUs(defaults) ?? 0), 0)} µs per prediction`,
  ]);
}
if (generator) {
  for (const r of generator.rows) {
    rows.push([
      `generator @ ${r.rate}/s (trivial target, median of ${generator.repeats})`,
      `lag p99 ${fmt(r.lagP99Ms, 2)} ms`,
      `achieved ${fmt(r.achievedRate, 0)}/s, lag max ${fmt(r.lagMaxMs, 1)} ms, CPU ${fmt(100 * r.cpuShare, 1)}% of a core (${fmt(r.cpuUsPerRequest, 0)} µs/req), ELU ${fmt(100 * r.eventLoopUtilization, 0)}%`,
    ]);
  }
}
if (capacity) {
  for (const r of capacity.rows) {
    rows.push([
      `generator process (worker driver) @ ${r.rate}/s, trivial target`,
      `${fmt(r.achievedRate, 0)}/s, lag p99 ${fmt(r.lagP99Ms, 2)} ms`,
      `${r.sustained ? 'sustained' : 'NOT sustained'} (median of ${r.lagP99EachMs?.length ?? 1} steps by lag p99: ${(r.lagP99EachMs ?? []).map((x) => fmt(x, 1)).join(', ')} ms; lag p99 ≤ ${capacity.lagBudgetMs} ms after the worker's first second, 0 errors/drops, ≥ 95% of the rate); lag max ${fmt(r.lagMaxMs, 1)} ms, whole-step p99 ${fmt(r.lagP99WholeMs, 1)} ms, err ${r.errors}, drop ${r.dropped}; process CPU ${fmt(r.cpuUsPerRequest, 0)} µs/req (${fmt(100 * r.cpuShare, 0)}% of a core), server ${fmt(r.serverCpuUsPerRequest, 0)} µs/req`,
    ]);
  }
  const w = capacity.wrk;
  if (w) {
    rows.push([
      `wrk -t1 -c${w.connections} (closed model) against the same server`,
      `${fmt(w.rps, 0)} req/s, p99 ${fmt(w.p99Ms, 1)} ms`,
      `ratio generator max sustained / wrk ${fmt(ratio(capacity.maxSustainedRate, w.rps), 3)}; at ${GOALS.generatorRps}/s: generator/wrk CPU per request ${fmt(ratio(capacity.rows.find((r) => r.rate === GOALS.generatorRps)?.cpuUsPerRequest, w.cpuUsPerRequest), 1)}× (${fmt(capacity.rows.find((r) => r.rate === GOALS.generatorRps)?.cpuUsPerRequest, 0)} vs ${fmt(w.cpuUsPerRequest, 0)} µs), latency p99 ${fmt(capacity.rows.find((r) => r.rate === GOALS.generatorRps)?.latencyP99Ms, 1)} vs ${fmt(w.p99Ms, 1)} ms; server ${fmt(w.serverCpuUsPerRequest, 0)} µs/req under wrk`,
    ]);
  } else rows.push(['wrk against the same server', 'skipped', capacity.wrkSkipped ?? '']);
  goals.generatorRps = {
    goal: `one generator process ≥ ${GOALS.generatorRps} req/s (trivial loopback target)`,
    measured: `max sustained ${capacity.maxSustainedRate} req/s of ${capacity.rows.map((r) => r.rate).join(', ')}${w ? `; wrk ${fmt(w.rps, 0)} req/s` : ''}`,
    met: capacity.maxSustainedRate >= GOALS.generatorRps,
  };
}
if (scenarioLag) {
  for (const [i, l] of scenarioLag.runs.entries()) {
    rows.push([
      `generator lag in a scenario run @ ${l.rate}/s, thread nice ${l.threadNice}${i === scenarioLag.runs.length - 1 ? ' (default)' : ''}`,
      `p99 ${fmt(l.lagP99Ms, 2)} ms`,
      `runner + local pipeline + fault proxy; p50 ${fmt(l.lagP50Ms, 2)}, p99.9 ${fmt(l.lagP999Ms, 1)}, max ${fmt(l.lagMaxMs, 1)} ms over ${l.sent} sends (${fmt(l.achievedRate, 0)}/s, drop ${l.dropped}, err ${l.errors}); per-second p99 median ${fmt(l.perSecondP99Median, 2)} / worst ${fmt(l.perSecondP99Max, 1)} ms; harness loop delay p99 ${fmt(l.harnessLoopDelayP99Ms, 1)} / max ${fmt(l.harnessLoopDelayMaxMs, 1)} ms; ${describeMachine(l.machine)}`,
    ]);
  }
  const [a, b] = scenarioLag.runs;
  if (a && b)
    rows.push([
      '  ratio lag p99 default / same priority as the harness',
      fmt(ratio(b.lagP99Ms, a.lagP99Ms), 2),
      `max ${fmt(ratio(b.lagMaxMs, a.lagMaxMs), 2)}`,
    ]);
  const l = scenarioLag.runs.at(-1)!;
  goals.scenarioLag = {
    goal: `generator lag p99 ≤ ${GOALS.scenarioLagP99Ms} ms at ${GOALS.scenarioLagRate} req/s in a scenario run`,
    measured: `p99 ${fmt(l.lagP99Ms, 2)} ms (max ${fmt(l.lagMaxMs, 1)} ms), runner defaults (thread nice ${l.threadNice})`,
    met: l.met,
  };
}
if (proxy) {
  for (const r of proxy.rows) {
    rows.push([
      `fault proxy @ ${r.rate}/s p50 / p99, proxied vs direct (median of ${proxy.repeats})`,
      `${fmt(r.proxied.p50Ms, 2)} / ${fmt(r.proxied.p99Ms, 1)} vs ${fmt(r.direct.p50Ms, 2)} / ${fmt(r.direct.p99Ms, 1)} ms`,
      `×${fmt(r.p50Ratio, 2)} / ×${fmt(r.p99Ratio, 2)}; proxy CPU ${fmt(r.proxyUsPerRequest, 0)} µs/req vs server ${fmt(r.serverUsPerRequest, 0)} µs/req; budget met ${r.proxied.passes}/${proxy.repeats} vs ${r.direct.passes}/${proxy.repeats}`,
    ]);
  }
  rows.push([
    'fault proxy max sustained rate (proxied / direct)',
    `${proxy.proxiedMaxRate} / ${proxy.directMaxRate} req/s`,
    `ratio ${fmt(proxy.maxRateRatio, 2)}${proxy.directMaxRate === Math.max(...CFG.proxy.rates) ? ' (direct passed the top step)' : ''}; proxy alone could relay ~${fmt(proxy.proxyImpliedMaxRatePerCore, 0)} req/s per core`,
  ]);
}
if (drift) {
  rows.push([
    `drift stats, ${drift.features} features × ${drift.window} values (once per second)`,
    `${fmt(drift.monitorCompute.medianMs, 2)} ms = ${fmt(100 * drift.monitorCompute.coreShare, 2)}% of a core`,
    `monitor.compute(); driftStats ${fmt(drift.driftStats.medianMs, 2)} ms; psi+ks2+js separately ${fmt(drift.separate.medianMs, 2)} ms`,
  ]);
}
if (selected.has('reports')) {
  if (reports?.available) {
    const t = reports.medianTimings;
    rows.push([
      `report generation, ${reports.scenarios}-scenario game day (median of ${reports.repeats})`,
      `${fmt(reports.medianMs / 1000, 2)} s`,
      `${Object.entries(t)
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(', ')} ms; via ${reports.module}`,
    ]);
    goals.reports = {
      goal: '≤ 10 s (src/report/bench.ts design target)',
      measured: `${fmt(reports.medianMs / 1000, 2)} s`,
      met: reports.medianMs <= 10_000,
    };
  } else rows.push(['report generation, 6-scenario game day', 'TODO', reports ? reports.reason : 'failed']);
}

if (selected.has('mttr') && mttrRuns) {
  for (const r of mttrRuns.runs)
    rows.push([
      `kill-all run ${r.run}: MTTR vs outage (first → last failed request)`,
      `${fmt(r.mttrMs, 1)} ± ${fmt(r.resolutionMs, 1)} ms`,
      `outage ${fmt(r.outageMs, 1)} ms (${r.failed} failed, first ${fmt(r.firstFailedFromT0Ms, 1)} ms after t0); difference ${fmt(r.diffMs, 1)} ms; ${r.verdict}`,
    ]);
  const ok = mttrRuns.runs.filter((r) => r.withinGoal).length;
  goals.mttr = {
    goal: `kill-all MTTR within ${mttrRuns.goalMs} ms of the outage on each run`,
    measured: `${ok}/${mttrRuns.runs.length} runs; differences ${mttrRuns.runs.map((r) => fmt(r.diffMs, 0)).join(', ')} ms`,
    met: mttrRuns.runs.length > 0 && ok === mttrRuns.runs.length,
  };
}

const wallS = (performance.now() - t0) / 1000;
const doc = {
  generatedAt: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  selected: [...selected],
  wallSeconds: round(wallS, 1),
  machine: { before: machineBefore, loadavgAfter: machineInfo().loadavg },
  goals,
  config: CFG,
  results,
  errors,
};
fs.writeFileSync(outFile, `${JSON.stringify(doc, null, 2)}\n`);

console.log(
  `\nFaultline benchmarks (${quick ? 'quick' : 'full'}) — ${machineBefore.nproc} cores, node ${machineBefore.node}, load avg at start ${machineBefore.loadavg.join(' ')}`,
);
console.log(table(['benchmark', 'result', 'side by side / detail'], rows));
if (Object.keys(goals).length) {
  console.log('\nGoals from the issue:');
  console.log(
    table(
      ['goal', 'target', 'measured', 'verdict'],
      Object.entries(goals).map(([k, g]) => [k, g.goal, g.measured, yes(g.met)]),
    ),
  );
}
if (profile) {
  console.log(
    `\nCPU profile at ${profile.rate}/s (self time; profiles in ${path.relative(process.cwd(), profile.dir)}):`,
  );
  for (const s of profile.summaries) {
    console.log(
      `\n${s.process} — busy ${fmt(s.busyPct, 0)}% of ${fmt(s.totalMs / 1000, 1)} s; by source: ${s.bySource
        .slice(0, 6)
        .map((b) => `${b.source} ${b.selfPct.toFixed(0)}%`)
        .join(', ')}`,
    );
    console.log(
      table(
        ['self %', 'function', 'where', 'called from'],
        s.top.slice(0, 8).map((h) => [h.selfPct.toFixed(1), h.fn, h.where, h.via ?? '']),
      ),
    );
  }
}
if (Object.keys(errors).length)
  console.log(`\nFAILED benchmarks: ${Object.keys(errors).join(', ')} (details in ${outFile})`);
console.log(`\nwrote ${path.relative(process.cwd(), outFile)} in ${wallS.toFixed(0)} s`);
process.exitCode = Object.keys(errors).length ? 1 : 0;
