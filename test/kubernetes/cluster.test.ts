// The shipped manifests on a real cluster, driven only through the shipped RBAC Role: a namespace
// labelled faultline.io/chaos=allowed (made by an admin, as docs/kubernetes.md says), the harness'
// ServiceAccount token for everything after, server-side apply (field manager `faultline`), every
// Deployment Available, the trainer Job complete, POST /v1/predict through a port-forward to the
// gateway, and a deleted model-server pod replaced by a Ready one.
// Needs a cluster (cluster-env.ts says which); `npm run test:kubernetes` brings one up here.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededPayload } from '../../src/load/builtin.ts';
import { LINKS, SERVICES } from '../../src/pipeline/topology.ts';
import { type ClusterEnv, clusterEnv, renderKustomization, required } from './cluster-env.ts';

const env: ClusterEnv = await clusterEnv();
const skip = 'skip' in env ? env.skip : undefined;
if (skip && !required()) console.warn(`test/kubernetes/cluster.test.ts skipped: ${skip}`);

const RUN = `t${randomBytes(4).toString('hex')}`;
const NS = `faultline-test-${RUN}`;
const READY_TIMEOUT_MS = Number(process.env.FAULTLINE_KUBE_READY_TIMEOUT_MS ?? 240_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip !== undefined && !required())('the reference pipeline on Kubernetes', () => {
  let admin: k8s.KubeConfig;
  let harness: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let batch: k8s.BatchV1Api;
  const forwards: net.Server[] = [];

  beforeAll(async () => {
    if ('skip' in env) throw new Error(`FAULTLINE_REQUIRE_KUBERNETES=1 but ${env.skip}`);
    admin = env.kc;
    // What a namespace admin does once (docs/kubernetes.md): the labelled namespace and the Role.
    const adminCore = admin.makeApiClient(k8s.CoreV1Api);
    await adminCore.createNamespace({
      body: {
        metadata: { name: NS, labels: { 'faultline.io/chaos': 'allowed', 'faultline.io/run': RUN } },
      },
    });
    const rbac = k8s.loadAllYaml(
      fs.readFileSync('deploy/kubernetes/rbac.yaml', 'utf8').replaceAll('FAULTLINE_NAMESPACE', NS),
    ) as k8s.KubernetesObject[];
    await applyAll(k8s.KubernetesObjectApi.makeApiClient(admin), rbac, NS);
    // Everything after runs as the harness' ServiceAccount: the Role must be enough.
    const token = await adminCore.createNamespacedServiceAccountToken({
      name: 'faultline-harness',
      namespace: NS,
      body: { spec: { expirationSeconds: 3600 } },
    });
    if (!token.status?.token) throw new Error('TokenRequest for faultline-harness returned no token');
    harness = asServiceAccount(admin, token.status.token, NS);
    core = harness.makeApiClient(k8s.CoreV1Api);
    apps = harness.makeApiClient(k8s.AppsV1Api);
    batch = harness.makeApiClient(k8s.BatchV1Api);
  }, 60_000);

  afterAll(async () => {
    for (const s of forwards) s.close();
    if (admin && !process.env.FAULTLINE_KEEP_NAMESPACE)
      await admin
        .makeApiClient(k8s.CoreV1Api)
        .deleteNamespace({ name: NS })
        .catch(() => {});
  });

  it(
    'applies the manifests server-side, as the harness, and every Deployment becomes Available',
    async () => {
      // the harness reads its namespace's label (the chaos guard) with the Role alone
      const ns = await core.readNamespace({ name: NS });
      expect(ns.metadata?.labels?.['faultline.io/chaos']).toBe('allowed');

      const objects = renderKustomization(path.resolve('deploy/kubernetes')).map((o) => withRun(o, RUN));
      const secret = objects.find((o) => o.kind === 'Secret') as k8s.V1Secret;
      secret.stringData = { ADMIN_TOKEN: randomBytes(16).toString('hex') };
      const t0 = performance.now();
      await applyAll(k8s.KubernetesObjectApi.makeApiClient(harness), objects, NS);

      const deployments = objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata!.name!);
      expect(deployments).toEqual(expect.arrayContaining(['gateway', 'model-server', 'prometheus']));
      const available = (d: k8s.V1Deployment) =>
        d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') &&
        (d.status?.readyReplicas ?? 0) === d.spec?.replicas;
      await waitFor(
        async () => {
          const ds = await Promise.all(
            deployments.map((name) => apps.readNamespacedDeployment({ name, namespace: NS })),
          );
          return ds.every(available);
        },
        READY_TIMEOUT_MS,
        'every Deployment Available',
      );
      const availableS = (performance.now() - t0) / 1000;
      // the model-servers are ready once the champion exists, a moment before the Job is marked complete
      await waitFor(
        async () => {
          const job = await batch.readNamespacedJob({ name: 'trainer-bootstrap', namespace: NS });
          return job.status?.succeeded === 1;
        },
        60_000,
        'the trainer Job complete',
      );
      console.log(`[kubernetes] pipeline Available ${availableS.toFixed(1)} s after apply`);

      // every object the harness made carries the run label, and `faultline` manages its fields
      const pods = await core.listNamespacedPod({ namespace: NS });
      for (const p of pods.items)
        expect(p.metadata?.labels?.['faultline.io/run'], p.metadata?.name).toBe(RUN);
      const gw = await apps.readNamespacedDeployment({ name: 'gateway', namespace: NS });
      expect(gw.metadata?.managedFields?.map((f) => f.manager)).toContain('faultline');
    },
    READY_TIMEOUT_MS + 60_000,
  );

  it('answers POST /v1/predict through a port-forward to the gateway', async () => {
    const pod = await readyPod('app.kubernetes.io/name=gateway');
    const base = await portForward(harness, NS, pod, 8080, forwards);
    const next = await seededPayload(7);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${base}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(next()),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { decision?: string };
      statuses.push(res.status);
      expect(['approve', 'review', 'decline']).toContain(body.decision);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
  });

  it("has Prometheus scraping every service (each model-server replica) with the runbooks' rules, and Toxiproxy on every link", async () => {
    const prom = await portForward(
      harness,
      NS,
      await readyPod('app.kubernetes.io/name=prometheus'),
      9090,
      forwards,
    );
    const get = async (p: string) => {
      const res = await fetch(`${prom}${p}`, { signal: AbortSignal.timeout(5000) });
      expect(res.status, p).toBe(200);
      // biome-ignore lint/suspicious/noExplicitAny: Prometheus API JSON
      return ((await res.json()) as any).data;
    };
    let up: { job: string; value: string }[] = [];
    await waitFor(
      async () => {
        const data = await get(`/api/v1/query?query=${encodeURIComponent('up')}`);
        // biome-ignore lint/suspicious/noExplicitAny: Prometheus API JSON
        up = data.result.map((r: any) => ({ job: r.metric.job, value: r.value[1] }));
        return up.filter((u) => u.value === '1').length === SERVICES.length + 1;
      },
      30_000,
      'every scrape target up',
    );
    expect(up.filter((u) => u.job === 'model-server')).toHaveLength(2);
    const rules = await get('/api/v1/rules');
    // biome-ignore lint/suspicious/noExplicitAny: Prometheus API JSON
    const alerts = rules.groups.flatMap((g: any) => g.rules.map((r: any) => r.name));
    expect(alerts).toEqual(expect.arrayContaining(['ModelServerReplicaDown', 'FeatureStoreDown']));

    const tp = await portForward(
      harness,
      NS,
      await readyPod('app.kubernetes.io/name=toxiproxy'),
      8474,
      forwards,
    );
    const proxies = (await (await fetch(`${tp}/proxies`)).json()) as Record<string, { enabled: boolean }>;
    expect(Object.keys(proxies).sort()).toEqual([...LINKS].sort());
  });

  it('replaces a deleted model-server pod with a Ready one', async () => {
    const selector = 'app.kubernetes.io/name=model-server';
    const before = await core.listNamespacedPod({ namespace: NS, labelSelector: selector });
    const victim = before.items[0].metadata!.name!;
    const t0 = performance.now();
    await core.deleteNamespacedPod({ name: victim, namespace: NS, gracePeriodSeconds: 0 });
    await waitFor(
      async () => {
        const now = await core.listNamespacedPod({ namespace: NS, labelSelector: selector });
        const ready = now.items.filter(
          (p) =>
            p.metadata?.name !== victim &&
            !p.metadata?.deletionTimestamp &&
            p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return ready.length === 2;
      },
      120_000,
      `a Ready replacement for ${victim}`,
    );
    console.log(
      `[kubernetes] deleted pod ${victim}: replacement Ready after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const d = await apps.readNamespacedDeployment({ name: 'model-server', namespace: NS });
    expect(d.status?.readyReplicas).toBe(2);
  }, 150_000);

  /** A Ready pod's name for a label selector. */
  async function readyPod(labelSelector: string): Promise<string> {
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector });
    const p = pods.items.find((x) =>
      x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    if (!p) throw new Error(`no Ready pod for ${labelSelector} in ${NS}`);
    return p.metadata!.name!;
  }

  /** Polls until `ok`; the timeout error lists every pod's phase and why it is not ready. */
  async function waitFor(ok: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await ok()) return;
      await sleep(250);
    }
    const pods = await core.listNamespacedPod({ namespace: NS });
    const lines = pods.items.map((p) => {
      const states = (p.status?.containerStatuses ?? []).map((c) => {
        const why = c.state?.waiting ?? c.state?.terminated;
        return `${c.name}: ${why ? `${why.reason ?? ''} ${why.message ?? ''}` : 'running'} (restarts ${c.restartCount})`;
      });
      return `  ${p.metadata?.name} ${p.status?.phase} ${states.join('; ')}`;
    });
    throw new Error(`${what}: not reached within ${timeoutMs} ms. Pods in ${NS}:\n${lines.join('\n')}`);
  }
});

/** The run label on an object and on its pod template (what a platform does before applying). */
function withRun<T extends k8s.KubernetesObject>(o: T, run: string): T {
  o.metadata!.labels = { ...o.metadata!.labels, 'faultline.io/run': run };
  // biome-ignore lint/suspicious/noExplicitAny: Deployments and Jobs share spec.template
  const tpl = (o as any).spec?.template?.metadata;
  if (tpl) tpl.labels = { ...tpl.labels, 'faultline.io/run': run };
  return o;
}

/** Server-side apply, field manager `faultline`, in order. */
async function applyAll(api: k8s.KubernetesObjectApi, objects: k8s.KubernetesObject[], namespace: string) {
  for (const o of objects) {
    o.metadata = { ...o.metadata, namespace };
    await api.patch(o, undefined, undefined, 'faultline', true, k8s.PatchStrategy.ServerSideApply);
  }
}

/** The admin kubeconfig's cluster, authenticated with a ServiceAccount token instead. */
function asServiceAccount(admin: k8s.KubeConfig, token: string, ns: string): k8s.KubeConfig {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'faultline-harness', token }],
    contexts: [{ name: 'harness', cluster: cluster.name, user: 'faultline-harness', namespace: ns }],
    currentContext: 'harness',
  });
  return kc;
}

/** A local port forwarded to a pod's port (one WebSocket per connection); resolves to its base URL. */
async function portForward(kc: k8s.KubeConfig, ns: string, pod: string, port: number, keep: net.Server[]) {
  const forward = new k8s.PortForward(kc);
  const server = net.createServer((socket) => {
    forward.portForward(ns, pod, [port], socket, null, socket).catch((e) => socket.destroy(e));
  });
  keep.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}
