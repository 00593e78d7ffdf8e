// Every running pipeline, whatever its platform, leaves an AttachRecord under FAULTLINE_HOME/active,
// so `faultline cleanup` and `pipeline down|status` can reach what a killed runner left behind.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AttachRecord } from './platform.ts';

export const faultlineHome = () => path.resolve(process.env.FAULTLINE_HOME ?? '.faultline');
const activeDir = () => path.join(faultlineHome(), 'active');
const fileFor = (r: Pick<AttachRecord, 'runId'>) => path.join(activeDir(), `${r.runId}.json`);

/** A run id that is also a valid Docker/Kubernetes label value (lowercase, digits, dashes). */
export function newRunId(): string {
  return `fl-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export function recordActive(r: AttachRecord): void {
  fs.mkdirSync(activeDir(), { recursive: true });
  const f = fileFor(r);
  // Write-then-rename: a reader never sees half a record. Owner-only: it may hold the admin token
  // (kept here, outside report folders, which CI uploads as artifacts).
  fs.writeFileSync(`${f}.tmp`, JSON.stringify(r), { mode: 0o600 });
  fs.renameSync(`${f}.tmp`, f);
}

export function forgetActive(r: Pick<AttachRecord, 'runId'>): void {
  fs.rmSync(fileFor(r), { force: true });
}

export function listActive(): AttachRecord[] {
  let files: string[] = [];
  try {
    files = fs.readdirSync(activeDir()).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const out: AttachRecord[] = [];
  for (const f of files) {
    try {
      const r = JSON.parse(fs.readFileSync(path.join(activeDir(), f), 'utf8')) as AttachRecord;
      if (typeof r.runId === 'string' && typeof r.platform === 'string') out.push(r);
    } catch {
      // A torn or foreign file: ignore rather than fail cleanup.
    }
  }
  return out;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function waitGone(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pids.some(isAlive)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !pids.some(isAlive);
}
