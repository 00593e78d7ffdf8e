// Shared helpers for the benchmarks: robust statistics, the trivial loopback target, process
// memory, machine facts and plain-text tables.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { SERVICE_ENV, SERVICE_EXEC_ARGV } from '../src/platforms/local/local-platform.ts';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || b === 0) return null;
  return a / b;
}

export const round = (x: number | null | undefined, d = 1): number | null =>
  x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d;

export function fmt(x: number | null | undefined, d = 1, unit = ''): string {
  if (x == null || !Number.isFinite(x)) return '—';
  return `${x.toFixed(d)}${unit}`;
}

/** A tiny HTTP server answering every request with a fixed model-server-shaped body, in its own
 *  process so it never shares the generator's event loop. Its latency is the loopback floor. */
const TRIVIAL_SERVER = `
const http = require('node:http');
const body = JSON.stringify({ transaction_id: 't', score: 0.1, decision: 'approve', model_name: 'fraud-primary', model_version: '1', fallback: { used: false, reason: null } });
const s = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'x-model-version': '1' }); res.end(body); });
});
s.keepAliveTimeout = 30000;
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
process.on('SIGTERM', () => s.close(() => process.exit(0)));
setTimeout(() => process.exit(0), 600000).unref();
`;

export interface TrivialServer {
  url: string;
  port: number;
  pid: number;
  close(): Promise<void>;
}

export async function startTrivialServer(): Promise<TrivialServer> {
  // Same V8 flags and environment as a pipeline service, so its RSS is a like-for-like floor.
  const child: ChildProcess = spawn(process.execPath, [...SERVICE_EXEC_ARGV, '-e', TRIVIAL_SERVER], {
    env: { ...process.env, ...SERVICE_ENV },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(chunk.toString().trim());
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const hard = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(hard);
    },
  };
}

/** A `Name:   123 kB` field of a /proc file in MiB, or null if the process is gone. */
function procKiBField(file: string, field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(fs.readFileSync(file, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Resident set size of a process in MiB (VmRSS), or null if it is gone. */
export const rssMiB = (pid: number) => procKiBField(`/proc/${pid}/status`, 'VmRSS');

/**
 * Proportional set size in MiB (`Pss` of /proc/<pid>/smaps_rollup): each shared page charged in
 * equal parts to the processes mapping it, so a sum over processes counts the Node binary's pages
 * once instead of once per process. Null if the process is gone.
 */
export const pssMiB = (pid: number) => procKiBField(`/proc/${pid}/smaps_rollup`, 'Pss');

const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat times are in 1/100 s on every mainstream kernel.

/** CPU time (user + system) a process has used so far, in ms, or null if it is gone. */
export function procCpuMs(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at state (field 3).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/** What the whole machine did over an interval: CPU of every process, time stolen by the host, disk reads. */
export interface MachineDelta {
  wallMs: number;
  /** CPU time of every process on the machine (user, nice, system, irq, softirq), ms. */
  busyMs: number;
  /** Time the hypervisor ran something else while this VM wanted a CPU, ms. */
  stealMs: number;
  iowaitMs: number;
  /** Page faults that had to read from disk (e.g. code paged out by the host's reclaim). */
  majorFaults: number;
}

function machineCounters() {
  try {
    const cpu = fs
      .readFileSync('/proc/stat', 'utf8')
      .split('\n', 1)[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const [user, nice, system, , iowait, irq, softirq, steal] = cpu;
    const vm = /^pgmajfault (\d+)$/m.exec(fs.readFileSync('/proc/vmstat', 'utf8'));
    const ms = (t: number) => (t * 1000) / CLK_TCK;
    return {
      at: performance.now(),
      busyMs: ms(user + nice + system + irq + softirq),
      stealMs: ms(steal ?? 0),
      iowaitMs: ms(iowait),
      majorFaults: vm ? Number(vm[1]) : 0,
    };
  } catch {
    return null; // not Linux: no machine context
  }
}

/** Starts measuring the machine; the returned function gives the delta since (null off Linux). */
export function machineMeter(): () => MachineDelta | null {
  const a = machineCounters();
  return () => {
    const b = machineCounters();
    if (!a || !b) return null;
    return {
      wallMs: b.at - a.at,
      busyMs: b.busyMs - a.busyMs,
      stealMs: b.stealMs - a.stealMs,
      iowaitMs: b.iowaitMs - a.iowaitMs,
      majorFaults: b.majorFaults - a.majorFaults,
    };
  };
}

/** "busy 1.31 of 2 cores, steal 0 ms, 0 major faults" */
export function describeMachine(m: MachineDelta | null | undefined): string {
  if (!m) return 'no machine counters';
  return `machine busy ${(m.busyMs / m.wallMs).toFixed(2)} of ${os.availableParallelism()} cores, steal ${m.stealMs.toFixed(0)} ms, ${m.majorFaults} major faults`;
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memTotalGiB: number;
  freeH: string;
  node: string;
  loadavg: number[];
  wrk: string | null;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  let freeH = '';
  try {
    freeH = execFileSync('free', ['-h'], { encoding: 'utf8' }).trim();
  } catch {
    freeH = '(free not available)';
  }
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memTotalGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    freeH,
    node: process.version,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    wrk: wrkVersion(),
    kernel: `${os.type()} ${os.release()}`,
  };
}

export function wrkVersion(): string | null {
  try {
    // `wrk -v` prints its version and exits 1.
    execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const out = `${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`;
    const m = /wrk\s+(\S+)/.exec(out);
    if (m) return m[1];
  }
  return null;
}

/** Renders rows as an aligned plain-text table (also valid Markdown). */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const w = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  return [line(cells[0]), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...cells.slice(1).map(line)].join(
    '\n',
  );
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export interface FloorTopology {
  url: string;
  /** Process id → role, for CPU accounting. */
  pids: Map<number, string>;
  close(): Promise<void>;
}

/**
 * The pipeline's topology with trivial handlers (bench/floor-hop.ts): a gateway hop, two model-server
 * hops that each GET from one feature-server, all on Node's HTTP server and the same undici client.
 * What the hops alone cost, so the pipeline's own work can be told apart from its shape.
 */
export async function startFloorTopology(): Promise<FloorTopology> {
  const script = fileURLToPath(new URL('./floor-hop.ts', import.meta.url));
  const children: ChildProcess[] = [];
  const start = async (role: string, upstreams: string[]) => {
    const child = spawn(process.execPath, [...SERVICE_EXEC_ARGV, script], {
      env: { ...process.env, ...SERVICE_ENV, ROLE: role, UPSTREAMS: upstreams.join(',') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
    return { url: `http://127.0.0.1:${Number(chunk.toString().trim())}`, pid: child.pid!, role };
  };
  const closeAll = async () => {
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = once(c, 'exit');
        c.kill('SIGTERM');
        await exited;
      }),
    );
  };
  try {
    const fsrv = await start('feature-server', []);
    const ms = [await start('model-server', [fsrv.url]), await start('model-server', [fsrv.url])];
    const gw = await start(
      'gateway',
      ms.map((m) => m.url),
    );
    return {
      url: gw.url,
      pids: new Map([fsrv, ...ms, gw].map((p) => [p.pid, p.role])),
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
