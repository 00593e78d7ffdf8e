// Reaching a Kubernetes pipeline from its attach record (cleanup, `pipeline down|status`): the
// cluster, namespace and run id are in the record, so this works after the owner died with SIGKILL.
// Endpoints are ClusterIPs (see kubernetes-platform.ts): they outlive the owner.
import { forgetActive, isAlive, waitGone } from '../active.ts';
import { type AttachedPlatform, type AttachRecord, SERVICES, type ServiceName } from '../platform.ts';
import { Cluster, loadKubeConfig, sleep } from './cluster.ts';
import { Forwards } from './forward.ts';
import type { KubeData } from './kubernetes-platform.ts';
import { NAME_LABEL, RUN_LABEL } from './manifests.ts';

export async function attachKubernetes(record: AttachRecord): Promise<AttachedPlatform> {
  const data = record.data as KubeData;
  const cluster = () => new Cluster(loadKubeConfig(data), data.namespace);
  // The pipeline's pods and Deployments: the run's label, or (attach mode) the user's pipeline.
  const selector = data.selector ?? `${RUN_LABEL}=${record.runId}`;
  // Port-forward access: the owner's tunnels died with it; this process opens its own.
  const forwards =
    data.access === 'port-forward' && data.endpoints
      ? new Forwards(loadKubeConfig(data), data.namespace)
      : undefined;
  let endpoints = data.endpoints ? { ...data.endpoints, adminToken: data.adminToken } : undefined;
  if (forwards && endpoints) {
    const svc = (name: string, port = 8080) => forwards.service(name, port);
    endpoints = {
      ...endpoints,
      gateway: await svc('gateway'),
      registry: await svc('registry'),
      featureServer: await svc('feature-server'),
      controller: await svc('controller'),
      toxiproxy: await svc('toxiproxy', 8474),
      modelServers: data.attached
        ? []
        : await Promise.all(endpoints.modelServers.map((_, i) => svc(`model-server-${i}`))),
    };
  }
  return {
    record,
    endpoints,
    ownerAlive: () => isAlive(record.ownerPid),
    async startService(service: ServiceName) {
      const replicas = data.scaled?.[service];
      if (replicas === undefined) return `${service} was not scaled down by this run; left alone`;
      const c = cluster();
      await c.scale(service, replicas);
      const deadline = Date.now() + 120_000;
      while (!(await c.deploymentsReady(selector, [service]))) {
        if (Date.now() > deadline)
          return `${service} scaled back to ${replicas} but not Ready within 120 s:\n${await c.diagnose(selector)}`;
        await sleep(500);
      }
      return `scaled ${service} back to ${replicas} replicas (Ready)`;
    },
    async status() {
      const pods = await cluster().core.listNamespacedPod({
        namespace: data.namespace,
        labelSelector: selector,
      });
      // The pipeline's own services (Redis, Toxiproxy, Prometheus and jobs answer no /readyz).
      return pods.items
        .filter((p) => (SERVICES as readonly string[]).includes(p.metadata?.labels?.[NAME_LABEL] ?? ''))
        .map((p) => ({
          name: p.metadata?.name ?? '?',
          state: p.metadata?.deletionTimestamp ? 'terminating' : (p.status?.phase ?? '?').toLowerCase(),
          restarts: (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0),
          url: `http://${p.status?.podIP}:8080`,
        }));
    },
    async teardown() {
      const removed: string[] = [];
      if (record.ownerPid !== process.pid && isAlive(record.ownerPid)) {
        // The owner removes its own pipeline (and reverts its own faults) on SIGTERM.
        process.kill(record.ownerPid, 'SIGTERM');
        await waitGone([record.ownerPid], 30_000);
        removed.push(`owner ${record.ownerPid}`);
      }
      // Whatever the owner left (all of it after a kill -9), by run label only: in attach mode that
      // is the Jobs it ran, never the pipeline it attached to.
      removed.push(
        ...(await cluster().removeRun(record.runId, { namespaceCreated: !!data.namespaceCreated })),
      );
      forwards?.close();
      forgetActive(record);
      return { removed };
    },
  };
}
