// One scenario, start to finish: start platform → warm-up → steady-state hypothesis → faults on
// schedule (journaled before injection) → observe → revert → recovery → evaluate → tear down.
// Whatever happens (abort condition, signal, error), every injected fault is reverted and the
// platform stopped before this returns.

import os from 'node:os';
import path from 'node:path';
import { chromiumPath } from '../browser/chromium.ts';
import type { FaultContext, StoredRow, UndoRecord } from '../faults/fault.ts';
import { linksToProxy, prepareFault } from '../faults/index.ts';
import { applyUndo } from '../faults/undo.ts';
import { Journal, readJournal } from '../journal/journal.ts';
import { nowMs } from '../load/clock.ts';
import type { TransformSpec } from '../load/drift-transform.ts';
import type { RequestRecord } from '../load/driver.ts';
import { LagMeter } from '../load/lag.ts';
import { seededRandom } from '../load/random.ts';
import { ArrivalSchedule } from '../load/schedule.ts';
import { createWorkerDriver, generatorNiceFromEnv } from '../load/worker-driver.ts';
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
import type { FaultRecord, Marker, RunbookSummary, ScenarioReport, Verdict } from '../report/model.ts';
import { expandSchedule, plannedInjections, type ScheduledFault } from '../scenario/schedule.ts';
import type { Fault, Scenario } from '../scenario/schema.ts';
import { timeSeries } from '../slo/timeseries.ts';
import { ABORT_CHECK_EVERY_MS, AbortWatch, sliValue } from './abort.ts';
import { displayPath, harnessHealth, qualityOf, timelineMarkers } from './assemble.ts';
import { listEntities } from './entities.ts';
import {
  type CheckResult,
  evaluate,
  measure,
  type PhaseName,
  type Phases,
  type RunbookTargets,
} from './evaluate.ts';
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

interface ActiveFault {
  planned: ScheduledFault;
  record: FaultRecord;
  undo: UndoRecord;
  reverted: boolean;
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
  const active: ActiveFault[] = [];
  const faultRecords: FaultRecord[] = [];
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
  let driver: ReturnType<typeof createWorkerDriver> | undefined;
  const timers: NodeJS.Timeout[] = [];
  const abortCtl = new AbortController();
  const onExternalAbort = () =>
    abortCtl.abort(new Aborted(`interrupted (${String(opts.signal.reason ?? 'signal')})`));
  opts.signal.addEventListener('abort', onExternalAbort, { once: true });
  if (opts.signal.aborted) onExternalAbort();

  const revert = async (f: ActiveFault) => {
    if (f.reverted) return;
    f.reverted = true;
    journal.append('fault.revert.intent', { fault_id: f.record.id });
    try {
      // Started: a fault is only ever injected into a started platform.
      const p = platform as StartedPlatform;
      f.record.revertResult = await applyUndo(f.undo, {
        endpoints: p.endpoints,
        startService: (s) => p.startService(s),
        load: hooks,
      });
      f.record.revertedAt = nowMs();
      journal.append('fault.reverted', { fault_id: f.record.id, result: f.record.revertResult });
      markers.push({ t: f.record.revertedAt, kind: 'fault-revert', label: `${f.record.type} reverted` });
      progress.event(`reverted ${f.record.type} (${f.record.revertResult})`);
    } catch (e) {
      f.record.error = `revert failed: ${(e as Error).message}`;
      journal.append('fault.revert.failed', { fault_id: f.record.id, error: (e as Error).message });
      throw e;
    }
  };
  const revertAll = async () => {
    const errors: string[] = [];
    // Newest first, like a stack of changes being unwound.
    for (const f of [...active].reverse()) await revert(f).catch((e) => errors.push((e as Error).message));
    if (errors.length) throw new Error(`could not revert every fault: ${errors.join('; ')}`);
  };
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

    // The generator runs in its own worker thread (worker-driver.ts), off this busy event loop.
    driver = createWorkerDriver({
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
      active: () => active.filter((f) => !f.reverted).map((f) => f.record.type),
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
        const f = await injectOne(p);
        // A pod kill has nothing to undo, but its fault window still ends (its no-op revert marks it).
        const endAt = p.revertAtMs ?? p.windowEndMs;
        if (f && endAt !== undefined) {
          await at(endAt);
          await revert(f);
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
    await revertAll();
    dataLoss = await verifyRestored(active);
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
    await revertAll().catch((e) => {
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
  const windowEnds = active.map((f) =>
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
  const availabilitySlo = opts.runbook?.targets.slos.find((s) => s.metric === 'availability');
  const w = m.summaries.whole;
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
    measurements: {
      mttdMs: m.mttd?.ms ?? null,
      mttrMs: m.mttr?.ms ?? null,
      rollbackMs: m.rollback?.ms ?? null,
      driftDetectionMs: m.driftDetection?.ms ?? null,
      // The signal and what emitted it (a gateway metric, the drift monitor, a controller alert…).
      detectionSignal:
        m.mttd?.signal && (m.mttd.source ? `${m.mttd.signal} (${m.mttd.source})` : m.mttd.signal),
      mitigation: m.mitigation,
      recoveredAt: m.mttr?.recoveredAt,
      mttr: m.mttr && {
        recovered: m.mttr.recovered,
        breached: m.mttr.breached,
        resolutionMs: m.mttr.resolutionMs,
        sloSource: m.mttr.sloSource,
        slos: m.mttr.slos,
      },
      phases: Object.fromEntries(
        (Object.keys(m.summaries) as PhaseName[]).map((k) => {
          const s = m.summaries[k];
          return [
            k,
            {
              requests: s.requests,
              ok: s.ok,
              availability: s.availability,
              errorRate: s.errorRate,
              fallbackShare: s.fallbackShare,
              latency: s.latency,
              throughput: s.throughput,
            },
          ];
        }),
      ),
    },
    errorBudget: availabilitySlo
      ? {
          objective: availabilitySlo.value,
          requests: w.requests,
          allowedErrors: Math.floor(w.requests * (1 - availabilitySlo.value)),
          errors: w.requests - w.ok,
          consumed: w.requests
            ? (w.requests - w.ok) / Math.max(1e-9, w.requests * (1 - availabilitySlo.value))
            : 0,
        }
      : undefined,
    probes: entries.filter((e) => e.type === 'probe').map((e) => e.result as ProbeResult),
    harness: harnessHealth(entries, whole.from),
    timeline: timeSeries(records, { from: loadStart, to: loadEnd, bucketMs: 1000, t0 }),
    ...qualityOf(records),
    markers: markers.sort((a, b) => a.t - b.t),
    journal: path.relative(opts.runDir, journal.file),
  };

  async function injectOne(p: ScheduledFault): Promise<ActiveFault | undefined> {
    const record: FaultRecord = {
      id: p.faultId,
      type: p.fault.type,
      name: p.fault.name,
      spec: specOf(p.fault),
    };
    faultRecords.push(record);
    const prepared = await prepareFault(p.fault, ctx!);
    record.plan = prepared.plan;
    // Journaled and synced before the injection: a crash after this line leaves enough to revert.
    journal.append('fault.inject.intent', {
      fault_id: p.faultId,
      fault_type: p.fault.type,
      spec: record.spec,
      plan: prepared.plan,
      undo: prepared.undo,
    });
    journal.sync();
    const f: ActiveFault = { planned: p, record, undo: prepared.undo, reverted: false };
    active.push(f);
    progress.event(`injecting ${p.fault.type}${p.fault.name ? ` (${p.fault.name})` : ''}`);
    // Each fault says when it started acting (docs/measurements.md, "Fault start"); the call may
    // return much later (a graceful stop, a drift waiting for its first changed payload).
    const { t0, details } = await prepared.inject();
    record.injectedAt = t0;
    journal.append(
      'fault.injected',
      { fault_id: p.faultId, details: details ?? {}, returned_at: nowMs() },
      record.injectedAt,
    );
    markers.push({ t: record.injectedAt, kind: 'fault-inject', label: `${p.fault.type} injected` });
    return f;
  }

  async function verifyRestored(faults: ActiveFault[]): Promise<number | undefined> {
    const restores = faults.filter((f) => f.undo.kind === 'feature-rows');
    if (restores.length === 0) return undefined;
    let lost = 0;
    for (const f of restores) {
      const undo = f.undo as Extract<UndoRecord, { kind: 'feature-rows' }>;
      const want = new Map(undo.rows.map((r) => [r.user_id, r]));
      const ids = [...want.keys()];
      for (let i = 0; i < ids.length; i += 200) {
        const q = ids
          .slice(i, i + 200)
          .map((u) => `user_id=${encodeURIComponent(u)}`)
          .join('&');
        const { featureServer, adminToken } = (platform as StartedPlatform).endpoints;
        const res = await fetch(`${featureServer}/v1/admin/rows?${q}`, {
          headers: { authorization: `Bearer ${adminToken}` },
        });
        const got = ((await res.json()) as { rows: StoredRow[] }).rows;
        const gotBy = new Map(got.map((r) => [r.user_id, r]));
        for (const id of ids.slice(i, i + 200)) {
          if (JSON.stringify(canon(gotBy.get(id))) !== JSON.stringify(canon(want.get(id)))) lost++;
        }
      }
    }
    return lost;
  }
}

class InfraError extends Error {}

function canon(r: StoredRow | undefined) {
  if (!r) return null;
  return {
    user_id: r.user_id,
    event_timestamp: new Date(r.event_timestamp).toISOString(),
    features: Object.fromEntries(Object.entries(r.features).sort(([a], [b]) => a.localeCompare(b))),
  };
}

function specOf(f: Fault): Record<string, unknown> {
  return JSON.parse(JSON.stringify(f));
}
