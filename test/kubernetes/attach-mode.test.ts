// Attach mode (FAULTLINE_KUBE_ATTACH=1, FAULTLINE_KUBE_NAMESPACE): faults against a pipeline a user
// deployed themselves (`kubectl apply -k deploy/kubernetes`), with nothing applied and nothing of
// theirs deleted: only the Jobs the run started go with it.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformEvent, StartedPlatform } from '../../src/platforms/platform.ts';
import { type ClusterEnv, clusterEnv, renderKustomization, required } from './cluster-env.ts';

const env: ClusterEnv = await clusterEnv();
const skip = 'skip' in env ? env.skip : undefined;
if (skip && !required()) console.warn(`test/kubernetes/attach-mode.test.ts skipped: ${skip}`);

const ROOT = path.resolve(import.meta.dirname, '../..');
const NS = `fl-attach-${randomBytes(3).toString('hex')}`;
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-kube-attach-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip !== undefined && !required())('kubernetes attach mode', () => {
  const saved = { ...process.env };
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let p: StartedPlatform | undefined;
  const events: PlatformEvent[] = [];

  beforeAll(async () => {
    if ('skip' in env) throw new Error(`FAULTLINE_REQUIRE_KUBERNETES=1 but ${env.skip}`);
    core = env.kc.makeApiClient(k8s.CoreV1Api);
    apps = env.kc.makeApiClient(k8s.AppsV1Api);
    // The user's side: a labelled namespace and the shipped manifests, applied by hand.
    await core.createNamespace({
      body: { metadata: { name: NS, labels: { 'faultline.io/chaos': 'allowed' } } },
    });
    const objects = k8s.KubernetesObjectApi.makeApiClient(env.kc);
    for (const o of renderKustomization(path.join(ROOT, 'deploy/kubernetes'))) {
      o.metadata = { ...o.metadata, namespace: NS };
      await objects.patch(o, undefined, undefined, 'by-hand', true, k8s.PatchStrategy.ServerSideApply);
    }
    const deadline = Date.now() + 240_000;
    for (;;) {
      const deps = (await apps.listNamespacedDeployment({ namespace: NS })).items;
      if (deps.length > 0 && deps.every((d) => (d.status?.readyReplicas ?? 0) === d.spec?.replicas)) break;
      if (Date.now() > deadline) throw new Error('the hand-applied pipeline did not become ready');
      await sleep(500);
    }
    Object.assign(process.env, {
      FAULTLINE_HOME: home,
      FAULTLINE_KUBECONFIG: env.kubeconfig,
      FAULTLINE_KUBE_NAMESPACE: NS,
      FAULTLINE_KUBE_ATTACH: '1',
    });
  }, 300_000);

  afterAll(async () => {
    await p?.stop().catch(() => undefined);
    process.env = saved;
    await core?.deleteNamespace({ name: NS }).catch(() => undefined);
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('reaches the deployed pipeline, kills, stops and starts, runs a job, and leaves it as it was', async () => {
    const { createPlatform } = await import('../../src/platforms/index.ts');
    p = await createPlatform('kubernetes', { stateDir: fs.mkdtempSync(path.join(home, 'state-')) }).start();
    p.onEvent((e) => events.push(e));
    expect(p.record.data.attached).toBe(true);
    expect(p.endpoints.links).toEqual([
      'gateway->model-server',
      'model-server->feature-server',
      'model-server->registry',
    ]);
    const res = await fetch(`${p.endpoints.gateway}/readyz`, { signal: AbortSignal.timeout(3000) });
    expect(res.status).toBe(200);
    const before = (await apps.listNamespacedDeployment({ namespace: NS })).items.map((d) => [
      d.metadata!.name,
      d.spec!.replicas,
    ]);

    const [victim] = await p.kill('model-server', { count: 1, signal: 'SIGKILL', pick: () => 0 });
    const deadline = Date.now() + 60_000;
    while (!events.some((e) => e.type === 'replica-ready' && e.details?.replaces === victim.name)) {
      if (Date.now() > deadline)
        throw new Error(`no replacement of ${victim.name}: ${JSON.stringify(events)}`);
      await sleep(100);
    }
    await p.stopService('feature-server');
    await p.startService('feature-server');
    const { stdout } = await p.runJob({ job: 'trainer', env: { MODE: 'degraded:inverted', SEED: '7' } });
    expect(stdout).toMatch(/"version"/);
    await p.stop();
    p = undefined;

    // Everything of the user's is still there, at the same replicas; no job of the run is left.
    const after = (await apps.listNamespacedDeployment({ namespace: NS })).items.map((d) => [
      d.metadata!.name,
      d.spec!.replicas,
    ]);
    expect(after).toEqual(before);
    const svcs = (await core.listNamespacedService({ namespace: NS })).items.map((s) => s.metadata?.name);
    expect(svcs).toEqual(expect.arrayContaining(['gateway', 'model-server', 'toxiproxy']));
    const jobs = await (env as { kc: k8s.KubeConfig }).kc
      .makeApiClient(k8s.BatchV1Api)
      .listNamespacedJob({ namespace: NS, labelSelector: 'app.kubernetes.io/name=trainer' });
    expect(jobs.items.map((j) => j.metadata?.name)).toEqual(['trainer-bootstrap']);
  }, 300_000);
});
