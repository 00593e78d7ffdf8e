// The docker platform: the reference pipeline in containers through Testcontainers. One network per
// run; every service a container with a network alias (model-server replicas each their own); Redis as
// the online store; the real Toxiproxy on the faultable links; the real Prometheus scraping every
// service at 1 s with the runbooks' alert rules. A killed replica is replaced by a NEW container with
// the same alias (ReplicaSet semantics), so the gateway and Prometheus reach it by the same name.
// Every container and the network carry the run's label: stop() and `faultline cleanup` remove by it.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { RedisContainer } from '@testcontainers/redis';
import { ToxiProxyContainer } from '@testcontainers/toxiproxy';
import type Dockerode from 'dockerode';
import { GenericContainer, type StartedTestContainer, Wait, type WaitStrategy } from 'testcontainers';
import { nowMs } from '../../load/clock.ts';
import type { Mechanism } from '../../pipeline/common/config.ts';
import { pollReady } from '../../pipeline/common/ready.ts';
import { CANARY_REPLICA, pipelineLinks, selectsLink } from '../../pipeline/topology.ts';
import { forgetActive, newRunId, recordActive } from '../active.ts';
import { SERVICE_ENV, SERVICE_EXEC_ARGV } from '../local/local-platform.ts';
import { directMetrics } from '../metrics.ts';
import type {
  AlertSource,
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
import { STATE_FILE } from './attach.ts';
import {
  dockerClient,
  isGone,
  REPLICA_LABEL,
  ROLE_LABEL,
  removeRun,
  runLabels,
  SERVICE_LABEL,
} from './engine.ts';
import { imageName, PIPELINE_PORT, PIPELINE_TRAINER_ARGV } from './images.ts';
import { alertRules, PROMETHEUS_PORT, prometheusAlerts, prometheusConfig, RULES_FILE } from './prometheus.ts';

const TOXIPROXY_API = 8474;
/** Toxiproxy's first proxy port (ToxiProxyContainer exposes 32 from here). */
const FIRST_PROXY_PORT = 8666;
/** What `docker-state.json` in the state dir holds: enough for attach (cleanup, pipeline status). */
export interface DockerState {
  runId: string;
  network: string;
  endpoints: PipelineEndpoints | null;
}

/** A replica slot: `model-server-0` stays the slot while its containers come and go. */
interface Slot {
  key: string;
  service: ServiceName;
  replica: number;
  hostPort: number;
  env: Record<string, string>;
  /** Replacement generation: the container name's suffix. */
  gen: number;
  container?: { id: string; name: string; startedAt: number };
  state: 'starting' | 'running' | 'gone' | 'stopped';
  restarts: number;
  /** Consecutive quick deaths, for crash-loop backoff (as the local supervisor). */
  crashes: number;
}

/** Testcontainers' start() resolves once the container runs; readiness is polled by the platform. */
const RUNNING: WaitStrategy = {
  waitUntilReady: async () => undefined,
  withStartupTimeout() {
    return this;
  },
  isStartupTimeoutSet: () => false,
  getStartupTimeout: () => 60_000,
};

/**
 * Published ports on the host's loopback only (Testcontainers binds every interface by default), and
 * only those in `keep` when given: each published port costs a docker-proxy process.
 */
function loopbackBindings(hostConfig: { PortBindings?: Record<string, unknown> }, keep?: number[]) {
  const bindings = hostConfig.PortBindings ?? {};
  for (const [port, list] of Object.entries(bindings)) {
    if (keep && !keep.includes(Number.parseInt(port, 10))) delete bindings[port];
    else for (const b of list as { HostIp?: string }[]) b.HostIp = '127.0.0.1';
  }
}

/**
 * Resolver options of the pipeline's containers. While a service is stopped its alias does not
 * resolve, and Docker's embedded DNS forwards the name to the host's upstream resolvers; where those
 * are unreachable (these machines: no route out) each lookup hangs 10 s (glibc's 5 s × 2 attempts)
 * before EAI_AGAIN, holding one of libuv's 4 resolver threads, so a dependency that came back stays
 * unreachable for seconds. One attempt of 1 s (glibc's minimum) bounds that, close to what a
 * resolver that answers NXDOMAIN gives.
 */
export const DNS_OPTIONS = ['timeout:1', 'attempts:1'];

class LoopbackContainer extends GenericContainer {
  private dnsOptions?: string[];

  withDnsOptions(options: string[]): this {
    this.dnsOptions = options;
    return this;
  }

  override async start(): Promise<StartedTestContainer> {
    loopbackBindings(this.hostConfig);
    if (this.dnsOptions) this.hostConfig.DnsOptions = this.dnsOptions;
    return super.start();
  }
}

class LoopbackRedis extends RedisContainer {
  override async start() {
    loopbackBindings(this.hostConfig);
    return super.start();
  }
}

/**
 * The module's Toxiproxy container publishes its API and 32 proxy ports; the proxies here are reached
 * inside the network only, so only the API is published (33 docker-proxy processes become one).
 */
class ToxiproxyApiOnly extends ToxiProxyContainer {
  override async start() {
    loopbackBindings(this.hostConfig, [TOXIPROXY_API]);
    return super.start();
  }
}

export class DockerPlatform implements Platform, StartedPlatform {
  readonly name = 'docker' as const;
  readonly record: AttachRecord;
  private readonly opts: {
    replicas: number;
    disabled: Set<Mechanism>;
    seed: number;
    canary: boolean;
    faultLinks: 'all' | readonly string[];
    stateDir: string;
  };
  private docker?: Dockerode;
  private networkName: string;
  private slots = new Map<string, Slot>();
  /** Container name → slot, set before the container starts (a death may be reported before start() returns). */
  private byName = new Map<string, Slot>();
  private listeners: ((e: PlatformEvent) => void)[] = [];
  private ep?: PipelineEndpoints;
  private common: Record<string, string> = {};
  private stopped = false;
  private events?: Readable;
  /** Container creations in flight (launches, replacements, jobs): stop() waits for them. */
  private inFlight = new Set<Promise<unknown>>();
  private jobSeq = 0;
  private prometheusUrl?: string;

  constructor(opts: PipelineOptions = {}) {
    const stateDir = path.resolve(opts.stateDir ?? fs.mkdtempSync(path.resolve('.faultline', 'pipeline-')));
    this.opts = {
      replicas: opts.replicas ?? 2,
      disabled: opts.disabled ?? new Set<Mechanism>(),
      seed: opts.seed ?? 42,
      canary: opts.canary ?? false,
      faultLinks: opts.faultLinks ?? 'all',
      stateDir,
    };
    if (this.opts.replicas < 1 || !Number.isInteger(this.opts.replicas)) {
      throw new Error(`replicas: expected a whole number ≥ 1, found ${this.opts.replicas}`);
    }
    const runId = newRunId();
    this.networkName = runId;
    this.record = {
      platform: 'docker',
      runId,
      ownerPid: process.pid,
      stateDir,
      startedAt: new Date().toISOString(),
      ...(opts.journal ? { journal: opts.journal } : {}),
      data: { network: runId },
    };
  }

  get endpoints(): PipelineEndpoints {
    if (!this.ep) throw new Error('the docker platform is not started: call start() first');
    return this.ep;
  }

  onEvent(listener: (e: PlatformEvent) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<this> {
    const { stateDir, replicas, canary } = this.opts;
    const runId = this.record.runId;
    fs.mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
    const client = await dockerClient();
    const docker = client.container.dockerode;
    this.docker = docker;
    // Recorded before anything exists: a runner killed during start-up leaves nothing cleanup misses.
    recordActive(this.record);
    this.writeState();
    try {
      await docker.createNetwork({
        Name: this.networkName,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: runLabels(runId),
      });
      // Deaths are watched from before the first container starts (ReplicaSet: replace what dies).
      await this.watchDeaths(docker);

      const token = randomBytes(16).toString('hex');
      this.common = {
        ADMIN_TOKEN: token,
        FAULTLINE_DISABLE: [...this.opts.disabled].join(','),
        HOST: '0.0.0.0',
        PORT: String(PIPELINE_PORT),
        NODE_OPTIONS: SERVICE_EXEC_ARGV.join(' '),
        ...SERVICE_ENV,
      };
      const replicaKeys = [
        ...Array.from({ length: replicas }, (_, i) => `model-server-${i}`),
        ...(canary ? [`model-server-${CANARY_REPLICA}`] : []),
      ];
      const keys = ['registry', 'feature-server', 'gateway', 'controller', ...replicaKeys];
      const ports = await freePorts(keys.length);
      const hostPort = new Map(keys.map((k, i) => [k, ports[i]]));
      const url = (k: string) => `http://127.0.0.1:${hostPort.get(k)}`;

      // Toxiproxy listens for each proxied link on its own port in the network; other links connect
      // straight to the upstream's alias.
      const links = pipelineLinks({ replicas, canary }).filter((l) => wantsProxy(this.opts.faultLinks, l));
      const upstreamOf = (link: string) => link.split('->')[1];
      const listenOf = (link: string) => FIRST_PROXY_PORT + links.indexOf(link);
      const linkUrl = (link: string) =>
        links.includes(link)
          ? `http://toxiproxy:${listenOf(link)}`
          : `http://${upstreamOf(link)}:${PIPELINE_PORT}`;
      const inNet = (alias: string) => `http://${alias}:${PIPELINE_PORT}`;

      const slot = (key: string, service: ServiceName, replica: number, env: Record<string, string>) => {
        const s: Slot = {
          key,
          service,
          replica,
          hostPort: hostPort.get(key) as number,
          env,
          gen: 0,
          state: 'starting',
          restarts: 0,
          crashes: 0,
        };
        this.slots.set(key, s);
        return s;
      };
      slot('registry', 'registry', 0, { REGISTRY_DB: '/tmp/registry.db', ARTIFACT_ROOT: '/tmp/artifacts' });
      slot('feature-server', 'feature-server', 0, { FEATURE_STORE: 'redis://redis:6379' });
      for (const key of replicaKeys) {
        const i = key.slice('model-server-'.length);
        slot(key, 'model-server', i === CANARY_REPLICA ? -1 : Number(i), {
          REGISTRY_URL: linkUrl('model-server->registry'),
          FEATURE_SERVER_URL: linkUrl('model-server->feature-server'),
          REPLICA: i,
          MODEL_ALIAS: i === CANARY_REPLICA ? 'challenger' : 'champion',
        });
      }
      const serving = replicaKeys.filter((k) => k !== `model-server-${CANARY_REPLICA}`);
      slot('gateway', 'gateway', 0, {
        UPSTREAMS: serving.map((k) => linkUrl(`gateway->${k}`)).join(','),
        CANARY_UPSTREAMS: canary ? linkUrl(`gateway->model-server-${CANARY_REPLICA}`) : '',
        CANARY_WEIGHT: '0',
      });
      slot('controller', 'controller', 0, {
        REGISTRY_URL: inNet('registry'),
        FEATURE_SERVER_URL: inNet('feature-server'),
        GATEWAY_URL: inNet('gateway'),
        MODEL_SERVER_URLS: serving.map(inNet).join(','),
        EVENTS_FILE: '/tmp/controller-events.ndjson',
        // Retraining runs the trainer inside the controller's container (the same image).
        RETRAIN_COMMAND: JSON.stringify(PIPELINE_TRAINER_ARGV),
      });

      const labels = (role: string, extra: Record<string, string> = {}) => ({
        ...runLabels(runId),
        [ROLE_LABEL]: role,
        ...extra,
      });
      const infra = <T extends GenericContainer>(c: T, alias: string): T =>
        c
          .withName(`${runId}-${alias}`)
          .withNetworkMode(this.networkName)
          .withNetworkAliases(alias)
          .withLabels(labels('infra', { [SERVICE_LABEL]: alias }))
          .withLogConsumer((s) => this.logTo(s, alias)) as T;

      // Everything starts at once: services wait for their dependencies themselves (the trainer polls
      // the registry and feature-server, replicas poll the registry for the champion), so container
      // and Node start-up overlap instead of queueing (the local platform does the same).
      const toxiproxy = (async () => {
        const c = await infra(new ToxiproxyApiOnly(imageName('toxiproxy')), 'toxiproxy').start();
        const api = `http://${c.getHost()}:${c.getMappedPort(TOXIPROXY_API)}`;
        for (const link of links) {
          const res = await fetch(`${api}/proxies`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              name: link,
              listen: `0.0.0.0:${listenOf(link)}`,
              upstream: `${upstreamOf(link)}:${PIPELINE_PORT}`,
              enabled: true,
            }),
          });
          if (!res.ok)
            throw new Error(`toxiproxy: creating proxy ${link}: HTTP ${res.status} ${await res.text()}`);
        }
        return api;
      })();
      const prometheus = (async () => {
        const config = prometheusConfig(
          [...this.slots.values()].map((s) => ({
            job: s.service,
            alias: s.key,
            replica: s.replica < 0 ? CANARY_REPLICA : String(s.replica),
          })),
        );
        const c = await infra(new LoopbackContainer(imageName('prometheus')), 'prometheus')
          .withCopyContentToContainer([
            { content: config, target: '/etc/prometheus/prometheus.yml', mode: 0o644 },
            { content: await alertRules(), target: RULES_FILE, mode: 0o644 },
          ])
          .withExposedPorts(PROMETHEUS_PORT)
          .withWaitStrategy(Wait.forHttp('/-/ready', PROMETHEUS_PORT))
          .start();
        return `http://${c.getHost()}:${c.getMappedPort(PROMETHEUS_PORT)}`;
      })();
      const redis = infra(new LoopbackRedis(imageName('redis')), 'redis').start();
      const trainer = this.job({ job: 'trainer', env: { MODE: 'bootstrap', WAIT_READY_MS: '60000' } });
      // A failure elsewhere must not leave this one's rejection unhandled.
      trainer.catch(() => undefined);
      const launched = Promise.all([...this.slots.values()].map((s) => this.launch(s)));
      const [toxiproxyApi, prometheusUrl] = await Promise.all([toxiproxy, prometheus, redis, launched]).then(
        ([t, p]) => [t, p] as const,
      );
      this.prometheusUrl = prometheusUrl;
      await trainer;
      await Promise.all([...this.slots.values()].map((s) => this.waitReady(s)));

      this.ep = {
        gateway: url('gateway'),
        registry: url('registry'),
        featureServer: url('feature-server'),
        controller: url('controller'),
        modelServers: serving.map(url),
        toxiproxy: toxiproxyApi,
        links,
        adminToken: token,
        prometheus: prometheusUrl,
      };
      this.writeState();
      return this;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async replicas(service: ServiceName): Promise<ReplicaInfo[]> {
    return [...this.slots.values()]
      .filter((s) => s.service === service)
      .map((s) => ({
        name: s.container?.name ?? this.containerName(s),
        service: s.service,
        replica: s.replica,
        state: s.state,
        restarts: s.restarts,
        url: `http://127.0.0.1:${s.hostPort}`,
      }));
  }

  async kill(
    service: ServiceName,
    opts: { count?: number; percent?: number; signal?: NodeJS.Signals; pick?: (n: number) => number },
  ): Promise<ReplicaInfo[]> {
    const alive = [...this.slots.values()].filter(
      (s) => s.service === service && s.state === 'running' && s.container,
    );
    if (alive.length === 0) throw new Error(`pod-kill: no running replica of ${service}`);
    const n = opts.count ?? Math.max(1, Math.round(((opts.percent ?? 100) / 100) * alive.length));
    const pick = opts.pick ?? ((k: number) => Math.floor(Math.random() * k));
    const victims: Slot[] = [];
    const pool = [...alive];
    while (victims.length < Math.min(n, alive.length)) victims.push(...pool.splice(pick(pool.length), 1));
    const out: ReplicaInfo[] = [];
    for (const v of victims) {
      const c = v.container as NonNullable<Slot['container']>;
      // Stamped just before the signal: the container may die before the engine answers.
      const signalledAt = nowMs();
      await this.dockerApi()
        .getContainer(c.id)
        .kill({ signal: opts.signal ?? 'SIGKILL' });
      out.push({
        name: c.name,
        service: v.service,
        replica: v.replica,
        state: 'running',
        restarts: v.restarts,
        url: `http://127.0.0.1:${v.hostPort}`,
        signalledAt,
      });
    }
    return out;
  }

  async stopService(service: ServiceName): Promise<{ initiatedAt: number }> {
    const targets = [...this.slots.values()].filter((s) => s.service === service && s.container);
    // The stop acts from its SIGTERM (graceful shutdown refuses requests), before the container is gone.
    const initiatedAt = nowMs();
    await Promise.all(
      targets.map(async (s) => {
        s.state = 'stopped';
        const c = s.container as NonNullable<Slot['container']>;
        try {
          // SIGTERM, then SIGKILL after 4 s, as the local supervisor stops a replica.
          await this.dockerApi().getContainer(c.id).stop({ t: 4 });
        } catch (e) {
          // 304: already stopped.
          if ((e as { statusCode?: number }).statusCode !== 304) throw e;
        }
        this.emit({ type: 'service-stopped', service: s.service, name: c.name, ts_ms: Date.now() });
      }),
    );
    return { initiatedAt };
  }

  async startService(service: ServiceName): Promise<void> {
    const targets = [...this.slots.values()].filter((s) => s.service === service && s.state === 'stopped');
    await Promise.all(
      targets.map(async (s) => {
        const c = s.container as NonNullable<Slot['container']>;
        // The same container again: its published port (and so every endpoint) is unchanged.
        const container = this.dockerApi().getContainer(c.id);
        await container.start();
        // The log stream of its first run ended with the stop: follow the new run's output.
        const logs = (await container.logs({
          follow: true,
          stdout: true,
          stderr: true,
          since: Math.floor(Date.now() / 1000) - 1,
        })) as unknown as Readable;
        const out = fs.createWriteStream(path.join(this.opts.stateDir, 'logs', `${s.key}.log`), {
          flags: 'a',
        });
        this.dockerApi().modem.demuxStream(logs, out, out);
        logs.on('end', () => out.end());
        logs.on('error', () => out.end());
        s.state = 'running';
        s.crashes = 0;
        c.startedAt = Date.now();
        this.emit({ type: 'replica-started', service: s.service, name: c.name, ts_ms: c.startedAt });
        await this.waitReady(s);
        this.emit({
          type: 'replica-ready',
          service: s.service,
          name: c.name,
          ts_ms: Date.now(),
          details: { since_start_ms: Date.now() - c.startedAt },
        });
      }),
    );
  }

  /** The trainer as a one-shot container on the run's network; rejects with its output's tail. */
  async runJob(spec: JobSpec): Promise<{ stdout: string }> {
    if (!this.ep) throw new Error('the docker platform is not started: call start() first');
    return this.job(spec);
  }

  metrics(): MetricsSource {
    // Each round reads the slots: a replacement is scraped at its slot's (unchanged) published port.
    const order: ServiceName[] = ['gateway', 'model-server', 'feature-server', 'controller', 'registry'];
    return directMetrics(() =>
      order.flatMap((service) =>
        [...this.slots.values()]
          .filter((s) => s.service === service && s.replica >= 0)
          .map((s) => ({ service, replica: String(s.replica), url: `http://127.0.0.1:${s.hostPort}` })),
      ),
    );
  }

  alerts(): AlertSource {
    if (!this.prometheusUrl) throw new Error('the docker platform is not started: call start() first');
    return prometheusAlerts(this.prometheusUrl);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.events?.destroy();
    // Everything of the run, by its label: services, jobs, infrastructure, then the network.
    if (this.docker) {
      // Creations in flight finish first (seconds at most): a container removed between its network
      // connect and its start can leave a stale endpoint that keeps the network from being removed.
      await Promise.allSettled([...this.inFlight]);
      await removeRun(this.docker, this.record.runId);
    }
    forgetActive(this.record);
  }

  // ---- containers ----

  private dockerApi(): Dockerode {
    if (!this.docker) throw new Error('the docker platform is not started: call start() first');
    return this.docker;
  }

  private containerName(s: Slot) {
    return `${this.record.runId}-${s.key}${s.gen ? `-r${s.gen}` : ''}`;
  }

  /** Starts the slot's current generation: a new container with the slot's alias and host port. */
  private launch(s: Slot): Promise<void> {
    return this.track(this.launchNow(s));
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  private async launchNow(s: Slot): Promise<void> {
    if (this.stopped) throw new Error('platform stopped');
    const name = this.containerName(s);
    this.byName.set(name, s);
    // The slot's current container from now on: a death reported before start() returns is this one's.
    s.container = { id: '', name, startedAt: Date.now() };
    const started = await new LoopbackContainer(imageName('pipeline'))
      .withName(name)
      .withCommand([s.service])
      .withEnvironment({ ...this.common, ...s.env })
      .withNetworkMode(this.networkName)
      .withNetworkAliases(s.key)
      .withExposedPorts({ container: PIPELINE_PORT, host: s.hostPort })
      .withLabels({
        ...runLabels(this.record.runId),
        [ROLE_LABEL]: 'service',
        [SERVICE_LABEL]: s.service,
        [REPLICA_LABEL]: s.replica < 0 ? CANARY_REPLICA : String(s.replica),
      })
      .withWaitStrategy(RUNNING)
      .withDnsOptions(DNS_OPTIONS)
      .withLogConsumer((stream) => this.logTo(stream, s.key))
      .start();
    const startedAt = Date.now();
    if (s.container.name === name) s.container = { id: started.getId(), name, startedAt };
    if (s.state !== 'gone') s.state = 'running';
    this.emit({ type: 'replica-started', service: s.service, name, ts_ms: startedAt });
  }

  private async waitReady(s: Slot, timeoutMs = 60_000): Promise<void> {
    const base = `http://127.0.0.1:${s.hostPort}`;
    const r = await pollReady(base, timeoutMs, { cancelled: () => this.stopped });
    if (r.ready) return;
    if (this.stopped) throw new Error('platform stopped while waiting for readiness');
    throw new Error(
      `${s.key} (${base}) was not ready within ${timeoutMs} ms (last: ${r.last}); see ${this.opts.stateDir}/logs/${s.key}.log`,
    );
  }

  /** Follows the engine's `die` events of this run's containers: the ReplicaSet's control loop. */
  private async watchDeaths(docker: Dockerode): Promise<void> {
    const stream = (await docker.getEvents({
      filters: JSON.stringify({
        type: ['container'],
        event: ['die'],
        label: [`faultline.io/run=${this.record.runId}`],
      }),
    })) as Readable;
    this.events = stream;
    let buf = '';
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        if (!line) continue;
        try {
          this.onDeath(JSON.parse(line));
        } catch {
          // Not an event we can read: the next one is.
        }
      }
    });
    stream.on('error', () => undefined);
  }

  private onDeath(ev: { timeNano?: number; time?: number; Actor?: { Attributes?: Record<string, string> } }) {
    const attrs = ev.Actor?.Attributes ?? {};
    const name = attrs.name;
    const s = name ? this.byName.get(name) : undefined;
    // Only the slot's current container counts (a replaced one's late event changes nothing).
    if (!s || this.stopped || (s.container && s.container.name !== name)) return;
    const code = attrs.exitCode === undefined ? undefined : Number(attrs.exitCode);
    const ts_ms = ev.timeNano ? Math.floor(ev.timeNano / 1e6) : Date.now();
    const ranFor = ts_ms - (s.container?.startedAt ?? ts_ms);
    this.emit({
      type: 'replica-gone',
      service: s.service,
      name,
      ts_ms,
      details: { code, ...(code && code > 128 ? { signal: signalName(code - 128) } : {}) },
    });
    if (s.state === 'stopped') return;
    s.state = 'gone';
    if (this.opts.disabled.has('restart')) return;
    s.crashes = ranFor >= 10_000 ? 0 : s.crashes + 1;
    // First death after a healthy run: replace at once (pod deleted → new pod); a crash loop backs off.
    const delayMs = s.crashes <= 1 ? 0 : Math.min(10_000, 500 * 2 ** (s.crashes - 2));
    this.emit({
      type: 'replacement-scheduled',
      service: s.service,
      name,
      ts_ms: Date.now(),
      details: { replaces: name, delayMs },
    });
    void this.replace(s, name, delayMs);
  }

  private async replace(s: Slot, replaces: string, delayMs: number) {
    try {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      if (this.stopped) return;
      // The dead container goes first: its published port and its name in the network are freed.
      const old = s.container?.id;
      if (old) await this.dockerApi().getContainer(old).remove({ force: true, v: true }).catch(ignoreGone);
      s.gen++;
      s.restarts++;
      s.state = 'starting';
      await this.launch(s);
      const current = s.container?.name;
      const startedAt = s.container?.startedAt ?? Date.now();
      const r = await pollReady(`http://127.0.0.1:${s.hostPort}`, 60_000, {
        intervalMs: 25,
        cancelled: () => this.stopped || s.container?.name !== current,
      });
      if (!r.ready || this.stopped || s.container?.name !== current) return;
      const ts_ms = Date.now();
      this.emit({
        type: 'replica-ready',
        service: s.service,
        name: current as string,
        ts_ms,
        details: { since_start_ms: ts_ms - startedAt, replaces },
      });
    } catch (e) {
      if (this.stopped) return;
      // A failed replacement is a replica that stays gone; the journal says why.
      s.state = 'gone';
      this.log(s.key, `replacement of ${replaces} failed: ${(e as Error).message}`);
    }
  }

  /** Runs a one-shot container to completion on the run's network, its output into the state dir's logs. */
  private async job(spec: JobSpec): Promise<{ stdout: string }> {
    if (this.stopped) throw new Error('platform stopped');
    const docker = this.dockerApi();
    const name = `${this.record.runId}-${spec.job}-${++this.jobSeq}`;
    const env = {
      ...this.common,
      REGISTRY_URL: `http://registry:${PIPELINE_PORT}`,
      FEATURE_SERVER_URL: `http://feature-server:${PIPELINE_PORT}`,
      SEED: String(this.opts.seed),
      ...spec.env,
    };
    const container = await this.track(
      docker.createContainer({
        name,
        Image: imageName('pipeline'),
        Cmd: [spec.job],
        Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        Labels: { ...runLabels(this.record.runId), [ROLE_LABEL]: 'job', [SERVICE_LABEL]: spec.job },
        HostConfig: { NetworkMode: this.networkName, DnsOptions: DNS_OPTIONS },
      }),
    );
    try {
      // Only the start is a creation in flight: stop() must not wait for a job to finish.
      await this.track(container.start());
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      const raw = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
      const { stdout, stderr } = demux(raw);
      fs.appendFileSync(path.join(this.opts.stateDir, 'logs', `${spec.job}.log`), stdout + stderr);
      if (StatusCode !== 0) {
        const tail = `${stdout}${stderr}`.trim().split('\n').slice(-5).join('\n');
        throw new Error(`${spec.job} job (${spec.env.MODE ?? ''}) exited with ${StatusCode}:\n${tail}`);
      }
      return { stdout };
    } finally {
      await container.remove({ force: true, v: true }).catch(ignoreGone);
    }
  }

  private logTo(stream: Readable, key: string) {
    const out = fs.createWriteStream(path.join(this.opts.stateDir, 'logs', `${key}.log`), { flags: 'a' });
    stream.on('data', (d) => out.write(d));
    stream.on('end', () => out.end());
    stream.on('error', () => out.end());
  }

  private log(key: string, msg: string) {
    fs.appendFileSync(
      path.join(this.opts.stateDir, 'logs', `${key}.log`),
      `${JSON.stringify({ ts: new Date().toISOString(), platform: 'docker', msg })}\n`,
    );
  }

  /** docker-state.json: the endpoints (with the admin token, for cleanup's reverts): owner-readable only. */
  private writeState() {
    const f = path.join(this.opts.stateDir, STATE_FILE);
    const body: DockerState = {
      runId: this.record.runId,
      network: this.networkName,
      endpoints: this.ep ?? null,
    };
    fs.writeFileSync(`${f}.tmp`, JSON.stringify(body, null, 2), { mode: 0o600 });
    fs.renameSync(`${f}.tmp`, f);
  }

  private emit(ev: PlatformEvent) {
    for (const l of this.listeners) l(ev);
  }
}

/** `gateway->model-server` selects every replica's link, as a latency fault's `link` does. */
function wantsProxy(selection: 'all' | readonly string[], link: string): boolean {
  return selection === 'all' || selection.some((s) => selectsLink(s, link));
}

function ignoreGone(e: unknown) {
  if (!isGone(e)) throw e;
}

const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 9: 'SIGKILL', 15: 'SIGTERM' };
const signalName = (n: number) => SIGNALS[n] ?? `signal ${n}`;

/** Splits the engine's multiplexed log stream (8-byte frame headers: stream, size) into stdout and stderr. */
export function demux(raw: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  while (i + 8 <= raw.length) {
    const kind = raw[i];
    const size = raw.readUInt32BE(i + 4);
    const chunk = raw.subarray(i + 8, i + 8 + size);
    (kind === 2 ? err : out).push(chunk);
    i += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/**
 * Host ports for the services, fixed for the run (a replacement and a restarted service publish the
 * same one, so endpoints stay valid). Drawn below the kernel's ephemeral range, where the engine
 * allocates the random ports it publishes (and Node's listen(0) draws): a port picked there could be
 * handed to another container before ours binds it. Each is checked free on the loopback first.
 */
async function freePorts(n: number): Promise<number[]> {
  const [low] = ephemeralRange();
  const from = Math.max(1024, low - 12_000);
  const picked: number[] = [];
  for (let attempt = 0; picked.length < n; attempt++) {
    if (attempt > 50 * n) throw new Error(`no ${n} free ports found in ${from}–${low - 1}`);
    const port = from + Math.floor(Math.random() * (low - from));
    if (!picked.includes(port) && (await bindable(port))) picked.push(port);
  }
  return picked;
}

function ephemeralRange(): [number, number] {
  try {
    const [a, b] = fs
      .readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (a > 0 && b > a) return [a, b];
  } catch {
    // not Linux: the IANA dynamic range
  }
  return [49152, 65535];
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
