// `kill -9` of the runner in the middle of a fault on the kubernetes platform, then `faultline
// cleanup`, which reverts through the attach record: an outage's Deployment scaled back to its
// replicas (and Ready), a latency toxic removed from the in-cluster Toxiproxy, corrupted feature rows
// restored; the fault journaled as reverted; nothing with the run label left; no token in the report.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { type ClusterEnv, clusterEnv, required } from './cluster-env.ts';

const env: ClusterEnv = await clusterEnv();
const skip = 'skip' in env ? env.skip : undefined;
if (skip && !required()) console.warn(`test/kubernetes/cleanup.test.ts skipped: ${skip}`);

const ROOT = path.resolve(import.meta.dirname, '../..');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-kube-cleanup-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Each fault long enough to be in force when the runner dies; no steady-state hypothesis, so a slow
// machine cannot abort the run before the injection.
const cases: [scenario: string, fault: string, reverted: RegExp][] = [
  [
    'outage',
    '{ type: dependency-outage, at: 3s, duration: 60s, service: feature-server }',
    /scaled feature-server back to 1 replicas \(Ready\)/,
  ],
  [
    'latency',
    '{ type: latency, at: 3s, duration: 60s, link: model-server->feature-server, latency: 300ms }',
    /removed toxic faultline_\w+ from model-server->feature-server/,
  ],
  [
    'corruption',
    '{ type: feature-corruption, at: 3s, duration: 60s, mode: nan, fraction: 30% }',
    /restored \d+ rows/,
  ],
];
const scenarioFile = (name: string, fault: string) => {
  const f = path.join(home, `${name}.yaml`);
  fs.writeFileSync(
    f,
    `apiVersion: faultline/v1
kind: Scenario
metadata: { name: kill9-${name} }
spec:
  target: reference
  load: { driver: builtin, rate: 20/s, duration: 80s, seed: 5 }
  warmup: 1s
  faults:
    - ${fault}
`,
  );
  return f;
};

describe.skipIf(skip !== undefined && !required())('kubernetes: cleanup after the runner is killed', () => {
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
    fs.rmSync(home, { recursive: true, force: true });
  });

  it.each(cases)(
    '%s: cleanup reverts the fault, journals it, and removes every object of the run',
    async (scenario, faultYaml, reverted) => {
      const fault = /type: ([a-z-]+)/.exec(faultYaml)![1];
      if ('skip' in env) throw new Error(`FAULTLINE_REQUIRE_KUBERNETES=1 but ${env.skip}`);
      process.env.FAULTLINE_HOME = home;
      process.env.FAULTLINE_KUBECONFIG = env.kubeconfig;
      delete process.env.FAULTLINE_KUBE_NAMESPACE;
      const reportDir = path.join(home, scenario);
      const runner = spawn(
        process.execPath,
        [
          path.join(ROOT, 'src/cli/main.ts'),
          'run',
          scenarioFile(scenario, faultYaml),
          '--runbooks',
          path.join(ROOT, 'runbooks'),
          '--platform',
          'kubernetes',
          '--report-dir',
          reportDir,
        ],
        { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      runner.stdout.on('data', (d) => (out += d));
      runner.stderr.on('data', (d) => (out += d));
      try {
        const deadline = Date.now() + 240_000;
        while (!out.includes(`injecting ${fault}`)) {
          if (Date.now() > deadline || runner.exitCode !== null)
            throw new Error(`no injection seen:\n${out}`);
          await sleep(100);
        }
        const { listActive } = await import('../../src/platforms/index.ts');
        const record = listActive().find((r) => r.ownerPid === runner.pid);
        expect(record?.platform, out).toBe('kubernetes');
        const ns = String(record!.data.namespace);
        const apps = env.kc.makeApiClient(k8s.AppsV1Api);
        if (fault === 'dependency-outage') {
          // The outage is in force: the feature-server scaled to zero.
          let replicas = -1;
          for (let i = 0; i < 100 && replicas !== 0; i++) {
            const d = await apps.readNamespacedDeployment({ name: 'feature-server', namespace: ns });
            replicas = d.spec?.replicas ?? -1;
            if (replicas !== 0) await sleep(100);
          }
          expect(replicas).toBe(0);
        } else {
          // The intent is journaled before the injection: give the injection its moment.
          await sleep(1500);
        }
        runner.kill('SIGKILL');
        await new Promise((r) => runner.once('exit', r));

        const { cleanup } = await import('../../src/runner/cleanup.ts');
        const r = await cleanup();
        expect(r.failed).toEqual([]);
        expect(r.reverted.join('\n')).toMatch(new RegExp(`${fault} .*${reverted.source}`));
        const journal = fs
          .readFileSync(record!.journal!, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        expect(journal.some((e) => e.type === 'fault.reverted' && e.by === 'cleanup')).toBe(true);
        // Nothing of the run is left; the namespace Faultline created is being deleted.
        const core = env.kc.makeApiClient(k8s.CoreV1Api);
        const sel = { namespace: ns, labelSelector: `faultline.io/run=${record!.runId}` };
        expect((await core.listNamespacedPod(sel)).items).toEqual([]);
        expect((await apps.listNamespacedDeployment(sel)).items).toEqual([]);
        expect((await core.listNamespacedService(sel)).items).toEqual([]);
        const nsObj = await core.readNamespace({ name: ns }).catch(() => undefined);
        expect(nsObj === undefined || nsObj.status?.phase === 'Terminating').toBe(true);
        // The admin token never reached the report folder.
        const token = String(record!.data.adminToken);
        for (const f of fs.readdirSync(reportDir, { recursive: true }) as string[]) {
          const file = path.join(reportDir, f);
          if (fs.statSync(file).isFile())
            expect(fs.readFileSync(file, 'utf8').includes(token), f).toBe(false);
        }
      } finally {
        if (runner.exitCode === null && runner.signalCode === null) runner.kill('SIGKILL');
      }
    },
    360_000,
  );
});
