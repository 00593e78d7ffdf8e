import type { PlatformProvider } from '../platform.ts';
import { attachKubernetes } from './attach.ts';
import { KubernetesPlatform } from './kubernetes-platform.ts';

export const kubernetesProvider: PlatformProvider = {
  kind: 'kubernetes',
  description:
    'deploy/kubernetes applied server-side into a namespace labelled faultline.io/chaos=allowed (FAULTLINE_KUBECONFIG, FAULTLINE_KUBE_NAMESPACE)',
  create: (options) => new KubernetesPlatform(options),
  attach: attachKubernetes,
};
