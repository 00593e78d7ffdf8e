// One scenario, start to finish: start platform → warm-up → steady-state hypothesis → faults on
// schedule (journaled before injection) → observe → revert → recovery → evaluate → tear down.
// Whatever happens (abort condition, signal, error), every injected fault is reverted and the
// platform stopped before this returns.

import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumPath } from '../browser/chromium.ts';
import type { FaultContext, StoredRow, UndoRecord } from '../faults/fault.ts';
import { linksToProxy, prepareFault } from '../faults/index.ts';
import { applyUndo } from '../faults/undo.ts';
import { nowMs } from '../load/clock.ts';
import type { TransformSpec } from '../load/drift-transform.ts';
import type { RequestRecord } from '../load/driver.ts';
import { createLoadDriver, type RunnerLoadDriver } from '../load/factory.ts';
import { LagMeter } from '../load/lag.ts';
import { seededRandom } from '../load/random.ts';
import { ArrivalSchedule } from '../load/schedule.ts';
import { DEFAULT_GENERATOR_NICE } from '../load/worker-driver.ts';
import { BrowserProbe } from '../observe/browser-probe.ts';
import { Observers } from '../observe/observers.ts';
import type { Probe, ProbeResult } from '../observe/probe.ts';
import type { Mechanism } from '../pipeline/common/config.ts';
import { LocalPlatform } from '../platforms/local/local-platform.ts';
import type { Platform } from '../platforms/platform.ts';
import type { FaultRecord, Marker, RunbookSummary, ScenarioReport, Verdict } from '../report/model.ts';
import { expandSchedule, plannedInjections, type ScheduledFault } from '../scenario/schedule.ts';
import type { Fault, Scenario } from '../scenario/schema.ts';
import type { summarize } from '../slo/summarize.ts';
import { qualitySeries, timeSeries } from '../slo/timeseries.ts';
import { ABORT_CHECK_EVERY_MS, AbortWatch } from './abort.ts';
import { listEntities } from './entities.ts';
import {
  type CheckResult,
  evaluate,
  measure,
  type PhaseName,
  type Phases,
  type RunbookTargets,
} from './evaluate.ts';
import { Journal, readJournal } from './journal.ts';
import type { Progress } from './progress.ts';
import { JournalIndex } from './signals.ts';

const TRAINER = fileURLToPath(new URL('../pipeline/trainer/main.ts', import.meta.url));

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
  /** Builds the platform; default: the local platform. */
  platform?: (opts: {
    replicas: number;
    disabled: Set<Mechanism>;
    seed: number;
    stateDir: string;
    faultLinks: string[];
  }) => Platform;
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
    platform: 'local',
    fault_links: faultLinks,
    host: os.hostname(),
  });
  const platformOpts = { replicas, disabled, seed, stateDir: path.join(opts.dir, 'pipeline'), faultLinks };
  const platform = opts.platform?.(platformOpts) ?? new LocalPlatform(platformOpts);
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

  const revert = async (f: ActiveFault) => {
    if (f.reverted) return;
    f.reverted = true;
    journal.append('fault.revert.intent', { fault_id: f.record.id });
    try {
      f.record.revertResult = await applyUndo(f.undo, { platform, load: hooks });
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
    const endpoints = await raceAbort(platform.start(), abortCtl.signal);
    journal.append('platform.ready', { endpoints: { ...endpoints, adminToken: '(redacted)' } });
    // The cleanup path needs the token to revert through admin APIs after a crash: keep it in the journal's undo records only.
    observers = new Observers(journal, endpoints);
    observers.start(platform);
    for (const p of probes) await p.start({ endpoints, journal, clock: nowMs });
    const entities = await listEntities(endpoints);
    ctx = {
      platform,
      endpoints,
      load: hooks,
      // Victims and entities come from the scenario seed, so a rerun hits the same targets.
      random: seededRandom(seed),
      entities: () => entities,
      trainer: (mode) => runTrainer(mode, endpoints, seed),
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
      threadNice: generatorNice(),
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
    await platform
      .stop()
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
        const res = await fetch(`${undo.featureServer}/v1/admin/rows?${q}`, {
          headers: { authorization: `Bearer ${undo.token}` },
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

/**
 * Nice value of the generator's thread. The generator is the instrument: it needs a fraction of a
 * core, and when the pipeline saturates the CPU a thread at the same priority waits its turn and
 * sends late. -5 by default (needs CAP_SYS_NICE; otherwise the thread keeps the process's priority,
 * journaled in load.start); FAULTLINE_GENERATOR_NICE overrides (0: same as the harness).
 */
function generatorNice(): number | undefined {
  const v = process.env.FAULTLINE_GENERATOR_NICE;
  if (v === undefined || v.trim() === '') return DEFAULT_GENERATOR_NICE;
  const n = Number(v);
  return Number.isInteger(n) && n >= -20 && n <= 19 ? n : DEFAULT_GENERATOR_NICE;
}
/** Above this event-loop delay the runner was too starved for its latency figures to be trusted. */
const STARVED_LOOP_DELAY_MS = 250;

function harnessHealth(
  entries: { type: string; [k: string]: unknown }[],
  measuredFrom = Number.NEGATIVE_INFINITY,
): ScenarioReport['harness'] {
  const h = entries.filter((e) => e.type === 'harness');
  if (!h.length) return undefined;
  const max = Math.max(...h.map((e) => Number(e.loopDelayMaxMs)));
  const p99 = Math.max(...h.map((e) => Number(e.loopDelayP99Ms)));
  // After warm-up, like the phases: the worker's first second (JIT, new connections) is warm-up's.
  const lag = entries.filter((e) => e.type === 'load.lag' && Number(e.to) > measuredFrom);
  const generator = lag.length
    ? {
        generatorLagP99Ms: Math.max(...lag.map((e) => Number(e.p99Ms))),
        generatorLagMaxMs: Math.max(...lag.map((e) => Number(e.maxMs))),
      }
    : {};
  return { loopDelayMaxMs: max, loopDelayP99Ms: p99, starved: max > STARVED_LOOP_DELAY_MS, ...generator };
}

/** Scenario files are shown relative to where faultline ran, when they are below it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** The report's quality series, when the answers carried labels (builtin driver). */
function qualityOf(records: RequestRecord[]): { quality?: ReturnType<typeof qualitySeries> } {
  return records.some((r) => r.label !== undefined) ? { quality: qualitySeries(records) } : {};
}

function sliValue(metric: string, s: ReturnType<typeof summarize>): number | null {
  if (metric === 'availability') return s.availability;
  if (metric === 'error_rate') return s.errorRate;
  if (metric === 'fallback.share') return s.fallbackShare;
  if (metric === 'throughput') return s.throughput;
  if (metric.startsWith('latency.'))
    return (s.latency as unknown as Record<string, number | null>)[metric.slice(8)] ?? null;
  return null;
}

function timelineMarkers(
  ix: JournalIndex,
  m: ReturnType<typeof measure>,
  t0: number | undefined,
  runbook?: ResolvedRunbook,
): Marker[] {
  const out: Marker[] = [];
  if (m.mttd?.t !== undefined)
    out.push({ t: m.mttd.t, kind: 'detection', label: `detected: ${m.mttd.signal}` });
  if (m.mitigation?.t !== undefined)
    out.push({ t: m.mitigation.t, kind: 'mitigation', label: `mitigation: ${m.mitigation.name}` });
  if (m.rollback?.t !== undefined)
    out.push({ t: m.rollback.t, kind: 'rollback', label: 'controller rollback' });
  if (m.mttr?.recoveredAt !== undefined && t0 !== undefined)
    out.push({
      t: m.mttr.recoveredAt,
      kind: 'recovery',
      label: `recovered (runbook ${runbook?.targets.id ?? ''})`,
    });
  for (const e of ix.platformEvents()) {
    if (e.kind === 'replica-exited')
      out.push({ t: e.ts_ms, kind: 'replica-exit', label: `${String(e.name)} exited` });
    if (e.kind === 'replica-started')
      out.push({ t: e.ts_ms, kind: 'replica-start', label: `${String(e.name)} started` });
  }
  for (const e of ix.entries) {
    if (e.type === 'alias' && e.previous)
      out.push({ t: e.ts_ms, kind: 'alias', label: `champion → v${String(e.version)}` });
  }
  for (const ev of ix.controllerEvents()) {
    if (ev.type === 'alert') out.push({ t: ev.t, kind: 'alert', label: `alert ${ev.name ?? ''}` });
  }
  return out;
}

function sleepUntil(t: number, signal: AbortSignal): Promise<void> {
  const ms = t - nowMs();
  if (signal.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Runs the trainer job against this pipeline; returns the JSON object of its last output line. */
function runTrainer(
  mode: string,
  ep: { registry: string; featureServer: string; adminToken: string },
  seed: number,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TRAINER], {
      env: {
        ...process.env,
        REGISTRY_URL: ep.registry,
        FEATURE_SERVER_URL: ep.featureServer,
        ADMIN_TOKEN: ep.adminToken,
        SEED: String(seed),
        MODE: mode,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0)
        return reject(
          new Error(`trainer (${mode}) exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`),
        );
      const lines = out.trim().split('\n').reverse();
      for (const l of lines) {
        try {
          const obj = JSON.parse(l);
          if (obj && typeof obj === 'object' && !('level' in obj && 'msg' in obj && !('version' in obj)))
            return resolve(obj);
        } catch {
          // not a JSON line
        }
      }
      reject(new Error(`trainer (${mode}) printed no JSON result`));
    });
  });
}
