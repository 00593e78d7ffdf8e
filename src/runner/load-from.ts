// `faultline run <scenario> --load-from k6.json[,more.json]`: evaluate a scenario over k6 output
// recorded elsewhere (a team's k6 in its own infrastructure during the game day, or the runners of a
// k6-operator TestRun), into the same report a run writes. Nothing is started or injected.
//
// Time base: k6 stamps every sample with absolute wall-clock time, and Faultline's journal uses
// absolute epoch ms too (src/load/clock.ts), so records and fault times compare directly (hosts'
// clocks must agree, e.g. NTP). The load starts where the k6 run started: for Faultline's exported
// script exactly (intended time of arrival i minus its schedule offset), for any other script at
// its first request. Fault times come from `--journal <journal.ndjson>` of the Faultline run that
// injected them (fault.injected / fault.reverted entries, and the pipeline signals scraped there:
// MTTD, mitigation, retries) or, without one, from the scenario's plan (planned offsets from the
// load start; checks that need pipeline signals are then inconclusive and say so).
//
// The report's parts come from assemble.ts, as a run's do.
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Journal, type JournalEntry, readJournal } from '../journal/journal.ts';
import type { RequestRecord } from '../load/driver.ts';
import { detectSource, K6Ingest, type K6IngestStats, type K6Source } from '../load/k6/ingest.ts';
import { ArrivalSchedule } from '../load/schedule.ts';
import type { FaultRecord, ScenarioReport, Verdict } from '../report/model.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { plannedInjections } from '../scenario/schedule.ts';
import { timeSeries } from '../slo/timeseries.ts';
import { displayPath, errorBudgetOf, measurementsOf, qualityOf } from './assemble.ts';
import { type CheckResult, evaluate, measure, type Phases } from './evaluate.ts';
import type { ResolvedRunbook } from './run.ts';
import { JournalIndex } from './signals.ts';

export interface LoadFromOptions {
  files: string[];
  /** Journal of the Faultline run that injected the faults (optional). */
  journal?: string;
  dir: string;
  runDir: string;
  runbook?: ResolvedRunbook;
}

/** Reads k6 JSON output files (plain or .gz) into records; each file's source is detected on its own. */
export function readK6Files(files: string[]): {
  records: RequestRecord[];
  /** True when every file came from Faultline's script (records carry their arrival index). */
  indexed: boolean;
  stats: (K6IngestStats & { file: string; source: K6Source })[];
} {
  const records: RequestRecord[] = [];
  const stats: (K6IngestStats & { file: string; source: K6Source })[] = [];
  for (const file of files) {
    const raw = fs.readFileSync(file);
    const text = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
    const source = detectSource(text);
    const ingest = new K6Ingest({ source, onRecord: (r) => records.push(r) });
    ingest.push(text);
    ingest.end();
    stats.push({ file, source, ...ingest.stats });
  }
  return { records, indexed: stats.every((s) => s.source === 'faultline'), stats };
}

export async function evaluateK6Output(
  loaded: LoadedScenario,
  opts: LoadFromOptions,
): Promise<ScenarioReport> {
  const { scenario } = loaded;
  const { spec, metadata } = scenario;
  const startedAt = Date.now();
  const { records, indexed, stats } = readK6Files(opts.files);
  if (records.length === 0)
    throw new Error(`no request records in ${opts.files.join(', ')} (k6 --out json output expected)`);
  const durationMs = spec.load.duration ?? (spec.load.stages ?? []).reduce((a, s) => a + s.duration, 0);
  const schedule = new ArrivalSchedule(
    spec.load.stages
      ? {
          startRate: spec.load.rate,
          stages: spec.load.stages.map((s) => ({ rate: s.rate, duration: s.duration })),
          durationMs,
        }
      : { rate: spec.load.rate, durationMs },
  );
  const loadStart = loadStartOf(records, schedule, indexed);
  const loadEnd = Math.max(loadStart + durationMs, ...records.map((r) => r.tDone));

  const journal = new Journal(path.join(opts.dir, 'journal.ndjson'));
  journal.append('run.start', {
    scenario: metadata.name,
    file: loaded.file,
    mode: 'load-from',
    files: opts.files,
    journal: opts.journal ?? null,
  });
  for (const s of stats) journal.append('load.k6.ingest', { ...s });
  journal.append('load.start', { driver: 'k6 (recorded)', rate: spec.load.rate, durationMs }, loadStart);
  for (const r of records) journal.append('request', { r }, r.tDone);
  journal.append('load.end', {}, loadEnd);

  // Faults: as the injecting run journaled them, or as planned.
  const given: JournalEntry[] = opts.journal
    ? readJournal(opts.journal).filter((e) => e.type !== 'request')
    : [];
  const faults: FaultRecord[] = opts.journal ? faultsFromJournal(given) : plannedFaults(loaded, loadStart);
  const ix = new JournalIndex(given);
  const t0s = faults
    .map((f) => f.injectedAt)
    .filter((t): t is number => t !== undefined)
    .sort((a, b) => a - b);
  const t0 = t0s[0];
  const planned = plannedInjections(scenario);
  const windowEnds = faults.map((f, i) => {
    const p = planned.find((q) => q.faultId === f.id) ?? planned[i];
    if (p?.windowEndMs !== undefined && f.injectedAt !== undefined)
      return f.injectedAt - p.startMs + p.windowEndMs;
    return f.revertedAt ?? loadEnd;
  });
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
    t0s,
    killedServices: faults
      .filter((f) => f.type === 'pod-kill')
      .map((f) => String((f.spec.target as { service?: string } | undefined)?.service)),
    runbook: opts.runbook?.targets,
    probes: [],
    stableForMs: spec.stableFor,
    steadyChecks: spec.steadyState?.checks,
    endMs: loadEnd,
    driftFeature: faults.find((f) => f.type === 'drift')?.spec.feature as string | undefined,
  };

  // The steady-state hypothesis over its window, as the runner checks it before the first fault.
  let verdict: Verdict = 'passed';
  let reason: string | undefined;
  let steadyResults: CheckResult[] = [];
  if (spec.steadyState) {
    const firstFaultAt = t0 === undefined ? loadEnd : t0;
    const window = {
      from: loadStart + spec.warmup,
      to: Math.min(loadStart + spec.warmup + spec.steadyState.window, firstFaultAt),
    };
    steadyResults = evaluate(spec.steadyState.checks, {
      records,
      index: new JournalIndex([]),
      phases: { steady: window, fault: window, recovery: window, whole: window },
      killedServices: [],
      stableForMs: spec.stableFor,
      endMs: window.to,
    });
    journal.append('steady-state', { results: steadyResults });
    const failed = steadyResults.filter((r) => !r.passed);
    if (failed.length) {
      verdict = 'aborted';
      reason = `steady-state hypothesis not met before any fault: ${failed.map((f) => `${f.check} (${f.status === 'inconclusive' ? f.explanation : `measured ${f.measuredText}`})`).join('; ')}`;
    }
  }
  const m = measure(input);
  const checks = verdict === 'aborted' ? [] : evaluate(spec.checks, input, m);
  if (verdict === 'passed' && checks.some((c) => !c.passed)) verdict = 'failed';
  journal.append('evaluation', { verdict, reason, checks });
  journal.close();

  return {
    name: metadata.name,
    description: metadata.description,
    file: displayPath(loaded.file),
    verdict,
    reason,
    startedAt,
    endedAt: Date.now(),
    runbook: opts.runbook?.summary,
    phases,
    load: { driver: 'k6 (recorded)', rate: spec.load.rate, durationMs, seed: spec.load.seed },
    faults,
    steadyState: steadyResults,
    checks,
    measurements: measurementsOf(m),
    errorBudget: errorBudgetOf(m, opts.runbook),
    probes: [],
    timeline: timeSeries(records, { from: loadStart, to: loadEnd, bucketMs: 1000, t0 }),
    ...qualityOf(records),
    markers: faults.flatMap((f) => [
      ...(f.injectedAt === undefined
        ? []
        : [
            {
              t: f.injectedAt,
              kind: 'fault-inject' as const,
              label: `${f.type} ${opts.journal ? 'injected' : 'planned'}`,
            },
          ]),
      ...(f.revertedAt === undefined
        ? []
        : [{ t: f.revertedAt, kind: 'fault-revert' as const, label: `${f.type} reverted` }]),
    ]),
    journal: path.relative(opts.runDir, journal.file),
  };
}

/**
 * Where the k6 run's schedule started. Faultline's script stamps each request with its arrival index
 * and intended time, so start = intended − offset(index) (the same for every record, up to rounding);
 * records of other scripts carry no index (seq is their arrival order): their first request.
 */
function loadStartOf(records: RequestRecord[], schedule: ArrivalSchedule, indexed: boolean): number {
  let start = Number.POSITIVE_INFINITY;
  for (const r of records) {
    const off = indexed && r.seq >= 0 ? schedule.offset(r.seq) : undefined;
    start = Math.min(start, off === undefined ? r.tIntended : r.tIntended - off);
  }
  return start;
}

function plannedFaults(loaded: LoadedScenario, loadStart: number): FaultRecord[] {
  return plannedInjections(loaded.scenario).map((p) => ({
    id: p.faultId,
    type: p.fault.type,
    name: p.fault.name,
    spec: JSON.parse(JSON.stringify(p.fault)),
    plan: { timing: 'planned (no journal of the injection was given)', atMs: p.startMs },
    injectedAt: loadStart + p.startMs,
    revertedAt: p.revertAtMs === undefined ? undefined : loadStart + p.revertAtMs,
  }));
}

function faultsFromJournal(entries: JournalEntry[]): FaultRecord[] {
  const byId = new Map<string, FaultRecord>();
  for (const e of entries) {
    const id = String(e.fault_id ?? '');
    if (e.type === 'fault.inject.intent')
      byId.set(id, {
        id,
        type: String(e.fault_type),
        spec: (e.spec as Record<string, unknown>) ?? {},
        plan: e.plan as Record<string, unknown> | undefined,
      });
    else if (e.type === 'fault.injected' && byId.has(id)) byId.get(id)!.injectedAt = e.ts_ms;
    else if (e.type === 'fault.reverted' && byId.has(id)) {
      const f = byId.get(id)!;
      f.revertedAt = e.ts_ms;
      f.revertResult = e.result as string | undefined;
    }
  }
  return [...byId.values()];
}
