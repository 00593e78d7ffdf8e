// The embedded platform: every service a child process on 127.0.0.1, a supervisor with ReplicaSet
// semantics, and a fault proxy on each network link. Needs nothing but Node.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nowMs } from '../../load/clock.ts';
import type { Mechanism } from '../../pipeline/common/config.ts';
import { pollReady } from '../../pipeline/common/ready.ts';
import { pipelineLinks, selectsLink } from '../../pipeline/topology.ts';
import { faultlineHome, forgetActive, newRunId, recordActive } from '../active.ts';
import { directMetrics } from '../metrics.ts';
import type {
  AttachRecord,
  JobSpec,
  MetricsSource,
  PipelineEndpoints,
  PipelineOptions,
  Platform,
  PlatformEvent,
  ReplicaInfo,
  ServiceName,
  StartedPlatform,
} from '../platform.ts';
import { Supervisor, type SupervisorEvent } from './supervisor.ts';
import { ProxyHub, toxiproxyApi } from './toxiproxy-api.ts';

/**
 * V8 options for every service. Semi-spaces of 2 MiB (default up to 16 MiB) suit request-scoped
 * garbage: 1 MiB saved 6 MiB more but doubled the scavenging per prediction. A 256 MiB old-generation
 * limit (a service holds 10–20 MiB of heap; artifacts and bodies are Buffers, outside it) makes V8
 * grow the heap in small steps instead of sizing it for the machine's memory. Together about 90 MiB
 * less RSS under load for ~20 µs more GC per prediction (BENCHMARKS.md, "Memory settings").
 */
export const SERVICE_EXEC_ARGV = ['--max-semi-space-size=2', '--max-old-space-size=256'];

/**
 * Environment for every service. Two glibc malloc arenas instead of one per thread (libuv's pool,
 * V8's workers): less fragmentation under load, about 20 MiB less RSS for the pipeline.
 */
export const SERVICE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** How each service's Node process is run: V8 options and extra environment. */
export interface ServiceRuntime {
  execArgv: readonly string[];
  env: Readonly<Record<string, string>>;
}

const REDACTED = '(redacted)';

const PIPELINE_DIR = fileURLToPath(new URL('../../pipeline/', import.meta.url));
const entry = (service: string) => path.join(PIPELINE_DIR, service, 'main.ts');

/**
 * Configured by the constructor; `start()` resolves with the same object as a StartedPlatform (the
 * only type that offers endpoints and operations).
 */
export class LocalPlatform implements Platform, StartedPlatform {
  readonly name = 'local' as const;
  private readonly opts: Required<Omit<PipelineOptions, 'stateDir' | 'journal'>> & {
    stateDir: string;
    journal?: string;
  };
  private supervisor: Supervisor;
  private hub = new ProxyHub();
  private api?: ReturnType<typeof toxiproxyApi>;
  private listeners: ((e: PlatformEvent) => void)[] = [];
  private ep?: PipelineEndpoints;
  private ports = new Map<string, number>();
  private stopped = false;
  /** Jobs run through runJob() (trainer runs for faults) while they run. */
  private jobs = new Set<Job>();
  private readonly runtime: ServiceRuntime;
  private common: Record<string, string> = {};
  /** Replicas the supervisor is replacing: their next start is a replacement. */
  private replacing = new Set<string>();
  readonly record: AttachRecord;

  /** `runtime` is for side-by-side benchmarks of the settings above; everything else uses the default. */
  constructor(
    opts: PipelineOptions = {},
    runtime: ServiceRuntime = { execArgv: SERVICE_EXEC_ARGV, env: SERVICE_ENV },
  ) {
    this.runtime = runtime;
    const stateDir = path.resolve(opts.stateDir ?? fs.mkdtempSync(path.resolve('.faultline', 'pipeline-')));
    this.opts = {
      replicas: opts.replicas ?? 2,
      store: opts.store ?? 'sqlite',
      disabled: opts.disabled ?? new Set<Mechanism>(),
      seed: opts.seed ?? 42,
      canary: opts.canary ?? false,
      faultLinks: opts.faultLinks ?? 'all',
      stateDir,
      journal: opts.journal,
    };
    this.record = {
      platform: 'local',
      runId: newRunId(),
      ownerPid: process.pid,
      stateDir,
      startedAt: new Date().toISOString(),
      ...(opts.journal ? { journal: opts.journal } : {}),
      data: { pids: [] },
    };
    if (this.opts.replicas < 1 || !Number.isInteger(this.opts.replicas)) {
      throw new Error(`replicas: expected a whole number ≥ 1, found ${this.opts.replicas}`);
    }
    this.supervisor = new Supervisor({ restart: !this.opts.disabled.has('restart') });
    this.supervisor.on('event', (e: SupervisorEvent) => this.onSupervisorEvent(e));
  }

  get stateDir() {
    return this.opts.stateDir;
  }

  get endpoints(): PipelineEndpoints {
    if (!this.ep) throw new Error('the local platform is not started: call start() first');
    return this.ep;
  }

  onEvent(listener: (e: PlatformEvent) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<this> {
    const { stateDir, replicas } = this.opts;
    fs.mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
    const token = randomBytes(16).toString('hex');
    const names = [
      'registry',
      'feature-server',
      'gateway',
      'controller',
      'proxy-api',
      ...Array.from({ length: replicas }, (_, i) => `model-server-${i}`),
      ...(this.opts.canary ? ['model-server-canary'] : []),
      ...pipelineLinks({ replicas, canary: this.opts.canary }).map((l) => `link:${l}`),
    ];
    const free = await freePorts(names.length);
    for (const [i, n] of names.entries()) this.ports.set(n, free[i]);
    const url = (n: string) => `http://127.0.0.1:${this.port(n)}`;
    const disable = [...this.opts.disabled].join(',');
    const common: Record<string, string> = {
      ADMIN_TOKEN: token,
      FAULTLINE_DISABLE: disable,
      HOST: '127.0.0.1',
      // A restarted replica skips re-parsing the TypeScript sources (about a third of its start-up CPU).
      NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? path.join(faultlineHome(), 'compile-cache'),
    };
    this.common = common;
    const log = (n: string) => path.join(stateDir, 'logs', `${n}.log`);
    this.onEvent(() => this.refreshActive());
    this.refreshActive();

    try {
      this.api = toxiproxyApi(this.hub, { port: this.port('proxy-api'), adminToken: token });
      await this.api.listen();
      const links: string[] = [];
      const upstreamOf = (link: string) => link.split('->')[1];
      // A proxied link listens on its own port; an unproxied one is the upstream's own address.
      const linkUrl = (link: string) => (links.includes(link) ? url(`link:${link}`) : url(upstreamOf(link)));
      const proxy = async (link: string) => {
        if (!wantsProxy(this.opts.faultLinks, link)) return;
        await this.hub.add(
          link,
          `127.0.0.1:${this.port(`link:${link}`)}`,
          `127.0.0.1:${this.port(upstreamOf(link))}`,
        );
        links.push(link);
      };
      await proxy('model-server->feature-server');
      await proxy('model-server->registry');

      this.spawn(
        'registry',
        0,
        {
          ...common,
          REGISTRY_DB: path.join(stateDir, 'registry.db'),
          ARTIFACT_ROOT: path.join(stateDir, 'artifacts'),
        },
        log,
      );
      this.spawn(
        'feature-server',
        0,
        {
          ...common,
          FEATURE_STORE: this.opts.store === 'sqlite' ? path.join(stateDir, 'features.db') : this.opts.store,
        },
        log,
      );
      // The trainer is on the critical path: it starts with the infrastructure (and waits for it
      // itself), so its own start-up does not queue behind the serving replicas'.
      const trainer = this.startJob({
        job: 'trainer',
        env: { MODE: 'bootstrap', WAIT_READY_MS: '30000' },
      });
      await Promise.all([this.waitReady(url('registry')), this.waitReady(url('feature-server'))]);

      const modelServerEnv = (i: number | 'canary') => ({
        ...common,
        REGISTRY_URL: linkUrl('model-server->registry'),
        FEATURE_SERVER_URL: linkUrl('model-server->feature-server'),
        REPLICA: String(i),
        MODEL_ALIAS: i === 'canary' ? 'challenger' : 'champion',
      });
      const replicaNames = Array.from({ length: replicas }, (_, i) => `model-server-${i}`);
      for (let i = 0; i < replicas; i++) {
        await proxy(`gateway->model-server-${i}`);
        this.spawn('model-server', i, modelServerEnv(i), log);
      }
      if (this.opts.canary) {
        await proxy('gateway->model-server-canary');
        this.spawn('model-server', 'canary', modelServerEnv('canary'), log);
      }
      // The gateway and controller find their upstreams at request/scrape time: start them alongside.
      this.spawn(
        'gateway',
        0,
        {
          ...common,
          UPSTREAMS: replicaNames.map((n) => linkUrl(`gateway->${n}`)).join(','),
          CANARY_UPSTREAMS: this.opts.canary ? linkUrl('gateway->model-server-canary') : '',
          CANARY_WEIGHT: '0',
        },
        log,
      );
      this.spawn(
        'controller',
        0,
        {
          ...common,
          REGISTRY_URL: url('registry'),
          GATEWAY_URL: url('gateway'),
          MODEL_SERVER_URLS: replicaNames.map(url).join(','),
          EVENTS_FILE: path.join(stateDir, 'controller-events.ndjson'),
          RETRAIN_COMMAND: JSON.stringify([process.execPath, entry('trainer')]),
        },
        log,
      );
      // The trainer bootstraps the models while serving starts: replicas boot (module loading is most
      // of their start) and poll the registry until the champion appears.
      await trainer.done;
      await Promise.all([...replicaNames, 'gateway', 'controller'].map((n) => this.waitReady(url(n))));

      this.ep = {
        gateway: url('gateway'),
        registry: url('registry'),
        featureServer: url('feature-server'),
        controller: url('controller'),
        modelServers: replicaNames.map(url),
        toxiproxy: url('proxy-api'),
        links,
        adminToken: token,
      };
      this.writeStatus();
      return this;
    } catch (err) {
      // stop() also kills a bootstrap trainer that is still running.
      await this.stop();
      throw err;
    }
  }

  async replicas(service: ServiceName): Promise<ReplicaInfo[]> {
    return this.supervisor.replicasOf(service).map((s) => ({ ...s, url: `http://127.0.0.1:${s.port}` }));
  }

  async kill(
    service: ServiceName,
    opts: { count?: number; percent?: number; signal?: NodeJS.Signals; pick?: (n: number) => number },
  ): Promise<ReplicaInfo[]> {
    const alive = (await this.replicas(service)).filter((r) => r.state === 'running' && r.pid);
    if (alive.length === 0) throw new Error(`pod-kill: no running replica of ${service}`);
    const n = opts.count ?? Math.max(1, Math.round(((opts.percent ?? 100) / 100) * alive.length));
    const pick = opts.pick ?? ((k: number) => Math.floor(Math.random() * k));
    const victims: ReplicaInfo[] = [];
    const pool = [...alive];
    while (victims.length < Math.min(n, alive.length)) victims.push(...pool.splice(pick(pool.length), 1));
    // Stamped just before each signal: the process may die (and requests fail) before kill() returns.
    return victims.map((v) => {
      const signalledAt = nowMs();
      this.supervisor.kill(v.name, opts.signal ?? 'SIGKILL');
      return { ...v, signalledAt };
    });
  }

  async stopService(service: ServiceName): Promise<{ initiatedAt: number }> {
    // The stop starts acting with the first SIGTERM (graceful shutdown already refuses or fails
    // requests), seconds before the replicas are gone.
    const initiatedAt = nowMs();
    await Promise.all(this.supervisor.replicasOf(service).map((r) => this.supervisor.stop(r.name)));
    return { initiatedAt };
  }

  async startService(service: ServiceName): Promise<void> {
    const reps = this.supervisor.replicasOf(service);
    for (const r of reps) this.supervisor.resume(r.name);
    await Promise.all(reps.map((r) => this.waitReady(`http://127.0.0.1:${r.port}`)));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const j of this.jobs) j.kill();
    await Promise.all([...this.jobs].map((j) => j.done.catch(() => {})));
    await this.supervisor.shutdown();
    await this.hub.close();
    await this.api?.close();
    forgetActive(this.record);
  }

  /** The trainer as a child process against this pipeline; its output also goes to the state dir's logs. */
  async runJob(spec: JobSpec): Promise<{ stdout: string }> {
    if (!this.ep) throw new Error('the local platform is not started: call start() first');
    const job = this.startJob(spec);
    await job.done;
    return { stdout: job.stdout() };
  }

  metrics(): MetricsSource {
    // Replicas are read at each round: a replaced one is scraped at its (unchanged) port.
    const base = (n: string) => `http://127.0.0.1:${this.port(n)}`;
    return directMetrics(() => [
      { service: 'gateway', replica: '0', url: base('gateway') },
      ...this.supervisor
        .replicasOf('model-server')
        .filter((r) => r.replica >= 0)
        .map((r) => ({ service: 'model-server', replica: String(r.replica), url: base(r.name) })),
      { service: 'feature-server', replica: '0', url: base('feature-server') },
      { service: 'controller', replica: '0', url: base('controller') },
      { service: 'registry', replica: '0', url: base('registry') },
    ]);
  }

  private startJob(spec: JobSpec): Job {
    const url = (n: string) => `http://127.0.0.1:${this.port(n)}`;
    const job = runJob(
      entry(spec.job),
      {
        ...this.common,
        REGISTRY_URL: url('registry'),
        FEATURE_SERVER_URL: url('feature-server'),
        SEED: String(this.opts.seed),
        ...spec.env,
      },
      path.join(this.opts.stateDir, 'logs', `${spec.job}.log`),
    );
    this.jobs.add(job);
    // Recorded while it runs: `faultline cleanup` must find a job after a kill -9 of the runner.
    this.refreshActive();
    const forget = () => {
      this.jobs.delete(job);
      this.refreshActive();
    };
    void job.done.then(forget, forget);
    return job;
  }

  private refreshActive() {
    if (this.stopped) return;
    const jobs = [...this.jobs].filter((j) => j.running()).map((j) => j.pid);
    recordActive({
      ...this.record,
      data: { pids: [...this.supervisor.pids(), ...jobs], adminToken: this.common.ADMIN_TOKEN },
    });
    this.writeStatus();
  }

  /** `status.json` in the state dir: what `faultline pipeline status` shows from another process. */
  private writeStatus() {
    const f = path.join(this.opts.stateDir, 'status.json');
    // No token here: the state dir lives in the report folder. Cleanup takes it from the attach record.
    const body = {
      owner_pid: process.pid,
      updated_at: new Date().toISOString(),
      endpoints: this.ep ? { ...this.ep, adminToken: REDACTED } : null,
      replicas: this.supervisor.status().map((s) => ({ ...s, url: `http://127.0.0.1:${s.port}` })),
    };
    fs.writeFileSync(`${f}.tmp`, JSON.stringify(body, null, 2));
    fs.renameSync(`${f}.tmp`, f);
  }

  private port(name: string): number {
    const p = this.ports.get(name);
    if (p === undefined) throw new Error(`no port allocated for ${name}`);
    return p;
  }

  private spawn(
    service: string,
    replica: number | 'canary',
    env: Record<string, string>,
    log: (n: string) => string,
  ) {
    const name = service === 'model-server' ? `model-server-${replica}` : service;
    this.supervisor.add({
      name,
      service,
      replica: replica === 'canary' ? -1 : replica,
      entry: entry(service),
      execArgv: this.runtime.execArgv,
      env: { ...this.runtime.env, ...env },
      port: this.port(name),
      logFile: log(name),
    });
  }

  private async waitReady(base: string, timeoutMs = 30_000): Promise<void> {
    const r = await pollReady(base, timeoutMs, { cancelled: () => this.stopped });
    if (r.ready) return;
    if (this.stopped) throw new Error('platform stopped while waiting for readiness');
    throw new Error(
      `${base} was not ready within ${timeoutMs} ms (last: ${r.last}); see the logs in ${this.opts.stateDir}/logs`,
    );
  }

  private onSupervisorEvent(e: SupervisorEvent) {
    const details: Record<string, unknown> = {};
    let type: PlatformEvent['type'];
    switch (e.type) {
      case 'started':
        type = 'replica-started';
        break;
      case 'exited':
        type = 'replica-gone';
        Object.assign(details, { code: e.code, signal: e.signal });
        break;
      case 'restart-scheduled':
        // A supervised slot keeps its name: the replacement replaces its own predecessor.
        type = 'replacement-scheduled';
        Object.assign(details, { replaces: e.name, delayMs: e.delayMs });
        this.replacing.add(e.name);
        break;
      case 'stopped':
        type = 'service-stopped';
        break;
    }
    this.emit({ type, service: e.service, name: e.name, ts_ms: e.ts_ms, pid: e.pid, details });
    // After start(), a (re)started replica's readiness is the end of its part of an outage: the
    // journal gets the moment, so boot time can be told apart from detection and routing.
    if (e.type === 'started' && this.ep && !this.stopped) {
      const replaces = this.replacing.delete(e.name) ? e.name : undefined;
      void this.reportReady(e, replaces);
    }
  }

  private async reportReady(e: SupervisorEvent, replaces: string | undefined) {
    const sameProcess = () => this.supervisor.status().find((r) => r.name === e.name)?.pid === e.pid;
    const r = await pollReady(`http://127.0.0.1:${this.port(e.name)}`, 60_000, {
      intervalMs: 25,
      cancelled: () => this.stopped || !sameProcess(),
    });
    if (!r.ready || this.stopped || !sameProcess()) return;
    const ts_ms = Date.now();
    this.emit({
      type: 'replica-ready',
      service: e.service,
      name: e.name,
      ts_ms,
      pid: e.pid,
      details: { since_start_ms: ts_ms - e.ts_ms, ...(replaces ? { replaces } : {}) },
    });
  }

  private emit(ev: PlatformEvent) {
    for (const l of this.listeners) l(ev);
  }
}

/** `gateway->model-server` selects every replica's link, as a latency fault's `link` does. */
export function wantsProxy(selection: 'all' | readonly string[], link: string): boolean {
  if (selection === 'all') return true;
  return selection.some((s) => selectsLink(s, link));
}

async function freePorts(n: number): Promise<number[]> {
  // Hold every socket until all are bound, so the same port is never handed out twice.
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

interface Job {
  pid: number;
  done: Promise<void>;
  running(): boolean;
  kill(): void;
  stdout(): string;
}

function runJob(script: string, env: Record<string, string>, logFile: string): Job {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', log],
  });
  fs.closeSync(log);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d;
    fs.appendFileSync(logFile, d);
  });
  // stdout fully read before the exit is judged: the last (result) line may arrive after 'exit'.
  const exited = new Promise<void>((resolve) =>
    child.stdout ? child.stdout.once('close', resolve) : resolve(),
  );
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      void exited.then(() => {
        if (code === 0) return resolve();
        const tail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
        reject(
          new Error(
            `${path.basename(path.dirname(script))} job (${env.MODE ?? ''}) exited with ${code ?? signal}:\n${tail}`,
          ),
        );
      });
    });
  });
  // Callers that never await it (start() failing earlier) must not see an unhandled rejection.
  done.catch(() => {});
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    pid: child.pid ?? -1,
    done,
    running,
    kill: () => {
      if (running()) child.kill('SIGKILL');
    },
    stdout: () => out,
  };
}
