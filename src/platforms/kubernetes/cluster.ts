// The Kubernetes API as the platform uses it: which cluster (kubeconfig, context), the namespace
// guard, server-side apply, scaling, readiness with a diagnosis, and removal by run label. Shared
// by the started platform and by attach (cleanup after the owner died).
import * as k8s from '@kubernetes/client-node';
import { UsageError } from '../../cli/exit.ts';
import { CHAOS_LABEL, FIELD_MANAGER, RUN_LABEL } from './manifests.ts';

/** Where the cluster is: FAULTLINE_KUBECONFIG (else KUBECONFIG / ~/.kube/config), FAULTLINE_KUBE_CONTEXT. */
export interface ClusterRef {
  kubeconfig?: string;
  context?: string;
}

export function clusterRefFromEnv(): ClusterRef {
  return {
    ...(process.env.FAULTLINE_KUBECONFIG ? { kubeconfig: process.env.FAULTLINE_KUBECONFIG } : {}),
    ...(process.env.FAULTLINE_KUBE_CONTEXT ? { context: process.env.FAULTLINE_KUBE_CONTEXT } : {}),
  };
}

export function loadKubeConfig(ref: ClusterRef): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (ref.kubeconfig) kc.loadFromFile(ref.kubeconfig);
  else kc.loadFromDefault();
  if (ref.context) kc.setCurrentContext(ref.context);
  if (!kc.getCurrentCluster())
    throw new Error(
      'kubernetes: no cluster configured (set FAULTLINE_KUBECONFIG or KUBECONFIG, or FAULTLINE_KUBE_CONTEXT)',
    );
  return kc;
}

export class Cluster {
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly batch: k8s.BatchV1Api;
  readonly objects: k8s.KubernetesObjectApi;
  readonly kc: k8s.KubeConfig;
  readonly namespace: string;
  constructor(kc: k8s.KubeConfig, namespace: string) {
    this.kc = kc;
    this.namespace = namespace;
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.batch = kc.makeApiClient(k8s.BatchV1Api);
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  }

  /**
   * The safety guard: chaos only in a namespace labelled faultline.io/chaos=allowed. A missing
   * namespace is created with the label (and the run label: teardown then deletes it).
   */
  async claimNamespace(
    runId: string,
    opts: { create: boolean } = { create: true },
  ): Promise<{ created: boolean }> {
    const ns = this.namespace;
    if (/^kube-/.test(ns) || ns === 'default')
      throw new UsageError(
        `kubernetes: namespace "${ns}" is never used for chaos (system or default namespace); choose another`,
      );
    try {
      const existing = await this.core.readNamespace({ name: ns });
      if (existing.metadata?.labels?.[CHAOS_LABEL] !== 'allowed')
        throw new UsageError(
          `kubernetes: namespace "${ns}" is not labelled ${CHAOS_LABEL}=allowed, so Faultline will not inject faults there. ` +
            `If chaos is allowed in it, label it: kubectl label namespace ${ns} ${CHAOS_LABEL}=allowed`,
        );
      if (existing.status?.phase === 'Terminating')
        throw new Error(`kubernetes: namespace "${ns}" is being deleted; wait for it or choose another`);
      return { created: false };
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
    if (!opts.create) throw new UsageError(`kubernetes: namespace "${ns}" does not exist`);
    await this.core.createNamespace({
      body: {
        metadata: {
          name: ns,
          labels: {
            [CHAOS_LABEL]: 'allowed',
            [RUN_LABEL]: runId,
            'app.kubernetes.io/managed-by': 'faultline',
          },
        },
      },
    });
    return { created: true };
  }

  /** Refuses to apply over a pipeline another run (or a crashed one) still has in this namespace. */
  async assertNoOtherRun(runId: string): Promise<void> {
    const deps = await this.apps.listNamespacedDeployment({
      namespace: this.namespace,
      labelSelector: 'app.kubernetes.io/part-of=faultline',
    });
    const other = deps.items.find((d) => d.metadata?.labels?.[RUN_LABEL] !== runId);
    if (other)
      throw new Error(
        `kubernetes: namespace "${this.namespace}" already holds Deployment ${other.metadata?.name} of run ` +
          `"${other.metadata?.labels?.[RUN_LABEL] ?? '(unlabelled)'}"; run \`faultline cleanup\` (or use another namespace)`,
      );
  }

  /** Server-side apply, field manager `faultline`, in the given order. */
  async apply(objects: k8s.KubernetesObject[]): Promise<void> {
    for (const o of objects) {
      await this.objects.patch(
        o,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        k8s.PatchStrategy.ServerSideApply,
      );
    }
  }

  async scale(deployment: string, replicas: number): Promise<void> {
    await this.apps.patchNamespacedDeploymentScale(
      {
        name: deployment,
        namespace: this.namespace,
        body: { spec: { replicas } },
        fieldManager: FIELD_MANAGER,
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  async replicasOf(deployment: string): Promise<number> {
    const d = await this.apps.readNamespacedDeployment({ name: deployment, namespace: this.namespace });
    return d.spec?.replicas ?? 1;
  }

  /** Every Deployment the selector picks (the run's: `faultline.io/run=<id>`) has its replicas Ready. */
  async deploymentsReady(labelSelector: string, names?: readonly string[]): Promise<boolean> {
    const deps = await this.apps.listNamespacedDeployment({ namespace: this.namespace, labelSelector });
    const relevant = deps.items.filter((d) => !names || names.includes(d.metadata?.name ?? ''));
    if (names && relevant.length < names.length) return false;
    return relevant.every((d) => {
      const want = d.spec?.replicas ?? 1;
      const s = d.status;
      return (
        (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        (s?.readyReplicas ?? 0) === want &&
        (s?.updatedReplicas ?? 0) === want &&
        (s?.replicas ?? 0) === want
      );
    });
  }

  /** Why the run's pods are not ready: pod, phase, container reasons, the last probe failure. */
  async diagnose(labelSelector: string): Promise<string> {
    const pods = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector });
    const events = await this.core
      .listNamespacedEvent({ namespace: this.namespace })
      .then((l) => l.items)
      .catch(() => [] as k8s.CoreV1Event[]);
    const lines: string[] = [];
    for (const p of pods.items) {
      const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      if (ready || p.status?.phase === 'Succeeded') continue;
      const name = p.metadata?.name ?? '?';
      const reasons = (p.status?.containerStatuses ?? []).map((c) => {
        const st = c.state?.waiting ?? c.state?.terminated;
        const last = c.lastState?.terminated;
        return `${c.name}: ${st ? `${st.reason ?? ''}${st.message ? ` (${st.message.trim()})` : ''}` : 'running, not ready'}${
          c.restartCount
            ? `, ${c.restartCount} restarts${last ? ` (last exit ${last.exitCode} ${last.reason ?? ''})` : ''}`
            : ''
        }`;
      });
      const pending = p.status?.conditions?.find((c) => c.status === 'False' && c.message);
      const probe = events
        .filter((e) => e.involvedObject?.name === name && (e.reason === 'Unhealthy' || e.type === 'Warning'))
        .sort((a, b) => eventTime(a) - eventTime(b))
        .at(-1);
      lines.push(
        `  pod ${name}: phase ${p.status?.phase ?? '?'}; ${reasons.join('; ') || pending?.message || 'no container status yet'}` +
          (probe ? `; last event: ${probe.reason}: ${probe.message?.trim()}` : ''),
      );
    }
    return lines.length ? lines.join('\n') : '  (every pod is Ready)';
  }

  async podLogs(pod: string, tailLines?: number): Promise<string> {
    return await this.core.readNamespacedPodLog({ name: pod, namespace: this.namespace, tailLines });
  }

  /**
   * Deletes every object carrying the run label (never anything else), pods last and at once, then
   * the namespace when Faultline created it. Resolves once no pod of the run is left (or timeout).
   */
  async removeRun(runId: string, opts: { namespaceCreated: boolean; timeoutMs?: number }): Promise<string[]> {
    const ns = this.namespace;
    const labelSelector = `${RUN_LABEL}=${runId}`;
    const removed: string[] = [];
    const gone = (e: unknown) => {
      if (statusOf(e) !== 404) throw e;
    };
    const bg = 'Background';
    for (const j of (await this.batch.listNamespacedJob({ namespace: ns, labelSelector })).items) {
      await this.batch
        .deleteNamespacedJob({ name: j.metadata!.name!, namespace: ns, propagationPolicy: bg })
        .catch(gone);
      removed.push(`job/${j.metadata?.name}`);
    }
    for (const d of (await this.apps.listNamespacedDeployment({ namespace: ns, labelSelector })).items) {
      await this.apps
        .deleteNamespacedDeployment({ name: d.metadata!.name!, namespace: ns, propagationPolicy: bg })
        .catch(gone);
      removed.push(`deployment/${d.metadata?.name}`);
    }
    for (const s of (await this.core.listNamespacedService({ namespace: ns, labelSelector })).items) {
      await this.core.deleteNamespacedService({ name: s.metadata!.name!, namespace: ns }).catch(gone);
      removed.push(`service/${s.metadata?.name}`);
    }
    for (const c of (await this.core.listNamespacedConfigMap({ namespace: ns, labelSelector })).items) {
      await this.core.deleteNamespacedConfigMap({ name: c.metadata!.name!, namespace: ns }).catch(gone);
      removed.push(`configmap/${c.metadata?.name}`);
    }
    for (const s of (await this.core.listNamespacedSecret({ namespace: ns, labelSelector })).items) {
      await this.core.deleteNamespacedSecret({ name: s.metadata!.name!, namespace: ns }).catch(gone);
      removed.push(`secret/${s.metadata?.name}`);
    }
    // Pods go with their ReplicaSets (garbage collector) after their grace period; nothing of a torn
    // down run needs one, and a ReplicaSet not yet collected may still make one: loop until none.
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    const seen = new Set<string>();
    while (Date.now() < deadline) {
      const pods = (await this.core.listNamespacedPod({ namespace: ns, labelSelector })).items;
      if (pods.length === 0) break;
      for (const p of pods) {
        const name = p.metadata!.name!;
        if (!seen.has(name)) removed.push(`pod/${name}`);
        seen.add(name);
        await this.core.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0 }).catch(gone);
      }
      await sleep(300);
    }
    if (opts.namespaceCreated) {
      await this.core.deleteNamespace({ name: ns }).catch(gone);
      removed.push(`namespace/${ns}`);
    }
    return removed;
  }
}

/** HTTP status of an API error (ApiException.code), if any. */
export function statusOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

function eventTime(e: k8s.CoreV1Event): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  return t ? new Date(t as unknown as string).getTime() : 0;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
