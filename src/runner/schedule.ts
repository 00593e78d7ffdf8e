// Expands a scenario's fault list (serial entries, parallel groups, repeats) into concrete
// injections, each with its start offset and the end of its fault window.
import { DEFAULTS, type Fault, type FaultEntry, isParallelGroup } from '../scenario/schema.ts';
import { parseDuration } from '../scenario/units.ts';

export interface PlannedInjection {
  /** Stable id within the run: `<index>[.<member>]#<repeat>`. */
  id: string;
  fault: Fault;
  /** Offset from load start (ms). */
  atMs: number;
  /** Offset at which it is reverted; undefined = held until the load ends. */
  revertAtMs?: number;
  /** End of the fault window for phase accounting (pod-kill has nothing to revert but still has a window). */
  windowEndMs?: number;
}

const podKillWindowMs = (() => {
  const r = parseDuration(DEFAULTS.podKillWindow);
  return r.ok ? r.value : 10_000;
})();

export function planInjections(entries: FaultEntry[], loadDurationMs: number): PlannedInjection[] {
  const out: PlannedInjection[] = [];
  entries.forEach((entry, i) => {
    const members: { fault: Fault; id: string; at: number }[] = isParallelGroup(entry)
      ? entry.parallel.map((f, j) => ({
          fault: { ...f, at: entry.at } as Fault,
          id: `${i}.${j}`,
          at: entry.at,
        }))
      : [{ fault: entry, id: String(i), at: entry.at }];
    for (const m of members) {
      const times = m.fault.repeat?.times ?? 1;
      const every = m.fault.repeat?.every ?? 0;
      for (let k = 0; k < times; k++) {
        const atMs = m.at + k * every;
        if (atMs >= loadDurationMs) break;
        const dur = m.fault.duration;
        let revertAtMs: number | undefined;
        let windowEndMs: number | undefined;
        if (m.fault.type === 'pod-kill') {
          windowEndMs = atMs + (dur ?? podKillWindowMs);
        } else if (dur !== undefined) {
          revertAtMs = atMs + dur;
          windowEndMs = revertAtMs;
        }
        out.push({ id: `${m.id}#${k + 1}`, fault: m.fault, atMs, revertAtMs, windowEndMs });
      }
    }
  });
  return out.sort((a, b) => a.atMs - b.atMs);
}
