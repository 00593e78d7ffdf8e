// The faults of one run: each journaled (with its undo record, synced) before it is injected,
// reverted newest first, and checked afterwards where a revert must restore data exactly.
import type { FaultContext, StoredRow, UndoRecord } from '../faults/fault.ts';
import { prepareFault } from '../faults/index.ts';
import { applyUndo, type UndoTarget } from '../faults/undo.ts';
import type { Journal } from '../journal/journal.ts';
import { nowMs } from '../load/clock.ts';
import type { FaultRecord, Marker } from '../report/model.ts';
import type { ScheduledFault } from '../scenario/schedule.ts';
import type { Fault } from '../scenario/schema.ts';
import type { Progress } from './progress.ts';

export interface ActiveFault {
  planned: ScheduledFault;
  record: FaultRecord;
  undo: UndoRecord;
  reverted: boolean;
}

export class FaultSession {
  /** Every fault the schedule reached, injected or not (the report lists them all). */
  readonly records: FaultRecord[] = [];
  readonly active: ActiveFault[] = [];
  private readonly journal: Journal;
  private readonly progress: Progress;
  private readonly markers: Marker[];
  private readonly ctx: () => FaultContext;
  private readonly target: () => UndoTarget;

  /** `ctx` and `target` are read when used: both exist only once the platform has started. */
  constructor(o: {
    journal: Journal;
    progress: Progress;
    markers: Marker[];
    ctx: () => FaultContext;
    target: () => UndoTarget;
  }) {
    this.journal = o.journal;
    this.progress = o.progress;
    this.markers = o.markers;
    this.ctx = o.ctx;
    this.target = o.target;
  }

  async inject(p: ScheduledFault): Promise<ActiveFault> {
    const { journal } = this;
    const record: FaultRecord = {
      id: p.faultId,
      type: p.fault.type,
      name: p.fault.name,
      spec: specOf(p.fault),
    };
    this.records.push(record);
    const prepared = await prepareFault(p.fault, this.ctx());
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
    this.active.push(f);
    this.progress.event(`injecting ${p.fault.type}${p.fault.name ? ` (${p.fault.name})` : ''}`);
    // Each fault says when it started acting (docs/measurements.md, "Fault start"); the call may
    // return much later (a graceful stop, a drift waiting for its first changed payload).
    const { t0, details } = await prepared.inject();
    record.injectedAt = t0;
    journal.append(
      'fault.injected',
      { fault_id: p.faultId, details: details ?? {}, returned_at: nowMs() },
      record.injectedAt,
    );
    this.markers.push({ t: record.injectedAt, kind: 'fault-inject', label: `${p.fault.type} injected` });
    return f;
  }

  async revert(f: ActiveFault): Promise<void> {
    if (f.reverted) return;
    f.reverted = true;
    this.journal.append('fault.revert.intent', { fault_id: f.record.id });
    try {
      f.record.revertResult = await applyUndo(f.undo, this.target());
      f.record.revertedAt = nowMs();
      this.journal.append('fault.reverted', { fault_id: f.record.id, result: f.record.revertResult });
      this.markers.push({ t: f.record.revertedAt, kind: 'fault-revert', label: `${f.record.type} reverted` });
      this.progress.event(`reverted ${f.record.type} (${f.record.revertResult})`);
    } catch (e) {
      f.record.error = `revert failed: ${(e as Error).message}`;
      this.journal.append('fault.revert.failed', { fault_id: f.record.id, error: (e as Error).message });
      throw e;
    }
  }

  /** Newest first, like a stack of changes being unwound; every fault is tried even if one fails. */
  async revertAll(): Promise<void> {
    const errors: string[] = [];
    for (const f of [...this.active].reverse())
      await this.revert(f).catch((e) => errors.push((e as Error).message));
    if (errors.length) throw new Error(`could not revert every fault: ${errors.join('; ')}`);
  }

  /** Rows a corruption's revert did not restore exactly (undefined: no such fault ran). */
  async verifyRestored(): Promise<number | undefined> {
    const restores = this.active.filter((f) => f.undo.kind === 'feature-rows');
    if (restores.length === 0) return undefined;
    const { featureServer, adminToken } = this.target().endpoints;
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
