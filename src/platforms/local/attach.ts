// Reaching a local pipeline from another process (cleanup, `pipeline down|status`): its endpoints are
// in the state dir's status.json, its processes in the attach record.
import fs from 'node:fs';
import path from 'node:path';
import { forgetActive, isAlive, waitGone } from '../active.ts';
import type { AttachedPlatform, AttachRecord, PipelineEndpoints } from '../platform.ts';

interface Status {
  endpoints: PipelineEndpoints | null;
  replicas: { name: string; pid?: number; state: string; restarts: number; url: string }[];
}

export async function attachLocal(record: AttachRecord): Promise<AttachedPlatform> {
  const status = readStatus(record.stateDir);
  const pids = () => (Array.isArray(record.data.pids) ? (record.data.pids as number[]) : []);
  return {
    record,
    endpoints: status?.endpoints
      ? { ...status.endpoints, adminToken: String(record.data.adminToken ?? '') }
      : undefined,
    ownerAlive: () => isAlive(record.ownerPid),
    async startService(service) {
      // Local replicas are supervised inside their owner process: with the owner gone nothing can
      // supervise a restarted service, and teardown() removes the whole pipeline next.
      return `${service} is stopped with the rest of the local pipeline (its supervisor died with its owner)`;
    },
    async status() {
      return readStatus(record.stateDir)?.replicas ?? [];
    },
    async teardown() {
      const removed: string[] = [];
      if (record.ownerPid !== process.pid && isAlive(record.ownerPid)) {
        // The owner stops its own pipeline (and reverts its own faults) on SIGTERM.
        process.kill(record.ownerPid, 'SIGTERM');
        await waitGone([record.ownerPid], 8000);
        removed.push(`owner ${record.ownerPid}`);
      }
      const left = pids().filter(isAlive);
      for (const pid of left) process.kill(pid, 'SIGTERM');
      await waitGone(left, 4000);
      for (const pid of left.filter(isAlive)) process.kill(pid, 'SIGKILL');
      removed.push(...left.map((p) => `process ${p}`));
      forgetActive(record);
      return { removed };
    },
  };
}

function readStatus(stateDir: string): Status | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, 'status.json'), 'utf8')) as Status;
  } catch {
    return undefined;
  }
}
