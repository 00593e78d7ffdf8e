// `faultline cleanup`: undoes what a runner killed with SIGKILL left behind. Every fault it injected
// is in its journal with an undo record; the pipeline's processes are in the active records.
import fs from 'node:fs';
import path from 'node:path';
import type { UndoRecord } from '../faults/fault.ts';
import { applyUndo } from '../faults/undo.ts';
import { isAlive, listActive } from '../platforms/local/active.ts';
import { readJournal } from './journal.ts';

export interface CleanupResult {
  pipelines: number;
  reverted: string[];
  failed: string[];
  killed: number[];
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
  const result: CleanupResult = { pipelines: 0, reverted: [], failed: [], killed: [] };
  for (const rec of listActive()) {
    // A live owner is still in charge of its pipeline; only orphans are ours (unless --all).
    if (isAlive(rec.pid) && rec.pid !== process.pid && !opts.all) continue;
    result.pipelines++;
    const journal = path.join(path.dirname(rec.stateDir), 'journal.ndjson');
    if (fs.existsSync(journal)) {
      // Revert while the pipeline's processes are still up: the undo goes through their admin APIs.
      for (const f of unreverted(journal)) {
        try {
          const msg = await applyUndo(f.undo);
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
    if (rec.pid !== process.pid && isAlive(rec.pid)) {
      process.kill(rec.pid, 'SIGTERM');
      await waitGone([rec.pid], 8000);
    }
    const left = rec.pids.filter(isAlive);
    for (const pid of left) process.kill(pid, 'SIGTERM');
    await waitGone(left, 4000);
    for (const pid of left.filter(isAlive)) process.kill(pid, 'SIGKILL');
    result.killed.push(...left);
    fs.rmSync(rec.file, { force: true });
    log(`stopped ${left.length} processes of the pipeline in ${rec.stateDir}`);
  }
  return result;
}

export async function waitGone(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pids.some(isAlive)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !pids.some(isAlive);
}
