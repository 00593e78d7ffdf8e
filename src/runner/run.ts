// One scenario, start to finish: start platform → warm-up → steady-state hypothesis → faults on
// schedule (journaled before injection) → observe → revert → recovery → evaluate → tear down.
// Whatever happens (abort condition, signal, error), every injected fault is reverted and the
// platform stopped before this returns.

import os from 'node:os';
import path from 'node:path';
import { chromiumPath } from '../browser/chromium.ts';
import type { FaultContext } from '../faults/fault.ts';
import { linksToProxy } from '../faults/index.ts';
import { Journal, readJournal } from '../journal/journal.ts';
import { nowMs } from '../load/clock.ts';
import type { TransformSpec } from '../load/drift-transform.ts';
import type { RequestRecord } from '../load/driver.ts';
import { createLoadDriver, type RunnerLoadDriver } from '../load/factory.ts';
import { LagMeter } from '../load/lag.ts';
import { seededRandom } from '../load/random.ts';
import { ArrivalSchedule } from '../load/schedule.ts';
import { generatorNiceFromEnv } from '../load/worker-driver.ts';
import { BrowserProbe } from '../observe/browser-probe.ts';
import { Observers } from '../observe/observers.ts';
import type { Probe, ProbeResult } from '../observe/probe.ts';
import type { Mechanism } from '../pipeline/common/config.ts';
import {
  createPlatform,
  type PipelineOptions,
  type Platform,
  type StartedPlatform,
} from '../platforms/index.ts';
import type { Marker, RunbookSummary, ScenarioReport, Verdict } from '../report/model.ts';
import { expandSchedule, plannedInjections } from '../scenario/schedule.ts';
import type { Scenario } from '../scenario/schema.ts';
import { timeSeries } from '../slo/timeseries.ts';
import { ABORT_CHECK_EVERY_MS, AbortWatch, sliValue } from './abort.ts';
import {
  displayPath,
  errorBudgetOf,
  harnessHealth,
  measurementsOf,
  qualityOf,
  timelineMarkers,
} from './assemble.ts';
import { listEntities } from './entities.ts';
import { type CheckResult, evaluate, measure, type Phases, type RunbookTargets } from './evaluate.ts';
import { FaultSession } from './faults.ts';
import { runTrainer } from './jobs.ts';
import type { Progress } from './progress.ts';
import { JournalIndex } from './signals.ts';
import { raceAbort, sleepUntil } from './timing.ts';

export interface ResolvedRunbook {
  targets: RunbookTargets;
  summary: RunbookSummary;
}

export interface ScenarioRunOptions {
  file: string;
  /** Folder of this scenario's artifacts (journal, pipeline state). */
  dir: string;
  /** Run folder, for relative paths in the report. */
  runDir: string;
  runbook?: ResolvedRunbook;
  seed?: number;
  replicas?: number;
  disabled?: Set<Mechanism>;
  progress: Progress;
  /** Aborts the run (SIGINT/SIGTERM): faults are reverted and the platform stopped. */
  signal: AbortSignal;
  /** Where the pipeline runs (a registered platform kind); default `local`. */
  platform?: string;
  /** Builds the platform instead (tests wrap a platform to misbehave); overrides `platform`. */
  platformFactory?: (opts: PipelineOptions) => Platform;
}

class Aborted extends Error {}

export async function runScenario(scenario: Scenario, opts: ScenarioRunOptions): Promise<ScenarioReport> {
  const { spec, metadata } = scenario;
  const journal = new Journal(path.join(opts.dir, 'journal.ndjson'));
  const seed = opts.seed ?? spec.load.seed;
  const disabled = new Set<Mechanism>([...(spec.pipeline?.disable ?? []), ...(opts.disabled ?? [])]);
  const replicas = opts.replicas ?? spec.pipeline?.replicas ?? 2;
  const platformKind = opts.platform ?? 'local';
  const durationMs = spec.load.duration ?? (spec.load.stages ?? []).reduce((a, s) => a + s.duration, 0);
  const startedAt = nowMs();
  const progress = opts.progress;
  const records: RequestRecord[] = [];
  const markers: Marker[] = [];
  let verdict: Verdict = 'passed';
  let steadyStateFailed = false;
  let reason: string | undefined;
  let steadyResults: CheckResult[] = [];
  let loadStart = 0;
  let loadEnd = 0;
  let dataLoss: number | undefined;
  let ctx: FaultContext | undefined;

  // Fault proxies only where this scenario injects network faults.
  const faultLinks = linksToProxy(expandSchedule(scenario));
  journal.append('run.start', {
    scenario: metadata.name,
    file: opts.file,
    seed,
    replicas,
    disabled: [...disabled],
    platform: platformKind,
    fault_links: faultLinks,
    host: os.hostname(),
  });
  const platformOpts: PipelineOptions = {
    replicas,
    disabled,
    seed,
    stateDir: path.join(opts.dir, 'pipeline'),
    faultLinks,
    journal: journal.file,
  };
  const configured = opts.platformFactory?.(platformOpts) ?? createPlatform(platformKind, platformOpts);
  // Set once start() resolves: nothing reaches the pipeline before it is started.
  let platform: StartedPlatform | undefined;
  let starting: Promise<StartedPlatform> | undefined;
  let observers: Observers | undefined;
  const probes: Probe[] = spec.probes.map(
    (p) => new BrowserProbe({ everyMs: p.every, timeoutMs: p.timeout, path: p.path }),
  );
  let driver: RunnerLoadDriver | undefined;
  const timers: NodeJS.Timeout[] = [];
  const abortCtl = new AbortController();
  const onExternalAbort = () =>
    abortCtl.abort(new Aborted(`interrupted (${String(opts.signal.reason ?? 'signal')})`));
  opts.signal.addEventListener('abort', onExternalAbort, { once: true });
  if (opts.signal.aborted) onExternalAbort();

  const faults = new FaultSession({
    journal,
    progress,
    markers,
    ctx: () => ctx as FaultContext,
    target: () => {
      // A fault is only ever injected into (and so reverted on) a started platform.
      const p = platform as StartedPlatform;
      return { endpoints: p.endpoints, startService: (s) => p.startService(s), load: hooks };
    },
  });
  const faultRecords = faults.records;
  const hooks = {
    // The worker composes the active transforms in installation order (TransformSet).
    setTransform: async (id: string, spec: TransformSpec | undefined) => driver?.setTransformSpec(id, spec),
    firstChange: async (id: string) => driver?.firstChange(id),
  };

  try {
    // Preflight: a missing browser fails the run before a pipeline is started for nothing.
    if (spec.probes.some((p) => p.type === 'browser')) chromiumPath();
    progress.phase('starting platform');
    starting = configured.start();
    platform = await raceAbort(starting, abortCtl.signal);
    const started = platform;
    const { endpoints } = started;
    // No token in the journal: cleanup gets it from the platform it re-attaches to.
    journal.append('platform.ready', {
      platform: started.name,
      run_id: started.record.runId,
      endpoints: { ...endpoints, adminToken: '(redacted)' },
    });
    observers = new Observers(journal, started);
    observers.start();
    for (const p of probes) await p.start({ endpoints, journal, clock: nowMs });
    const entities = await listEntities(endpoints);
    ctx = {
      platform: started,
      endpoints,
      load: hooks,
      // Victims and entities come from the scenario seed, so a rerun hits the same targets.
      random: seededRandom(seed),
      entities: () => entities,
      trainer: (mode) => runTrainer(started, mode, seed),
      log: (msg) => progress.event(msg),
    };

    // builtin: the generator in its own worker thread (worker-driver.ts), off this busy event loop;
    // k6: the user's k6 on the exported script (src/load/k6/), records read from its JSON output.
    driver = createLoadDriver(spec.load.driver, {
      url: endpoints.gateway,
      rate: spec.load.stages ? undefined : spec.load.rate,
      stages: spec.load.stages?.map((s) => ({ rate: s.rate, duration: s.duration })),
      startRate: spec.load.stages ? spec.load.rate : undefined,
      durationMs,
      seed,
      maxInFlight: spec.load.maxInFlight,
      // Plain options: the worker thread builds the seeded payload generator itself.
      payloadOptions: spec.load.fraudShare === undefined ? {} : { fraudShare: spec.load.fraudShare },
      threadNice: generatorNiceFromEnv(),
      k6: { scenario, scenarioFile: opts.file, workDir: opts.dir, events: (t, d) => journal.append(t, d) },
    });
    const lag = new LagMeter(nowMs);
    driver.onRecord((r) => {
      records.push(r);
      lag.add(r);
      journal.append('request', { r }, r.tDone);
    });
    // The generator's own scheduling lag, per second of delivered records (harness health).
    const journalLag = () => {
      const l = lag.take();
      if (l) journal.append('load.lag', l);
    };
    timers.push(setInterval(journalLag, 1000));
    void driver.done.finally(journalLag).catch(() => undefined);

    const plan = plannedInjections(scenario);
    await driver.start();
    loadStart = nowMs();
    journal.append('load.start', {
      rate: spec.load.rate,
      durationMs,
      driver: spec.load.driver,
      generator_thread_nice: driver.threadNice,
    });
    progress.phase('warm-up');
    progress.attach({
      records,
      active: () => faults.active.filter((f) => !f.reverted).map((f) => f.record.type),
      startedAt: loadStart,
      durationMs,
    });

    // Abort conditions over each condition's trailing window. Requests the schedule intended that are
    // still unanswered past their timeout (or a latency condition's threshold) count as failing, so a
    // total hang trips the abort too (abort.ts).
    const watch = new AbortWatch(spec.abort, {
      schedule: new ArrivalSchedule({
        rate: spec.load.stages ? undefined : spec.load.rate,
        stages: spec.load.stages?.map((s) => ({ rate: s.rate, duration: s.duration })),
        startRate: spec.load.stages ? spec.load.rate : undefined,
        durationMs,
      }),
      loadStart,
      value: sliValue,
    });
    timers.push(
      setInterval(() => {
        const met = watch.check(records, nowMs());
        if (met) abortCtl.abort(new Aborted(`abort condition met: ${met.cond.source}`));
      }, ABORT_CHECK_EVERY_MS),
    );

    const at = (offset: number) => sleepUntil(loadStart + offset, abortCtl.signal);
    const firstFaultAt = plan.length ? plan[0].startMs : durationMs;
    const steadyFrom = spec.warmup;
    const steadyTo = Math.min(spec.warmup + (spec.steadyState?.window ?? 10_000), firstFaultAt);

    // Steady-state hypothesis: the system must be healthy before chaos, or the run stops here.
    if (spec.steadyState) {
      await at(steadyTo);
      progress.phase('steady-state hypothesis');
      const window = { from: loadStart + steadyFrom, to: loadStart + steadyTo };
      const ix = new JournalIndex([]);
      steadyResults = evaluate(spec.steadyState.checks, {
        records,
        index: ix,
        phases: { steady: window, fault: window, recovery: window, whole: window },
        killedServices: [],
        stableForMs: spec.stableFor,
        endMs: window.to,
      });
      journal.append('steady-state', { results: steadyResults });
      const failed = steadyResults.filter((r) => !r.passed);
      if (failed.length) {
        steadyStateFailed = true;
        throw new Aborted(
          `steady-state hypothesis not met before any fault: ${failed.map((f) => `${f.check} (${f.status === 'inconclusive' ? f.explanation : `measured ${f.measuredText}`})`).join('; ')}`,
        );
      }
      progress.event('steady-state hypothesis met');
    }

    // Faults on schedule; reverts are scheduled as each one takes effect.
    const pending: Promise<void>[] = [];
    for (const p of plan) {
      await at(p.startMs);
      const task = (async () => {
        const f = await faults.inject(p);
        // A pod kill has nothing to undo, but its fault window still ends (its no-op revert marks it).
        const endAt = p.revertAtMs ?? p.windowEndMs;
        if (f && endAt !== undefined) {
          await at(endAt);
          await faults.revert(f);
        }
      })();
      pending.push(
        task.catch((e) => abortCtl.abort(e instanceof Aborted ? e : new InfraError((e as Error).message))),
      );
    }
    progress.phase(plan.length ? 'fault' : 'load');
    await raceAbort(driver.done, abortCtl.signal);
    loadEnd = nowMs();
    journal.append('load.end', {});
    await Promise.allSettled(pending.map((p) => raceAbort(p, AbortSignal.timeout(1))));
    progress.phase('reverting');
    await faults.revertAll();
    dataLoss = await faults.verifyRestored();
    // One more scrape round so the journal holds the final counter values.
    await new Promise((r) => setTimeout(r, 1100));
  } catch (e) {
    const err = abortCtl.signal.aborted ? abortCtl.signal.reason : e;
    if (err instanceof Aborted) {
      verdict = 'aborted';
      reason = err.message;
      markers.push({ t: nowMs(), kind: 'abort', label: err.message });
    } else {
      verdict = 'error';
      reason = (err as Error).message ?? String(err);
    }
    journal.append('run.interrupted', { verdict, reason });
    progress.event(`${verdict}: ${reason}`);
  } finally {
    for (const t of timers) clearInterval(t);
    // Every fault reverted first (within the abort deadline), whatever went wrong above; then the load
    // stops (it may wait for in-flight requests up to their timeout).
    await faults.revertAll().catch((e) => {
      verdict = 'error';
      reason = `${reason ? `${reason}; ` : ''}${(e as Error).message}`;
    });
    await driver?.stop().catch(() => undefined);
    if (!loadEnd) loadEnd = nowMs();
    // The load never started (platform or probe failed): phases and charts are empty, not epoch-long.
    if (!loadStart) loadStart = loadEnd;
    await Promise.all(probes.map((p) => p.stop()));
    await observers?.stop();
    progress.detach();
    progress.phase('tearing down');
    // Aborted while starting: what started is stopped once start() settles (a failed start cleans up itself).
    if (!platform && starting) platform = await starting.catch(() => undefined);
    await (platform as StartedPlatform | undefined)
      ?.stop()
      .catch((e) => journal.append('platform.stop.failed', { error: (e as Error).message }));
    opts.signal.removeEventListener('abort', onExternalAbort);
  }

  // ---- evaluation ----
  const entries = readJournal(journal.file);
  const ix = new JournalIndex(entries);
  const t0 = faultRecords
    .map((f) => f.injectedAt)
    .filter((t): t is number => t !== undefined)
    .sort((a, b) => a - b)[0];
  const windowEnds = faults.active.map((f) =>
    f.planned.windowEndMs !== undefined
      ? loadStart + f.planned.windowEndMs
      : (f.record.revertedAt ?? loadEnd),
  );
  const faultEnd = t0 === undefined ? loadEnd : Math.min(loadEnd, Math.max(...windowEnds, t0));
  const whole = { from: loadStart + spec.warmup, to: loadEnd };
  const phases: Phases = {
    steady: { from: loadStart + spec.warmup, to: t0 ?? loadEnd },
    fault: t0 === undefined ? { from: loadEnd, to: loadEnd } : { from: t0, to: faultEnd },
    recovery: { from: faultEnd, to: loadEnd },
    whole,
  };
  const input = {
    records,
    index: ix,
    phases,
    t0,
    t0s: faultRecords
      .map((f) => f.injectedAt)
      .filter((t): t is number => t !== undefined)
      .sort((a, b) => a - b),
    killedServices: faultRecords
      .filter((f) => f.type === 'pod-kill')
      .map((f) => String((f.spec.target as { service: string }).service)),
    dataLoss,
    runbook: opts.runbook?.targets,
    probes: entries.filter((e) => e.type === 'probe').map((e) => e.result as ProbeResult),
    stableForMs: spec.stableFor,
    steadyChecks: spec.steadyState?.checks,
    endMs: loadEnd,
    driftFeature: faultRecords.find((f) => f.type === 'drift')?.spec.feature as string | undefined,
  };
  const m = measure(input);
  // Without a healthy baseline (or with a broken run) the checks would only measure noise: not evaluated.
  const checks = verdict === 'error' || steadyStateFailed ? [] : evaluate(spec.checks, input, m);
  if (verdict === 'passed' && checks.some((c) => !c.passed)) verdict = 'failed';
  journal.append('evaluation', { verdict, reason, checks });
  journal.close();

  markers.push(...timelineMarkers(ix, m, t0, opts.runbook));
  return {
    name: metadata.name,
    description: metadata.description,
    file: displayPath(opts.file),
    verdict,
    reason,
    startedAt,
    endedAt: nowMs(),
    runbook: opts.runbook?.summary,
    phases,
    load: { driver: spec.load.driver, rate: spec.load.rate, durationMs, seed },
    faults: faultRecords,
    steadyState: steadyResults,
    checks,
    measurements: measurementsOf(m),
    errorBudget: errorBudgetOf(m, opts.runbook),
    probes: entries.filter((e) => e.type === 'probe').map((e) => e.result as ProbeResult),
    harness: harnessHealth(entries, whole.from),
    timeline: timeSeries(records, { from: loadStart, to: loadEnd, bucketMs: 1000, t0 }),
    ...qualityOf(records),
    markers: markers.sort((a, b) => a.t - b.t),
    journal: path.relative(opts.runDir, journal.file),
  };
}

class InfraError extends Error {}
