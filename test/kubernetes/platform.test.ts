// The kubernetes platform's safety guard and its least privilege, on a real cluster (cluster-env.ts
// says which; skipped with the reason when there is none):
// - an existing namespace without faultline.io/chaos=allowed is refused before anything is applied,
//   with exit 2 from the CLI and a message saying how to label it;
// - a whole pipeline (start, kill with and without replacement, outage, trainer job, metrics, stop)
//   runs with only the shipped Role (deploy/kubernetes/rbac.yaml) through its ServiceAccount's token,
//   and leaves nothing with its run label behind.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformEvent } from '../../src/platforms/platform.ts';
import { type ClusterEnv, clusterEnv, required } from './cluster-env.ts';

const env: ClusterEnv = await clusterEnv();
const skip = 'skip' in env ? env.skip : undefined;
if (skip && !required()) console.warn(`test/kubernetes/platform.test.ts skipped: ${skip}`);

const ROOT = path.resolve(import.meta.dirname, '../..');
const SUFFIX = randomBytes(3).toString('hex');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-kube-platform-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip !== undefined && !required())('the kubernetes platform: guard and RBAC', () => {
  let admin: k8s.KubeConfig;
  let adminCore: k8s.CoreV1Api;
  const namespaces: string[] = [];
  const saved = { ...process.env };

  beforeAll(() => {
    if ('skip' in env) throw new Error(`FAULTLINE_REQUIRE_KUBERNETES=1 but ${env.skip}`);
    admin = env.kc;
    adminCore = admin.makeApiClient(k8s.CoreV1Api);
    process.env.FAULTLINE_HOME = home;
  });
  afterAll(async () => {
    process.env = saved;
    for (const name of namespaces) await adminCore?.deleteNamespace({ name }).catch(() => undefined);
    fs.rmSync(home, { recursive: true, force: true });
  });

  async function namespace(labels: Record<string, string>): Promise<string> {
    const name = `fl-guard-${namespaces.length}-${SUFFIX}`;
    await adminCore.createNamespace({ body: { metadata: { name, labels } } });
    namespaces.push(name);
    return name;
  }

  it('refuses an unlabelled namespace with exit 2 and says how to label it, touching nothing', async () => {
    const ns = await namespace({});
    const stateDir = fs.mkdtempSync(path.join(home, 'state-'));
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'src/cli/main.ts'),
        'pipeline',
        'up',
        '--platform',
        'kubernetes',
        '--state-dir',
        stateDir,
      ],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          FAULTLINE_KUBECONFIG: 'kubeconfig' in env ? env.kubeconfig : '',
          FAULTLINE_KUBE_NAMESPACE: ns,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code, out).toBe(2);
    expect(out).toContain(`kubectl label namespace ${ns} faultline.io/chaos=allowed`);
    // Nothing was applied there, and no attach record was left.
    const cms = await adminCore.listNamespacedConfigMap({ namespace: ns, labelSelector: 'faultline.io/run' });
    expect(cms.items).toEqual([]);
    const pods = await adminCore.listNamespacedPod({ namespace: ns });
    expect(pods.items).toEqual([]);
    const { listActive } = await import('../../src/platforms/index.ts');
    expect(listActive()).toEqual([]);
  }, 60_000);

  it('refuses kube-system whatever its labels', async () => {
    process.env.FAULTLINE_KUBECONFIG = 'kubeconfig' in env ? env.kubeconfig : '';
    process.env.FAULTLINE_KUBE_NAMESPACE = 'kube-system';
    const { createPlatform } = await import('../../src/platforms/index.ts');
    const { UsageError } = await import('../../src/cli/exit.ts');
    const err = await createPlatform('kubernetes', { stateDir: fs.mkdtempSync(path.join(home, 'state-')) })
      .start()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(UsageError);
    expect(String(err)).toMatch(/never used for chaos/);
  });

  it('runs a pipeline with only the shipped Role, and leaves nothing with its run label', async () => {
    const ns = await namespace({ 'faultline.io/chaos': 'allowed' });
    // What a namespace admin does once (docs/kubernetes.md): the Role, its binding, the ServiceAccount.
    const rbac = k8s.loadAllYaml(
      fs
        .readFileSync(path.join(ROOT, 'deploy/kubernetes/rbac.yaml'), 'utf8')
        .replaceAll('FAULTLINE_NAMESPACE', ns),
    ) as k8s.KubernetesObject[];
    const objects = k8s.KubernetesObjectApi.makeApiClient(admin);
    for (const o of rbac) {
      o.metadata = { ...o.metadata, namespace: ns };
      await objects.patch(o, undefined, undefined, 'faultline-test', true, k8s.PatchStrategy.ServerSideApply);
    }
    const token = await adminCore.createNamespacedServiceAccountToken({
      name: 'faultline-harness',
      namespace: ns,
      body: { spec: { expirationSeconds: 3600 } },
    });
    const cluster = admin.getCurrentCluster()!;
    const harness = new k8s.KubeConfig();
    harness.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'faultline-harness', token: token.status!.token! }],
      contexts: [{ name: 'harness', cluster: cluster.name, user: 'faultline-harness', namespace: ns }],
      currentContext: 'harness',
    });
    const kubeconfig = path.join(home, 'harness.kubeconfig');
    fs.writeFileSync(kubeconfig, harness.exportConfig(), { mode: 0o600 });
    process.env.FAULTLINE_KUBECONFIG = kubeconfig;
    process.env.FAULTLINE_KUBE_NAMESPACE = ns;

    const { createPlatform } = await import('../../src/platforms/index.ts');
    const t0 = performance.now();
    const p = await createPlatform('kubernetes', {
      replicas: 2,
      seed: 42,
      stateDir: fs.mkdtempSync(path.join(home, 'state-')),
      // The negative control's path too: deletion cost (pods patch) and scale (deployments/scale).
      disabled: new Set(['restart']),
    }).start();
    console.log(
      `[kubernetes] platform start → ready as the harness ServiceAccount: ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const runId = p.record.runId;
    const events: PlatformEvent[] = [];
    p.onEvent((e) => events.push(e));
    try {
      expect(p.record.data.namespaceCreated).toBe(false);
      const [victim] = await p.kill('model-server', { count: 1, signal: 'SIGTERM', pick: () => 0 });
      for (
        let i = 0;
        i < 100 && !events.some((e) => e.type === 'replica-gone' && e.name === victim.name);
        i++
      )
        await sleep(100);
      expect(events.some((e) => e.type === 'replica-gone' && e.name === victim.name)).toBe(true);
      await sleep(2000);
      expect(events.filter((e) => e.type === 'replacement-scheduled')).toEqual([]);
      expect((await p.replicas('model-server')).filter((r) => r.state === 'running')).toHaveLength(1);
      await p.stopService('feature-server');
      await p.startService('feature-server');
      const { stdout } = await p.runJob({ job: 'trainer', env: { MODE: 'degraded:inverted', SEED: '7' } });
      expect(stdout).toMatch(/"version"/);
      const samples = await p.metrics().collect();
      expect(samples.filter((s) => s.up).length).toBeGreaterThanOrEqual(5);
    } finally {
      await p.stop();
    }
    // Only the run's objects went; the namespace (not Faultline's) and the RBAC objects stay.
    const adminApps = admin.makeApiClient(k8s.AppsV1Api);
    const left = [
      ...(await adminCore.listNamespacedPod({ namespace: ns, labelSelector: `faultline.io/run=${runId}` }))
        .items,
      ...(
        await adminCore.listNamespacedService({ namespace: ns, labelSelector: `faultline.io/run=${runId}` })
      ).items,
      ...(
        await adminApps.listNamespacedDeployment({
          namespace: ns,
          labelSelector: `faultline.io/run=${runId}`,
        })
      ).items,
    ];
    expect(left.map((o) => o.metadata?.name)).toEqual([]);
    expect((await adminCore.readNamespace({ name: ns })).status?.phase).toBe('Active');
    const sa = await adminCore.readNamespacedServiceAccount({ name: 'faultline-harness', namespace: ns });
    expect(sa.metadata?.name).toBe('faultline-harness');
  }, 300_000);
});
