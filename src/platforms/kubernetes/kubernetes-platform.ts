// The reference pipeline on a Kubernetes cluster: deploy/kubernetes applied server-side into a
// namespace labelled faultline.io/chaos=allowed, every object carrying the run label. Pod kill
// deletes pods through the API (the ReplicaSet replaces them), an outage scales a Deployment to
// zero and back, the trainer runs as a Job, and the pods' watch makes the platform events.
//
// Addresses: the Services' ClusterIPs and the pods' IPs, reached directly from the runner's host.
// That needs a host that routes the cluster's service and pod networks (a node of the cluster, as
// scripts/kube-up's one-node cluster is, or a host with routes to them); they outlive the runner,
// so `faultline cleanup` reaches them after a kill -9 without re-creating port-forwards.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { UsageError } from '../../cli/exit.ts';
import { nowMs } from '../../load/clock.ts';
import type { Mechanism } from '../../pipeline/common/config.ts';
import { pollReady } from '../../pipeline/common/ready.ts';
import { forgetActive, newRunId, recordActive } from '../active.ts';
import { directMetrics } from '../metrics.ts';
import type {
  AttachRecord,
  JobSpec,
  MetricsSample,
  MetricsSource,
  PipelineEndpoints,
  PipelineOptions,
  Platform,
  PlatformEvent,
  ReplicaInfo,
  ServiceName,
  StartedPlatform,
} from '../platform.ts';
import { Cluster, type ClusterRef, clusterRefFromEnv, loadKubeConfig, sleep, statusOf } from './cluster.ts';
import { Forwards } from './forward.ts';
import {
  parseImageOverrides,
  proxiedLinks,
  REPLICA_LABEL,
  RUN_LABEL,
  renderPipeline,
  setEnv,
} from './manifests.ts';
import { PodTracker, type TrackedPod } from './pods.ts';

/** What a Kubernetes pipeline keeps in its attach record (owner-only file, never the report folder). */
export interface KubeData extends ClusterRef {
  namespace: string;
  namespaceCreated: boolean;
  adminToken: string;
  endpoints?: PipelineEndpoints;
  /** Replicas of Deployments an outage scaled to zero: what startService (and cleanup) scales back to. */
  scaled: Record<string, number>;
  /** The pipeline's pods and Deployments: the run label, or (attach mode) the user's pipeline. */
  selector: string;
  /** Attach mode: a pipeline already deployed; nothing is applied, and only this run's Jobs are deleted. */
  attached: boolean;
  /** How the runner reaches the pipeline: ClusterIPs and pod IPs, or port-forwards (forward.ts). */
  access: 'cluster-ip' | 'port-forward';
  [k: string]: unknown;
}

const PORT = 8080;
const SERVICE_URL_KEYS = {
  gateway: 'gateway',
  registry: 'registry',
  'feature-server': 'featureServer',
  controller: 'controller',
} as const;

export class KubernetesPlatform implements Platform, StartedPlatform {
  readonly name = 'kubernetes' as const;
  readonly record: AttachRecord;
  private readonly opts: {
    replicas: number;
    disabled: Set<Mechanism>;
    seed: number;
    faultLinks: 'all' | readonly string[];
    readyTimeoutMs: number;
  };
  private cluster?: Cluster;
  private tracker?: PodTracker;
  private forwards?: Forwards;
  private listeners: ((e: PlatformEvent) => void)[] = [];
  private ep?: PipelineEndpoints;
  private modelServiceUrl?: string;
  private jobTemplate?: k8s.V1Job;
  private jobs = 0;
  private stopped = false;
  private stopping?: Promise<void>;

  constructor(options: PipelineOptions = {}) {
    if (options.canary)
      throw new Error(
        'kubernetes: a canary replica (pipeline up --canary) is not offered on this platform yet',
      );
    const replicas = options.replicas ?? 2;
    if (replicas < 1 || !Number.isInteger(replicas))
      throw new Error(`replicas: expected a whole number ≥ 1, found ${replicas}`);
    this.opts = {
      replicas,
      disabled: options.disabled ?? new Set(),
      seed: options.seed ?? 42,
      faultLinks: options.faultLinks ?? 'all',
      readyTimeoutMs: Number(process.env.FAULTLINE_KUBE_READY_TIMEOUT_MS ?? 180_000),
    };
    const runId = newRunId();
    // Attach mode (FAULTLINE_KUBE_ATTACH=1): faults against a pipeline already deployed in
    // FAULTLINE_KUBE_NAMESPACE, found by FAULTLINE_KUBE_SELECTOR (default: the shipped manifests' label).
    const attached = process.env.FAULTLINE_KUBE_ATTACH === '1';
    if (attached && !process.env.FAULTLINE_KUBE_NAMESPACE)
      throw new UsageError(
        'kubernetes: attach mode needs the namespace of the pipeline (FAULTLINE_KUBE_NAMESPACE)',
      );
    const stateDir = path.resolve(
      options.stateDir ?? fs.mkdtempSync(path.resolve('.faultline', 'pipeline-')),
    );
    const data: KubeData = {
      ...clusterRefFromEnv(),
      namespace: process.env.FAULTLINE_KUBE_NAMESPACE || `faultline-${runId}`,
      namespaceCreated: false,
      adminToken: randomBytes(16).toString('hex'),
      scaled: {},
      selector: attached
        ? process.env.FAULTLINE_KUBE_SELECTOR || 'app.kubernetes.io/part-of=faultline'
        : `${RUN_LABEL}=${runId}`,
      attached,
      access: process.env.FAULTLINE_KUBE_ACCESS === 'port-forward' ? 'port-forward' : 'cluster-ip',
    };
    this.record = {
      platform: 'kubernetes',
      runId,
      ownerPid: process.pid,
      stateDir,
      startedAt: new Date().toISOString(),
      ...(options.journal ? { journal: options.journal } : {}),
      data,
    };
  }

  private get data(): KubeData {
    return this.record.data as KubeData;
  }

  get namespace(): string {
    return this.data.namespace;
  }

  get endpoints(): PipelineEndpoints {
    if (!this.ep) throw new Error('the kubernetes platform is not started: call start() first');
    return this.ep;
  }

  onEvent(listener: (e: PlatformEvent) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<this> {
    const { runId } = this.record;
    const cluster = new Cluster(loadKubeConfig(this.data), this.namespace);
    this.cluster = cluster;
    fs.mkdirSync(this.record.stateDir, { recursive: true });
    const { created } = await cluster.claimNamespace(runId, { create: !this.data.attached });
    this.data.namespaceCreated = created;
    if (this.data.attached) this.data.adminToken = await this.readAdminToken(cluster);
    // From here on there is something to clean up.
    recordActive(this.record);
    try {
      if (!this.data.attached) await cluster.assertNoOtherRun(runId);
      this.tracker = new PodTracker(cluster.kc, this.namespace, this.data.selector, (e) => this.emit(e));
      // Each model-server pod gets its slot as a label: the `model-server-<i>` Service selects it,
      // so a replacement (which takes its predecessor's slot) is reached at the same address.
      this.tracker.onNew = (t, labels) => {
        if (this.data.attached || t.service !== 'model-server' || labels[REPLICA_LABEL] === String(t.slot))
          return;
        void cluster.core
          .patchNamespacedPod(
            {
              name: t.name,
              namespace: this.namespace,
              body: { metadata: { labels: { [REPLICA_LABEL]: String(t.slot) } } },
            },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
          )
          .catch(() => undefined); // a pod deleted meanwhile needs no label
      };
      await this.tracker.start();
      const objects = renderPipeline({
        namespace: this.namespace,
        runId,
        adminToken: this.data.adminToken,
        replicas: this.opts.replicas,
        disabled: [...this.opts.disabled],
        seed: this.opts.seed,
        faultLinks: this.opts.faultLinks,
        images: parseImageOverrides(process.env.FAULTLINE_KUBE_IMAGES),
      });
      this.jobTemplate = structuredClone(objects.find((o) => o.kind === 'Job')) as k8s.V1Job | undefined;
      if (this.data.attached) {
        // The trainer runs with the deployed pipeline's own image.
        const reg = await cluster.apps.readNamespacedDeployment({
          name: 'registry',
          namespace: this.namespace,
        });
        const image = reg.spec?.template.spec?.containers[0]?.image;
        const c = this.jobTemplate?.spec?.template.spec?.containers[0];
        if (c && image) c.image = image;
      } else await cluster.apply(objects);
      await this.awaitReady();

      const ip = async (svc: string) => {
        const s = await cluster.core.readNamespacedService({ name: svc, namespace: this.namespace });
        const clusterIP = s.spec?.clusterIP;
        if (!clusterIP || clusterIP === 'None')
          throw new Error(`kubernetes: Service ${svc} has no ClusterIP`);
        return clusterIP;
      };
      const tracker = this.tracker;
      if (this.data.access === 'port-forward') {
        const forwards = new Forwards(cluster.kc, this.namespace);
        this.forwards = forwards;
        tracker.onGone = (t) => forwards.dropPod(t.name);
      }
      // A Ready pod behind a Service, from the watch: `model-server-<i>` is the pod in slot i.
      const readyPod = (svc: string) => () => {
        const m = /^model-server-(\d+)$/.exec(svc);
        const pods = tracker
          .of(m ? 'model-server' : svc)
          .filter((p) => p.ready && (!m || p.slot === Number(m[1])));
        return pods[0]?.name;
      };
      const url = async (svc: string, port = PORT) =>
        this.forwards
          ? await this.forwards.service(svc, port, readyPod(svc))
          : `http://${await ip(svc)}:${port}`;
      this.modelServiceUrl = await url('model-server');
      this.ep = {
        gateway: await url('gateway'),
        registry: await url('registry'),
        featureServer: await url('feature-server'),
        controller: await url('controller'),
        // Attach mode: the deployed pipeline's pods (no per-replica Services there).
        modelServers: this.data.attached
          ? await Promise.all(this.tracker.of('model-server').map((p) => this.podUrl(p)))
          : await Promise.all(Array.from({ length: this.opts.replicas }, (_, i) => url(`model-server-${i}`))),
        toxiproxy: await url('toxiproxy', 8474),
        links: proxiedLinks(this.opts.faultLinks, this.opts.replicas).map((l) => l.link),
        adminToken: this.data.adminToken,
      };
      // Attach mode: the links are the proxies the deployed Toxiproxy has.
      if (this.data.attached) this.ep.links = await toxiproxyLinks(this.ep.toxiproxy);
      for (const u of [this.ep.gateway, ...this.ep.modelServers]) await this.assertReachable(u);
      this.tracker.live = true;
      this.data.endpoints = this.ep;
      recordActive(this.record);
      return this;
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  /** Every Deployment Ready and the bootstrap Job complete; a clear diagnosis otherwise. */
  private async awaitReady(): Promise<void> {
    const cluster = this.cluster!;
    const deadline = Date.now() + this.opts.readyTimeoutMs;
    let jobDone = this.data.attached;
    while (Date.now() < deadline) {
      if (this.stopped) throw new Error('platform stopped while waiting for readiness');
      if (!jobDone && this.jobTemplate) {
        const job = await cluster.batch.readNamespacedJob({
          name: this.jobTemplate.metadata!.name!,
          namespace: this.namespace,
        });
        const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
        if (failed)
          throw new Error(
            `kubernetes: the bootstrap trainer Job failed (${failed.reason}: ${failed.message}):\n${await this.jobLogsTail(job.metadata!.name!)}`,
          );
        jobDone = (job.status?.succeeded ?? 0) >= 1;
      } else jobDone = true;
      if (jobDone && (await cluster.deploymentsReady(this.data.selector))) return;
      await sleep(500);
    }
    throw new Error(
      `kubernetes: the pipeline in namespace ${this.namespace} was not ready within ${this.opts.readyTimeoutMs} ms` +
        `${jobDone ? '' : ' (the bootstrap trainer Job had not completed)'}; not ready:\n${await cluster.diagnose(this.data.selector)}`,
    );
  }

  /** ClusterIPs must be reachable from here (see the header); kube-proxy may need a moment. */
  private async assertReachable(base: string): Promise<void> {
    const r = await pollReady(base, 15_000, { cancelled: () => this.stopped });
    if (r.ready) return;
    throw new Error(
      `kubernetes: the ClusterIP ${base} does not answer from this host (last: ${r.last}). ` +
        'The kubernetes platform reaches Services and pods at their cluster addresses: run it on a node of the ' +
        'cluster or a host that routes its service and pod networks (scripts/kube-up sets that up here).',
    );
  }

  async replicas(service: ServiceName): Promise<ReplicaInfo[]> {
    return this.requireTracker()
      .of(service)
      .map((p) => ({
        name: p.name,
        service,
        replica: p.slot,
        state: p.deleting ? 'terminating' : p.phase.toLowerCase(),
        restarts: p.restarts,
        url: `http://${p.ip}:${PORT}`,
      }));
  }

  async kill(
    service: ServiceName,
    opts: { count?: number; percent?: number; signal?: NodeJS.Signals; pick?: (n: number) => number },
  ): Promise<ReplicaInfo[]> {
    const cluster = this.requireCluster();
    const alive = (await this.replicas(service)).filter((r) => r.state === 'running');
    if (alive.length === 0) throw new Error(`pod-kill: no running pod of ${service}`);
    const n = opts.count ?? Math.max(1, Math.round(((opts.percent ?? 100) / 100) * alive.length));
    const pick = opts.pick ?? ((k: number) => Math.floor(Math.random() * k));
    const victims: ReplicaInfo[] = [];
    const pool = [...alive];
    while (victims.length < Math.min(n, alive.length)) victims.push(...pool.splice(pick(pool.length), 1));
    // SIGKILL: deleted at once (grace 0). SIGTERM: the pod's own grace period (SIGTERM, then SIGKILL).
    const gracePeriodSeconds = opts.signal === 'SIGTERM' ? undefined : 0;
    const del = (name: string) =>
      cluster.core.deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds }).catch((e) => {
        if (statusOf(e) !== 404) throw e;
      });
    if (!this.opts.disabled.has('restart')) {
      return await Promise.all(
        victims.map(async (v) => {
          const signalledAt = nowMs();
          await del(v.name);
          return { ...v, signalledAt };
        }),
      );
    }
    // Restart disabled (the negative control): the Deployment is scaled down by the number killed
    // first, so its ReplicaSet makes no replacement. The victims get the lowest deletion cost, so
    // the scale-down removes exactly them; deleting them ourselves applies the signal's grace period.
    const tracker = this.requireTracker();
    for (const v of victims) {
      tracker.noReplace.add(v.name);
      await cluster.core.patchNamespacedPod(
        {
          name: v.name,
          namespace: this.namespace,
          body: { metadata: { annotations: { 'controller.kubernetes.io/pod-deletion-cost': '-1000000' } } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    }
    const signalledAt = nowMs();
    const replicas = await cluster.replicasOf(service);
    await cluster.scale(service, Math.max(0, replicas - victims.length));
    await Promise.all(victims.map((v) => del(v.name)));
    return victims.map((v) => ({ ...v, signalledAt }));
  }

  async stopService(service: ServiceName): Promise<{ initiatedAt: number }> {
    const cluster = this.requireCluster();
    const tracker = this.requireTracker();
    const replicas = this.data.scaled[service] ?? (await cluster.replicasOf(service));
    // Recorded before the scale: cleanup after a kill -9 scales back to this.
    this.data.scaled[service] = replicas;
    recordActive(this.record);
    tracker.stopping.add(service);
    const pods = tracker.of(service).map((p) => p.name);
    const initiatedAt = nowMs();
    await cluster.scale(service, 0);
    await this.waitUntil(() => tracker.of(service).length === 0, 60_000, `every pod of ${service} gone`);
    for (const name of pods) this.emit({ type: 'service-stopped', service, name, ts_ms: Date.now() });
    // kube-proxy drops the Service's endpoints a moment after the pods are gone.
    const url = this.serviceUrl(service);
    await this.waitUntil(
      async () => !(await answers(url)),
      10_000,
      `${service}'s Service to stop answering`,
    ).catch(() => undefined);
    return { initiatedAt };
  }

  async startService(service: ServiceName): Promise<void> {
    const cluster = this.requireCluster();
    const replicas = this.data.scaled[service] ?? (await cluster.replicasOf(service));
    this.requireTracker().stopping.delete(service);
    await cluster.scale(service, replicas);
    await this.waitUntil(
      () => cluster.deploymentsReady(this.data.selector, [service]),
      this.opts.readyTimeoutMs,
      `${service} Ready again`,
    );
    // …and reachable through its Service (kube-proxy adds the new endpoints a moment later).
    await this.waitUntil(() => answers(this.serviceUrl(service)), 30_000, `${service}'s Service answering`);
    delete this.data.scaled[service];
    recordActive(this.record);
  }

  /** The trainer as a Kubernetes Job (the bootstrap Job's pod spec); resolves with its pod's log. */
  async runJob(spec: JobSpec): Promise<{ stdout: string }> {
    const cluster = this.requireCluster();
    if (!this.jobTemplate) throw new Error('kubernetes: no Job in the manifests to run the trainer from');
    const mode = spec.env.MODE ?? '';
    const name =
      `${spec.job}-${++this.jobs}-${mode.replace(/[^a-z0-9]+/g, '-').slice(0, 30)}-${randomBytes(2).toString('hex')}`
        .replace(/-+/g, '-')
        .slice(0, 63)
        .replace(/-$/, '');
    const job = structuredClone(this.jobTemplate);
    job.metadata = {
      name,
      namespace: this.namespace,
      labels: { ...job.metadata?.labels, [RUN_LABEL]: this.record.runId },
    };
    const podSpec = job.spec!.template.spec!;
    // One attempt: a failing mode fails the job at once, with its output.
    job.spec!.backoffLimit = 0;
    podSpec.restartPolicy = 'Never';
    const c = podSpec.containers[0];
    setEnv(c, 'SEED', String(this.opts.seed));
    for (const [k, v] of Object.entries(spec.env)) setEnv(c, k, v);
    await cluster.batch.createNamespacedJob({ namespace: this.namespace, body: job });
    try {
      let failed: k8s.V1JobCondition | undefined;
      await this.waitUntil(
        async () => {
          const j = await cluster.batch.readNamespacedJob({ name, namespace: this.namespace });
          failed = j.status?.conditions?.find((x) => x.type === 'Failed' && x.status === 'True');
          return !!failed || (j.status?.succeeded ?? 0) >= 1;
        },
        (job.spec!.activeDeadlineSeconds ?? 600) * 1000 + 30_000,
        `trainer job ${name}`,
      );
      if (failed) {
        const tail = (await this.jobLogs(name)).trim().split('\n').slice(-5).join('\n');
        throw new Error(`trainer job (${mode}) failed (${failed.reason}):\n${tail}`);
      }
      return { stdout: await this.jobStdout(name) };
    } finally {
      await cluster.batch
        .deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy: 'Background' })
        .catch(() => undefined);
    }
  }

  private async jobLogs(job: string): Promise<string> {
    const pod = await this.jobPod(job);
    if (!pod) return '(no pod)';
    return await this.requireCluster()
      .podLogs(pod)
      .catch((e) => `(logs unavailable: ${(e as Error).message})`);
  }

  /**
   * The job's stdout. The pod log API interleaves stdout and stderr unless the cluster enables split
   * streams (PodLogsQuerySplitStreams, `stream=Stdout`); without it, the trainer's stderr lines (its
   * JSON progress logs `{time, service: "trainer", msg}` and `trainer: …` messages, as
   * src/pipeline/trainer/main.ts documents them) are left out, so its last line is its result.
   */
  private async jobStdout(job: string): Promise<string> {
    const cluster = this.requireCluster();
    const pod = await this.jobPod(job);
    if (!pod) return '';
    const split = await cluster.core
      .readNamespacedPodLog({ name: pod, namespace: this.namespace, stream: 'Stdout' })
      .catch(() => undefined);
    if (split !== undefined) return split;
    const all = await cluster.podLogs(pod);
    return all
      .split('\n')
      .filter((l) => !l.startsWith('trainer: ') && !isTrainerLogLine(l))
      .join('\n');
  }

  private async jobPod(job: string): Promise<string | undefined> {
    const pods = await this.requireCluster().core.listNamespacedPod({
      namespace: this.namespace,
      labelSelector: `job-name=${job}`,
    });
    return pods.items
      .sort((a, b) =>
        String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)),
      )
      .at(-1)?.metadata?.name;
  }

  private async jobLogsTail(job: string): Promise<string> {
    return (await this.jobLogs(job)).trim().split('\n').slice(-10).join('\n');
  }

  /**
   * Direct scrapes of every current pod at its pod IP (read from the watch at each round, so a
   * replacement is followed); a service with no pod at all is reported down.
   */
  metrics(): MetricsSource {
    const tracker = this.requireTracker();
    const services: ServiceName[] = ['gateway', 'model-server', 'feature-server', 'controller', 'registry'];
    return {
      collect: async () => {
        const targets = await Promise.all(
          services.flatMap((s) =>
            tracker
              .of(s)
              .filter((p) => p.ip && p.phase === 'Running')
              .map(async (p) => ({ service: s, replica: String(p.slot), url: await this.podUrl(p) })),
          ),
        );
        const samples = await directMetrics(() => targets).collect();
        const missing: MetricsSample[] = services
          .filter((s) => !samples.some((x) => x.service === s))
          .map((s) => ({ service: s, replica: '0', ts: Date.now(), up: false, error: 'no running pod' }));
        return [...samples, ...missing];
      },
    };
  }

  /** A pod's address: its IP, or a port-forward to it. */
  private async podUrl(p: TrackedPod): Promise<string> {
    return this.forwards ? await this.forwards.pod(p.name, PORT) : `http://${p.ip}:${PORT}`;
  }

  async stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      this.tracker?.stop();
      // Attach mode: a Deployment still scaled down by this run goes back (the runner reverts its
      // outages first; this covers a start or revert that failed half-way).
      if (this.cluster && this.data.attached)
        for (const [svc, n] of Object.entries(this.data.scaled))
          await this.cluster.scale(svc, n).catch(() => undefined);
      // Only objects with this run's label: in attach mode, just the Jobs it ran.
      if (this.cluster)
        await this.cluster.removeRun(this.record.runId, { namespaceCreated: this.data.namespaceCreated });
      this.forwards?.close();
      forgetActive(this.record);
    })();
    return this.stopping;
  }

  /** Attach mode: the deployed pipeline's admin token, from its `faultline-admin` Secret. */
  private async readAdminToken(cluster: Cluster): Promise<string> {
    const secret = await cluster.core.readNamespacedSecret({
      name: 'faultline-admin',
      namespace: this.namespace,
    });
    const b64 = secret.data?.ADMIN_TOKEN;
    if (!b64) throw new Error(`kubernetes: Secret faultline-admin in ${this.namespace} has no ADMIN_TOKEN`);
    return Buffer.from(b64, 'base64').toString('utf8');
  }

  private serviceUrl(service: ServiceName): string {
    if (service === 'model-server') return this.modelServiceUrl!;
    return this.endpoints[SERVICE_URL_KEYS[service]];
  }

  private requireCluster(): Cluster {
    if (!this.cluster || !this.ep)
      throw new Error('the kubernetes platform is not started: call start() first');
    return this.cluster;
  }

  private requireTracker(): PodTracker {
    if (!this.tracker) throw new Error('the kubernetes platform is not started: call start() first');
    return this.tracker;
  }

  private async waitUntil(
    ok: () => boolean | Promise<boolean>,
    timeoutMs: number,
    what: string,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.stopped) throw new Error(`platform stopped while waiting for ${what}`);
      if (await ok()) return;
      await sleep(200);
    }
    const why = this.cluster ? `\n${await this.cluster.diagnose(this.data.selector).catch(() => '')}` : '';
    throw new Error(`kubernetes: ${what}: not reached within ${timeoutMs} ms${why}`);
  }

  private emit(e: PlatformEvent) {
    for (const l of this.listeners) l(e);
  }
}

async function answers(base: string): Promise<boolean> {
  return await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
    (r) => r.ok,
    () => false,
  );
}

function isTrainerLogLine(line: string): boolean {
  try {
    const o = JSON.parse(line);
    return !!o && typeof o === 'object' && o.service === 'trainer' && 'msg' in o && 'time' in o;
  } catch {
    return false;
  }
}

async function toxiproxyLinks(api: string): Promise<string[]> {
  const res = await fetch(`${api}/proxies`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`kubernetes: Toxiproxy at ${api} answered HTTP ${res.status}`);
  return Object.keys((await res.json()) as Record<string, unknown>).sort();
}
