// Where the reference pipeline runs. Scenarios talk only to this interface, so the same scenario runs
// on the embedded local platform, in Docker, or on Kubernetes.
import type { Mechanism } from '../pipeline/common/config.ts';
import type { ServiceName } from '../pipeline/topology.ts';

// The names live in the pipeline's topology; re-exported for platform implementations.
export { SERVICES, type ServiceName } from '../pipeline/topology.ts';

export interface PipelineEndpoints {
  gateway: string;
  registry: string;
  featureServer: string;
  controller: string;
  /** Direct (un-proxied) address of each model-server replica, by replica index. */
  modelServers: string[];
  /** Toxiproxy-compatible API that controls the network links. */
  toxiproxy: string;
  /** Named network links a latency/outage fault can target. */
  links: string[];
  adminToken: string;
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
}

export interface ReplicaInfo {
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

export interface PlatformEvent {
  /** `replica-ready`: a replica (re)started after start() answered /readyz; details.since_start_ms. */
  type:
    | 'replica-started'
    | 'replica-ready'
    | 'replica-exited'
    | 'replica-restart-scheduled'
    | 'service-stopped';
  service: string;
  name: string;
  ts_ms: number;
  pid?: number;
  details?: Record<string, unknown>;
}

export interface Platform {
  readonly name: 'local' | 'docker' | 'kubernetes';
  start(): Promise<PipelineEndpoints>;
  readonly endpoints: PipelineEndpoints;
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
  onEvent(listener: (e: PlatformEvent) => void): void;
  stop(): Promise<void>;
}
