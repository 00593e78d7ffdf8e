// `faultline cleanup`: undoes what a runner killed with SIGKILL left behind. Every fault it injected
// is in its journal with an undo record; every pipeline it started is in an attach record, through
// which the platform is reached again to revert the faults and remove the pipeline.
import fs from 'node:fs';
import type { UndoRecord } from '../faults/fault.ts';
import { applyUndo } from '../faults/undo.ts';
import { readJournal } from '../journal/journal.ts';
import { attachPlatform, listActive } from '../platforms/index.ts';

export interface CleanupResult {
  pipelines: number;
  reverted: string[];
  failed: string[];
  removed: string[];
}

/** Faults journaled as injected (intent written) but never journaled as reverted. */
export function unreverted(journalFile: string): { id: string; type: string; undo: UndoRecord }[] {
  const entries = readJournal(journalFile);
  const done = new Set(entries.filter((e) => e.type === 'fault.reverted').map((e) => e.fault_id));
  return entries
    .filter((e) => e.type === 'fault.inject.intent' && !done.has(e.fault_id))
    .map((e) => ({ id: String(e.fault_id), type: String(e.fault_type), undo: e.undo as UndoRecord }))
    .reverse();
}

export async function cleanup(
  opts: { all?: boolean; log?: (msg: string) => void } = {},
): Promise<CleanupResult> {
  const log = opts.log ?? (() => undefined);
  const result: CleanupResult = { pipelines: 0, reverted: [], failed: [], removed: [] };
  for (const rec of listActive()) {
    const attached = await attachPlatform(rec);
    // A live owner is still in charge of its pipeline; only orphans are ours (unless --all).
    if (attached.ownerAlive() && rec.ownerPid !== process.pid && !opts.all) continue;
    result.pipelines++;
    const journal = rec.journal;
    if (journal && fs.existsSync(journal)) {
      // Revert while the pipeline is still up: the undo goes through its admin APIs.
      for (const f of unreverted(journal)) {
        try {
          if (!attached.endpoints)
            throw new Error('the pipeline never became ready; nothing to revert through');
          const msg = await applyUndo(f.undo, {
            endpoints: attached.endpoints,
            startService: (s) => attached.startService(s),
          });
          result.reverted.push(`${f.type} ${f.id}: ${msg}`);
          fs.appendFileSync(
            journal,
            `${JSON.stringify({ ts_ms: Date.now(), type: 'fault.reverted', fault_id: f.id, result: msg, by: 'cleanup' })}\n`,
          );
          log(`reverted ${f.type} (${f.id}): ${msg}`);
        } catch (e) {
          result.failed.push(`${f.type} ${f.id}: ${(e as Error).message}`);
          log(`could not revert ${f.type} (${f.id}): ${(e as Error).message}`);
        }
      }
    }
    const { removed } = await attached.teardown();
    result.removed.push(...removed);
    log(
      `removed the ${rec.platform} pipeline ${rec.runId} in ${rec.stateDir} (${removed.length} left-overs)`,
    );
  }
  return result;
}
