// Which cluster the Kubernetes tests may use. Opt-in only: a developer's KUBECONFIG is never picked
// up by accident (these tests delete pods). FAULTLINE_KUBECONFIG names a kubeconfig; without it, the
// local cluster scripts/kube-up brought up (it writes its kubeconfig's path to a known file).
// FAULTLINE_REQUIRE_KUBERNETES=1 turns "no cluster" from a skip into a failure (CI).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';

export const cacheDir = () => process.env.FAULTLINE_CACHE ?? path.join(os.homedir(), '.cache', 'faultline');
export const required = () => process.env.FAULTLINE_REQUIRE_KUBERNETES === '1';

export type ClusterEnv = { kubeconfig: string; kc: k8s.KubeConfig } | { skip: string };

export async function clusterEnv(): Promise<ClusterEnv> {
  let file = process.env.FAULTLINE_KUBECONFIG;
  if (!file) {
    const pointer = path.join(cacheDir(), 'kube-cluster.kubeconfig-path');
    if (!fs.existsSync(pointer))
      return {
        skip: `no cluster: set FAULTLINE_KUBECONFIG, or bring one up with scripts/kube-up (no ${pointer})`,
      };
    file = fs.readFileSync(pointer, 'utf8').trim();
  }
  if (!fs.existsSync(file)) return { skip: `kubeconfig ${file} does not exist` };
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(file);
  try {
    await kc.makeApiClient(k8s.VersionApi).getCode();
  } catch (e) {
    return { skip: `the cluster in ${file} does not answer: ${(e as Error).message}` };
  }
  return { kubeconfig: file, kc };
}

/** kubectl for `kustomize`: FAULTLINE_KUBECTL, the one scripts/kube-build cached, or PATH's. */
export function kubectl(): string {
  if (process.env.FAULTLINE_KUBECTL) return process.env.FAULTLINE_KUBECTL;
  const version = process.env.KUBE_VERSION ?? '1.37.2';
  const cached = path.join(cacheDir(), 'kubernetes', version, 'bin', 'kubectl');
  return fs.existsSync(cached) ? cached : 'kubectl';
}

/** The objects `kubectl kustomize dir` renders (kustomize is built into kubectl). */
export function renderKustomization(dir: string): k8s.KubernetesObject[] {
  const out = execFileSync(kubectl(), ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 << 20 });
  return k8s.loadAllYaml(out) as k8s.KubernetesObject[];
}
