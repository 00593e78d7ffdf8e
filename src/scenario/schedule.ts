// The fault list (serial entries, parallel groups, repeats) expanded once, for validation output and
// the runner alike: when each occurrence starts and ends, and the planned phase windows. The runner
// replaces planned times with journaled ones (fault start t0 = when the injection took effect).
import type { Phase } from './checks.ts';
import { DEFAULTS, type Fault, isParallelGroup, type LoadSpec, type Scenario } from './schema.ts';
import { parseDuration } from './units.ts';

export interface ScheduledFault {
  /** Where it is declared: `faults[0]` or `faults[1].parallel[0]`. */
  id: string;
  /** The fault's `name`, or `<type>-<n>` counted over the file. */
  name: string;
  fault: Fault;
  /** 0-based index among the fault's repeats. */
  occurrence: number;
  /** Index of the entry in `spec.faults` (members of a parallel group share it). */
  entry: number;
  /** Planned start, ms after load start. */
  startMs: number;
  /** Planned end of this occurrence's fault phase (the revert, for reversible faults). */
  endMs: number;
  /** false for pod-kill: nothing to revert, the platform replaces the pod. */
  reverts: boolean;
  /** The run's id for this occurrence (journal `fault_id`): `<entry>[.<member>]#<occurrence + 1>`. */
  faultId: string;
  /** When the runner reverts it; undefined: nothing to revert (pod-kill) or held until the load ends. */
  revertAtMs?: number;
  /** End of the fault window for phase accounting; undefined: until it is actually reverted. */
  windowEndMs?: number;
}

export type Window = { startMs: number; endMs: number };

const ms = (d: string) => (parseDuration(d) as { value: number }).value;

export function loadDurationMs(load: Pick<LoadSpec, 'duration' | 'stages'>): number {
  return load.duration ?? (load.stages ?? []).reduce((a, s) => a + s.duration, 0);
}

/** How long one occurrence's fault phase lasts, with the documented defaults. */
export function effectiveDurationMs(
  type: string,
  duration: number | undefined,
  atMs: number,
  loadMs: number,
): number {
  if (duration !== undefined) return duration;
  if (type === 'pod-kill') return ms(DEFAULTS.podKillWindow);
  if (type === 'bad-model-rollout') return Math.max(0, loadMs - atMs);
  return 0;
}

/** Occurrence windows of one fault-like entry (shared with the semantic checks on raw input). */
export function occurrences(
  f: { type: string; duration?: number; repeat?: { every: number; times: number } },
  atMs: number,
  loadMs: number,
): Window[] {
  const times = f.repeat?.times ?? 1;
  const out: Window[] = [];
  for (let k = 0; k < times; k++) {
    const start = atMs + k * (f.repeat?.every ?? 0);
    out.push({ startMs: start, endMs: start + effectiveDurationMs(f.type, f.duration, start, loadMs) });
  }
  return out;
}

export function expandSchedule(s: Scenario): ScheduledFault[] {
  const loadMs = loadDurationMs(s.spec.load);
  const out: ScheduledFault[] = [];
  const counts = new Map<string, number>();
  const add = (fault: Fault, at: number, entry: number, id: string, key: string) => {
    const n = (counts.get(fault.type) ?? 0) + 1;
    counts.set(fault.type, n);
    const name = fault.name ?? `${fault.type}-${n}`;
    const reverts = fault.type !== 'pod-kill';
    // Without a duration, a reversible fault (bad-model-rollout) is held until the load ends.
    const held = reverts && fault.duration === undefined;
    occurrences(fault, at, loadMs).forEach((w, occurrence) => {
      out.push({
        id,
        name,
        fault,
        occurrence,
        entry,
        ...w,
        reverts,
        faultId: `${key}#${occurrence + 1}`,
        revertAtMs: reverts && !held ? w.endMs : undefined,
        windowEndMs: held ? undefined : w.endMs,
      });
    });
  };
  s.spec.faults.forEach((e, i) => {
    if (isParallelGroup(e)) {
      e.parallel.forEach((f, j) => {
        add(f, e.at, i, `faults[${i}].parallel[${j}]`, `${i}.${j}`);
      });
    } else add(e, e.at, i, `faults[${i}]`, String(i));
  });
  return out.sort((a, b) => a.startMs - b.startMs || a.entry - b.entry);
}

/** What the runner injects, in start order: every occurrence that starts before the load ends. */
export function plannedInjections(s: Scenario): ScheduledFault[] {
  const loadMs = loadDurationMs(s.spec.load);
  return expandSchedule(s).filter((f) => f.startMs < loadMs);
}

/**
 * Planned phase windows (ms from load start). steady: the window before the first fault (clipped at
 * warmup); fault: first fault start → last fault end; recovery: last fault end → load end;
 * whole: warmup → load end. Without faults, steady covers the whole run and fault/recovery are null.
 */
export function plannedPhases(s: Scenario): Record<Phase, Window | null> {
  const loadMs = loadDurationMs(s.spec.load);
  const warmup = s.spec.warmup;
  const whole = { startMs: warmup, endMs: loadMs };
  const sched = expandSchedule(s);
  if (sched.length === 0) return { steady: whole, fault: null, recovery: null, whole };
  const first = Math.min(...sched.map((f) => f.startMs));
  const last = Math.max(...sched.map((f) => f.endMs));
  const window = s.spec.steadyState?.window ?? ms(DEFAULTS.steadyWindow);
  const steadyStart = Math.max(warmup, first - window);
  return {
    steady: first > steadyStart ? { startMs: steadyStart, endMs: first } : null,
    fault: { startMs: first, endMs: Math.min(last, loadMs) },
    recovery: last < loadMs ? { startMs: last, endMs: loadMs } : null,
    whole,
  };
}
