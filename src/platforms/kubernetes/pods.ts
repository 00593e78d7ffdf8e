// The run's pods, followed through a watch, and the platform events they make (the vocabulary of
// src/platforms/platform.ts). A ReplicaSet replaces a deleted pod with a new one of another name:
// the new pod of the same ReplicaSet is the replacement of the oldest gone one not yet replaced.
// Pods keep a stable replica slot (0, 1, …) per service: a replacement takes its predecessor's.
import * as k8s from '@kubernetes/client-node';
import type { PlatformEvent } from '../platform.ts';
import { NAME_LABEL, REPLICA_LABEL } from './manifests.ts';

export interface TrackedPod {
  name: string;
  service: string;
  /** The ReplicaSet (or Job) that owns it. */
  owner: string;
  slot: number;
  ip?: string;
  phase: string;
  ready: boolean;
  deleting: boolean;
  gone: boolean;
  restarts: number;
  /** When its container was first seen running (epoch ms). */
  startedAt?: number;
  /** The gone pod this one replaces. */
  replaces?: string;
  readySeen: boolean;
}

/** Services whose pods the pipeline serves from (jobs, Redis, Toxiproxy, Prometheus get no events). */
const SERVING = new Set(['registry', 'feature-server', 'model-server', 'gateway', 'controller']);

export class PodTracker {
  private pods = new Map<string, TrackedPod>();
  /** Gone pods awaiting a replacement, per owner (oldest first). */
  private unreplaced = new Map<string, TrackedPod[]>();
  /** Services stopped on purpose (an outage): their pods are not replaced. */
  readonly stopping = new Set<string>();
  /** Pods killed with replacement disabled. */
  readonly noReplace = new Set<string>();
  /** After start() is ready: readiness from then on is journaled as replica-ready. */
  live = false;
  private abort?: AbortController;
  private closed = false;
  private synced?: Promise<void>;

  private readonly kc: k8s.KubeConfig;
  private readonly namespace: string;
  private readonly selector: string;
  private readonly emit: (e: PlatformEvent) => void;
  /** Called when a pod is gone (deleting, deleted or finished). */
  onGone?: (t: TrackedPod) => void;
  /** Called for each pod seen for the first time (the platform labels model-server pods with their slot). */
  onNew?: (t: TrackedPod, labels: Record<string, string>) => void;
  constructor(kc: k8s.KubeConfig, namespace: string, selector: string, emit: (e: PlatformEvent) => void) {
    this.kc = kc;
    this.namespace = namespace;
    this.selector = selector;
    this.emit = emit;
  }

  /** Lists, then watches from the list's resourceVersion; re-lists after a dropped watch. */
  start(): Promise<void> {
    this.synced = this.resync();
    return this.synced;
  }

  private async resync(): Promise<void> {
    if (this.closed) return;
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const list = await core.listNamespacedPod({
      namespace: this.namespace,
      labelSelector: this.selector,
    });
    const names = new Set<string>();
    for (const p of list.items) {
      names.add(p.metadata!.name!);
      this.observe(p);
    }
    // Deleted while no watch was running.
    for (const t of this.pods.values()) if (!names.has(t.name)) this.markGone(t, { reason: 'deleted' });
    const rv = list.metadata?.resourceVersion;
    this.abort = await new k8s.Watch(this.kc).watch(
      `/api/v1/namespaces/${this.namespace}/pods`,
      { labelSelector: this.selector, resourceVersion: rv, allowWatchBookmarks: true },
      (type, obj: k8s.V1Pod) => {
        if (type === 'DELETED') {
          const t = this.pods.get(obj.metadata?.name ?? '');
          if (t) this.markGone(t, { reason: 'deleted' });
        } else if (type === 'ADDED' || type === 'MODIFIED') this.observe(obj);
      },
      () => {
        if (!this.closed) setTimeout(() => void this.resync().catch(() => this.retryLater()), 200);
      },
    );
  }

  private retryLater() {
    if (!this.closed) setTimeout(() => void this.resync().catch(() => this.retryLater()), 1000);
  }

  stop(): void {
    this.closed = true;
    this.abort?.abort();
  }

  /** Current (not gone) pods of a service, by slot. */
  of(service: string): TrackedPod[] {
    return [...this.pods.values()]
      .filter((t) => t.service === service && !t.gone)
      .sort((a, b) => a.slot - b.slot);
  }

  private observe(p: k8s.V1Pod) {
    const name = p.metadata?.name;
    const service = p.metadata?.labels?.[NAME_LABEL];
    if (!name || !service) return;
    const owner = p.metadata?.ownerReferences?.[0]?.name ?? service;
    let t = this.pods.get(name);
    const now = Date.now();
    if (!t) {
      const waiting = this.unreplaced.get(owner);
      const predecessor = this.live && waiting?.length ? waiting.shift() : undefined;
      t = {
        name,
        service,
        owner,
        slot: predecessor?.slot ?? this.freeSlot(service, p.metadata?.labels?.[REPLICA_LABEL]),
        phase: p.status?.phase ?? 'Pending',
        ready: false,
        deleting: false,
        gone: false,
        restarts: 0,
        readySeen: false,
        ...(predecessor ? { replaces: predecessor.name } : {}),
      };
      this.pods.set(name, t);
      this.onNew?.(t, p.metadata?.labels ?? {});
      if (predecessor && SERVING.has(service))
        this.emit({
          type: 'replacement-scheduled',
          service,
          name: predecessor.name,
          ts_ms: now,
          details: { replaces: predecessor.name, replacement: name, owner },
        });
    }
    if (t.gone) return;
    t.phase = p.status?.phase ?? t.phase;
    t.ip = p.status?.podIP ?? t.ip;
    const cs = p.status?.containerStatuses ?? [];
    const restarts = cs.reduce((n, c) => n + (c.restartCount ?? 0), 0);
    if (restarts > t.restarts && SERVING.has(service) && this.live) {
      // The kubelet restarted a crashed container in place: gone, and replaced by itself.
      const last = cs.find((c) => c.lastState?.terminated)?.lastState?.terminated;
      this.emit({
        type: 'replica-gone',
        service,
        name,
        ts_ms: now,
        details: { code: last?.exitCode, reason: last?.reason, container_restart: true },
      });
      this.emit({ type: 'replacement-scheduled', service, name, ts_ms: now, details: { replaces: name } });
      t.replaces = name;
      t.readySeen = false;
      t.startedAt = undefined;
    }
    t.restarts = restarts;
    const running = cs.length > 0 && cs.every((c) => c.state?.running);
    if (running && t.startedAt === undefined) {
      t.startedAt = now;
      if (SERVING.has(service))
        this.emit({ type: 'replica-started', service, name, ts_ms: now, details: { pod_ip: t.ip } });
    }
    t.ready = !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (t.ready && !t.readySeen) {
      t.readySeen = true;
      if (this.live && SERVING.has(service))
        this.emit({
          type: 'replica-ready',
          service,
          name,
          ts_ms: now,
          details: {
            since_start_ms: now - (t.startedAt ?? now),
            ...(t.replaces ? { replaces: t.replaces } : {}),
          },
        });
    }
    if (p.metadata?.deletionTimestamp) {
      t.deleting = true;
      this.markGone(t, { reason: 'deleting' });
    } else if (t.phase === 'Failed' || t.phase === 'Succeeded') this.markGone(t, { reason: t.phase });
  }

  /** A pod is gone once it is being deleted (out of its Service) or finished. */
  private markGone(t: TrackedPod, details: Record<string, unknown>) {
    if (t.gone) {
      if (details.reason === 'deleted') this.pods.delete(t.name);
      return;
    }
    t.gone = true;
    t.ready = false;
    if (details.reason === 'deleted') this.pods.delete(t.name);
    this.onGone?.(t);
    if (!SERVING.has(t.service)) return;
    this.emit({ type: 'replica-gone', service: t.service, name: t.name, ts_ms: Date.now(), details });
    if (this.live && !this.stopping.has(t.service) && !this.noReplace.has(t.name)) {
      const q = this.unreplaced.get(t.owner) ?? [];
      q.push(t);
      this.unreplaced.set(t.owner, q);
    }
  }

  /** The pod's own label when it has one (a pipeline adopted after a restart of the tracker), else the lowest free. */
  private freeSlot(service: string, labelled?: string): number {
    const used = new Set(
      [...this.pods.values()].filter((t) => t.service === service && !t.gone).map((t) => t.slot),
    );
    // Slots of gone pods awaiting a replacement stay reserved for it.
    for (const q of this.unreplaced.values()) for (const t of q) if (t.service === service) used.add(t.slot);
    const own = labelled === undefined ? Number.NaN : Number(labelled);
    if (Number.isInteger(own) && own >= 0 && !used.has(own)) return own;
    let s = 0;
    while (used.has(s)) s++;
    return s;
  }
}
