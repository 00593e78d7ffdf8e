// A record of every running local pipeline (owner pid, child pids, state dir), so `faultline cleanup`
// and `pipeline down` can find and stop what a killed runner left behind.
import fs from 'node:fs';
import path from 'node:path';

export interface ActiveRecord {
  /** The process that owns the pipeline (runner or `pipeline up`). */
  pid: number;
  stateDir: string;
  startedAt: string;
  /** Child processes currently alive. */
  pids: number[];
}

export const faultlineHome = () => path.resolve(process.env.FAULTLINE_HOME ?? '.faultline');
const activeDir = () => path.join(faultlineHome(), 'active');
const fileFor = (pid: number, stateDir: string) =>
  path.join(activeDir(), `${pid}-${path.basename(stateDir)}.json`);

export function recordActive(r: ActiveRecord): void {
  fs.mkdirSync(activeDir(), { recursive: true });
  const f = fileFor(r.pid, r.stateDir);
  // Write-then-rename: a reader never sees half a record.
  fs.writeFileSync(`${f}.tmp`, JSON.stringify(r));
  fs.renameSync(`${f}.tmp`, f);
}

export function forgetActive(pid: number, stateDir: string): void {
  fs.rmSync(fileFor(pid, stateDir), { force: true });
}

export function listActive(): (ActiveRecord & { file: string })[] {
  let files: string[] = [];
  try {
    files = fs.readdirSync(activeDir()).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const out: (ActiveRecord & { file: string })[] = [];
  for (const f of files) {
    const file = path.join(activeDir(), f);
    try {
      out.push({ ...(JSON.parse(fs.readFileSync(file, 'utf8')) as ActiveRecord), file });
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
