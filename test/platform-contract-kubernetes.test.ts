// The platform contract on the kubernetes platform, against a real cluster: the one scripts/kube-up
// brings up here, or FAULTLINE_KUBECONFIG (test/kubernetes/cluster-env.ts finds it). Skipped, with
// the reason, when there is none; FAULTLINE_REQUIRE_KUBERNETES=1 makes that a failure (CI).
import { describe, it } from 'vitest';
import { clusterEnv, required } from './kubernetes/cluster-env.ts';
import { platformContract } from './platform-contract.shared.ts';

const env = await clusterEnv();
if ('skip' in env) {
  if (required()) {
    describe('platform contract: kubernetes', () => {
      it('needs a cluster (FAULTLINE_REQUIRE_KUBERNETES=1)', () => {
        throw new Error(`FAULTLINE_REQUIRE_KUBERNETES=1 but ${env.skip}`);
      });
    });
  } else {
    console.warn(`test/platform-contract-kubernetes.test.ts skipped: ${env.skip}`);
    describe.skip(`platform contract: kubernetes (skipped: ${env.skip})`, () => {
      it('runs against a cluster', () => undefined);
    });
  }
} else {
  // The platform and the `pipeline up` child the suite spawns both read the cluster from here.
  process.env.FAULTLINE_KUBECONFIG = env.kubeconfig;
  platformContract({ kind: 'kubernetes', startTimeoutMs: 240_000, replaceTimeoutMs: 60_000 });
}
