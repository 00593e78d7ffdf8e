// Where the reference pipeline runs. The runner, CLI, observers, faults and cleanup talk only to
// these interfaces (through src/platforms/index.ts), so the same scenario runs on the embedded local
// platform, in Docker, or on Kubernetes. Lifecycle as in Testcontainers: a configured `Platform`
// starts into a `StartedPlatform` (the only type with endpoints), which stops; a pipeline left by a
// killed runner is reached again through `attach` from its `AttachRecord`.
import type { Mechanism } from '../pipeline/common/config.ts';
import type { ServiceName } from '../pipeline/topology.ts';

// The names live in the pipeline's topology; re-exported for platform implementations.
export { SERVICES, type ServiceName } from '../pipeline/topology.ts';

export type PlatformKind = 'local' | 'docker' | 'kubernetes';

export interface PipelineEndpoints {
  gateway: string;
  registry: string;
  featureServer: string;
  controller: string;
  /**
   * Address of each model-server replica as started, by replica index, for tools and tests that
   * talk to one replica. Replicas come and go (a pod is renamed on restart): observers take their
   * targets from `StartedPlatform.metrics()`, never from here.
   */
  modelServers: string[];
  /** Toxiproxy-compatible API that controls the network links. */
  toxiproxy: string;
  /** Named network links a latency/outage fault can target (those that got a fault proxy). */
  links: string[];
  adminToken: string;
  /** The platform's own Prometheus (scrapes the services, evaluates the runbooks' alert rules), if it runs one. */
  prometheus?: string;
}

export interface PipelineOptions {
  replicas?: number;
  /** `sqlite` (default) or a `redis://` URL. */
  store?: string;
  disabled?: Set<Mechanism>;
  seed?: number;
  /** Where databases, artifacts, logs and the state file live. */
  stateDir?: string;
  /** Add one model-server replica serving alias `challenger` behind the gateway's canary pool. */
  canary?: boolean;
  /**
   * Links that get a fault proxy: `all` (default) or link names / prefixes such as
   * `gateway->model-server`. Other links connect directly, so a run pays for relays only where it
   * can inject network faults.
   */
  faultLinks?: 'all' | readonly string[];
  /**
   * The journal of the run that owns this pipeline: recorded with the pipeline so that
   * `faultline cleanup` can revert the faults a killed runner left (see AttachRecord).
   */
  journal?: string;
}

export interface ReplicaInfo {
  /** The platform's name for this replica (a process slot, a container, a pod). */
  name: string;
  service: string;
  replica: number;
  pid?: number;
  state: string;
  restarts: number;
  url: string;
  /** kill(): when this replica's signal was sent (nowMs clock, as request records), for fault start. */
  signalledAt?: number;
}

/**
 * What happened to the pipeline's replicas, named by what happened so any platform can emit it (a
 * supervisor, a container restart policy, a ReplicaSet):
 * - `replica-started`: a replica's process/container/pod started.
 * - `replica-gone`: a replica died or was deleted (details: code, signal).
 * - `replacement-scheduled`: the platform decided to replace a gone replica (details.replaces: the
 *   gone replica's name; details.delayMs: its back-off). Drives the `restart` mitigation; never
 *   emitted when replacement is off (`--disable restart`).
 * - `replica-ready`: a replica started after start() answered /readyz (details.since_start_ms,
 *   details.replaces when it is a replacement).
 * - `service-stopped`: a service was stopped on purpose (an outage), not replaced until started.
 */
export type PlatformEventType =
  | 'replica-started'
  | 'replica-gone'
  | 'replacement-scheduled'
  | 'replica-ready'
  | 'service-stopped';

export interface PlatformEvent {
  type: PlatformEventType;
  service: string;
  name: string;
  ts_ms: number;
  pid?: number;
  details?: Record<string, unknown>;
}

/** A one-shot job run to completion on the platform (a process, a container, a Kubernetes Job). */
export interface JobSpec {
  /** Only the trainer today: `MODE` says what it does (bootstrap, bad-model, retrain…). */
  job: 'trainer';
  env: Record<string, string>;
}

/** One round of metrics from one replica, as the observers journal it. */
export interface MetricsSample {
  service: string;
  replica: string;
  /** When the values were in hand (epoch ms). */
  ts: number;
  up: boolean;
  /** Prometheus text exposition, when up. */
  text?: string;
  error?: string;
}

/** Where the observers get the pipeline's metrics: direct scrapes, or a Prometheus the platform runs. */
export interface MetricsSource {
  /** One scrape of every current replica of every service. */
  collect(): Promise<MetricsSample[]>;
}

/** An alert pending or firing in the platform's monitoring (a Prometheus alerting rule). */
export interface AlertSample {
  /** The alert's name (`alertname`), as `faultline runbooks export` names a runbook's alert. */
  name: string;
  state: 'pending' | 'firing';
  /** When the alert state was read (epoch ms): what the observers journal as the signal's time. */
  ts: number;
  /** When the monitoring says the alert became active (epoch ms), if it says. */
  activeAt?: number;
  labels: Record<string, string>;
}

/** Where the observers read alerts from: a platform that runs monitoring with alert rules. */
export interface AlertSource {
  /** The monitoring's address (for the journal and the report). */
  readonly url: string;
  /** The alerts pending or firing now. */
  collect(): Promise<AlertSample[]>;
}

/**
 * What a platform persists while it runs (under FAULTLINE_HOME/active), enough for another process
 * to reach the pipeline again: `faultline cleanup`, `pipeline down|status`.
 */
export interface AttachRecord {
  platform: PlatformKind;
  /** Unique per started pipeline; Docker and Kubernetes objects carry it as a label. */
  runId: string;
  /** The process that owns the pipeline (runner or `pipeline up`). */
  ownerPid: number;
  stateDir: string;
  startedAt: string;
  journal?: string;
  /** Platform-specific (local: child pids). */
  data: Record<string, unknown>;
}

/** What every started platform offers. */
export interface StartedPlatform {
  readonly name: PlatformKind;
  readonly endpoints: PipelineEndpoints;
  readonly record: AttachRecord;
  replicas(service: ServiceName): Promise<ReplicaInfo[]>;
  /** Pod kill: the platform is expected to replace what was killed. Each victim carries `signalledAt`. */
  kill(
    service: ServiceName,
    opts: { count?: number; percent?: number; signal?: NodeJS.Signals; pick?: (n: number) => number },
  ): Promise<ReplicaInfo[]>;
  /**
   * Takes every replica of a service down and keeps it down until `startService`. Resolves once they
   * are down, with the instant the stop was initiated (nowMs clock): the outage's fault start.
   */
  stopService(service: ServiceName): Promise<{ initiatedAt: number }>;
  startService(service: ServiceName): Promise<void>;
  /** Runs a job to completion; resolves with its stdout, rejects with its output's tail on failure. */
  runJob(spec: JobSpec): Promise<{ stdout: string }>;
  metrics(): MetricsSource;
  /** Alerts of the platform's own monitoring, when it runs one (docker: Prometheus); else absent. */
  alerts?(): AlertSource;
  onEvent(listener: (e: PlatformEvent) => void): void;
  stop(): Promise<void>;
}

/** A configured platform: nothing runs and no endpoint exists until start(). */
export interface Platform {
  readonly name: PlatformKind;
  start(): Promise<StartedPlatform>;
}

/** A pipeline reached again from its record, after its owner died (or from another process). */
export interface AttachedPlatform {
  readonly record: AttachRecord;
  /** Undefined when the pipeline never became ready (nothing to revert through). */
  readonly endpoints?: PipelineEndpoints;
  /** Is the owner (the runner or `pipeline up`) still alive? */
  ownerAlive(): boolean;
  /** Brings a stopped service back; resolves with a note when the platform cannot (and why). */
  startService(service: ServiceName): Promise<string | undefined>;
  /** Per replica: name, state, and whether it answers /readyz (for `pipeline status`). */
  status(): Promise<{ name: string; pid?: number; state: string; restarts: number; url: string }[]>;
  /** Stops the owner if alive, then removes everything the pipeline left (processes, containers…). */
  teardown(): Promise<{ removed: string[] }>;
}

/** One platform implementation: how to create it and how to re-attach to what it started. */
export interface PlatformProvider {
  readonly kind: PlatformKind;
  /** One line for `--help` and errors. */
  readonly description: string;
  create(options: PipelineOptions): Platform;
  attach(record: AttachRecord): Promise<AttachedPlatform>;
}
