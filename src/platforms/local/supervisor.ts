// Runs each service replica as a child process and keeps the desired count alive, like a ReplicaSet:
// a replica that dies is replaced at once, and one that keeps dying backs off exponentially.
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';

export interface ProcessSpec {
  /** Unique replica name, e.g. `model-server-1`. */
  name: string;
  service: string;
  replica: number;
  /** Script run with this Node binary. */
  entry: string;
  /** Node/V8 options placed before the script. */
  execArgv?: readonly string[];
  env: Record<string, string>;
  port: number;
  logFile: string;
}

export type ReplicaState = 'starting' | 'running' | 'backoff' | 'stopped';

export interface ReplicaStatus {
  name: string;
  service: string;
  replica: number;
  pid?: number;
  port: number;
  state: ReplicaState;
  restarts: number;
  startedAt?: number;
}

export interface SupervisorEvent {
  type: 'started' | 'exited' | 'restart-scheduled' | 'stopped';
  name: string;
  service: string;
  ts_ms: number;
  pid?: number;
  code?: number | null;
  signal?: string | null;
  delayMs?: number;
}

interface Replica {
  spec: ProcessSpec;
  child?: ChildProcess;
  state: ReplicaState;
  restarts: number;
  /** Consecutive quick deaths, for crash-loop backoff. */
  crashes: number;
  startedAt?: number;
  timer?: NodeJS.Timeout;
  exited?: Promise<void>;
}

export interface SupervisorOptions {
  restart?: boolean;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** A replica that ran this long before dying is replaced without delay. */
  healthyAfterMs?: number;
}

export class Supervisor extends EventEmitter {
  private replicas = new Map<string, Replica>();
  private readonly opts: Required<SupervisorOptions>;
  private shuttingDown = false;

  constructor(opts: SupervisorOptions = {}) {
    super();
    this.opts = {
      restart: true,
      backoffInitialMs: 250,
      backoffMaxMs: 10_000,
      healthyAfterMs: 10_000,
      ...opts,
    };
  }

  add(spec: ProcessSpec): void {
    if (this.replicas.has(spec.name)) throw new Error(`replica ${spec.name} already exists`);
    const r: Replica = { spec, state: 'starting', restarts: 0, crashes: 0 };
    this.replicas.set(spec.name, r);
    this.launch(r);
  }

  status(): ReplicaStatus[] {
    return [...this.replicas.values()].map((r) => ({
      name: r.spec.name,
      service: r.spec.service,
      replica: r.spec.replica,
      pid: r.child?.pid,
      port: r.spec.port,
      state: r.state,
      restarts: r.restarts,
      startedAt: r.startedAt,
    }));
  }

  replicasOf(service: string): ReplicaStatus[] {
    return this.status().filter((s) => s.service === service);
  }

  /** Sends a signal to a replica; the supervisor replaces it if it dies (pod kill). */
  kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): number | undefined {
    const r = this.get(name);
    const pid = r.child?.pid;
    if (pid && r.child?.exitCode === null) r.child.kill(signal);
    return pid;
  }

  /** Stops a replica and keeps it down until `resume` (a dependency outage). */
  async stop(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const r = this.get(name);
    r.state = 'stopped';
    clearTimeout(r.timer);
    await this.terminate(r, signal);
    this.emitEvent({ type: 'stopped', name, service: r.spec.service, ts_ms: Date.now() });
  }

  resume(name: string): void {
    const r = this.get(name);
    if (r.state !== 'stopped') return;
    r.crashes = 0;
    this.launch(r);
  }

  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    await Promise.all([...this.replicas.values()].map((r) => this.terminate(r, 'SIGTERM')));
  }

  pids(): number[] {
    return [...this.replicas.values()].flatMap((r) =>
      r.child?.pid && r.child.exitCode === null ? [r.child.pid] : [],
    );
  }

  private get(name: string): Replica {
    const r = this.replicas.get(name);
    if (!r) throw new Error(`no replica named ${name} (known: ${[...this.replicas.keys()].join(', ')})`);
    return r;
  }

  private launch(r: Replica) {
    const { spec } = r;
    const log = fs.openSync(spec.logFile, 'a');
    const child = spawn(process.execPath, [...(spec.execArgv ?? []), spec.entry], {
      env: { ...process.env, ...spec.env, PORT: String(spec.port) },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    r.child = child;
    r.state = 'running';
    r.startedAt = Date.now();
    r.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.emitEvent({
      type: 'started',
      name: spec.name,
      service: spec.service,
      pid: child.pid,
      ts_ms: Date.now(),
    });
    child.once('exit', (code, signal) => {
      const ranFor = Date.now() - (r.startedAt ?? Date.now());
      this.emitEvent({
        type: 'exited',
        name: spec.name,
        service: spec.service,
        pid: child.pid,
        code,
        signal,
        ts_ms: Date.now(),
      });
      if (r.child === child) r.child = undefined;
      if (this.shuttingDown || r.state === 'stopped' || !this.opts.restart) {
        if (r.state !== 'stopped') r.state = 'stopped';
        return;
      }
      r.crashes = ranFor >= this.opts.healthyAfterMs ? 0 : r.crashes + 1;
      // First death after a healthy run: replace at once (pod deleted → new pod); a crash loop backs off.
      const delay =
        r.crashes <= 1
          ? 0
          : Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** (r.crashes - 2));
      r.state = 'backoff';
      this.emitEvent({
        type: 'restart-scheduled',
        name: spec.name,
        service: spec.service,
        delayMs: delay,
        ts_ms: Date.now(),
      });
      r.timer = setTimeout(() => {
        if (this.shuttingDown || r.state === 'stopped') return;
        r.restarts++;
        this.launch(r);
      }, delay);
    });
  }

  private async terminate(r: Replica, signal: NodeJS.Signals) {
    clearTimeout(r.timer);
    const child = r.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const hard = setTimeout(() => child.kill('SIGKILL'), 4000);
    await r.exited;
    clearTimeout(hard);
  }

  private emitEvent(e: SupervisorEvent) {
    this.emit('event', e);
  }
}
