// The parts of a scenario report that are assembled from the journal after the run: harness
// health, timeline markers, the quality series and display paths.
import path from 'node:path';
import type { RequestRecord } from '../load/driver.ts';
import type { Marker, PhaseName, ScenarioReport } from '../report/model.ts';
import { qualitySeries } from '../slo/timeseries.ts';
import type { measure } from './evaluate.ts';
import type { ResolvedRunbook } from './run.ts';
import type { JournalIndex } from './signals.ts';

/** Above this event-loop delay the runner was too starved for its latency figures to be trusted. */
const STARVED_LOOP_DELAY_MS = 250;

export function harnessHealth(
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
export function qualityOf(records: RequestRecord[]): { quality?: ReturnType<typeof qualitySeries> } {
  return records.some((r) => r.label !== undefined) ? { quality: qualitySeries(records) } : {};
}

export function timelineMarkers(
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
    if (e.kind === 'replica-gone')
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

/** The report's measurements: MTTD/MTTR and friends, and each phase's summary. */
export function measurementsOf(m: ReturnType<typeof measure>): ScenarioReport['measurements'] {
  return {
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
  };
}

/** Error budget spent against the runbook's availability SLO, when it has one. */
export function errorBudgetOf(
  m: ReturnType<typeof measure>,
  runbook: ResolvedRunbook | undefined,
): ScenarioReport['errorBudget'] {
  const availabilitySlo = runbook?.targets.slos.find((s) => s.metric === 'availability');
  const w = m.summaries.whole;
  return availabilitySlo
    ? {
        objective: availabilitySlo.value,
        requests: w.requests,
        allowedErrors: Math.floor(w.requests * (1 - availabilitySlo.value)),
        errors: w.requests - w.ok,
        consumed: w.requests
          ? (w.requests - w.ok) / Math.max(1e-9, w.requests * (1 - availabilitySlo.value))
          : 0,
      }
    : undefined;
}
