// deploy/kubernetes rendered for one run, in TypeScript (no kubectl or kustomize needed at run
// time): the kustomization's resources in order, its configMapGenerator, label and image
// transformers, then this run's patches (namespace, run label, token, replicas, disabled mechanisms,
// which links go through Toxiproxy, the bootstrap seed).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { selectsLink } from '../../pipeline/topology.ts';

export const RUN_LABEL = 'faultline.io/run';
export const CHAOS_LABEL = 'faultline.io/chaos';
export const NAME_LABEL = 'app.kubernetes.io/name';
export const FIELD_MANAGER = 'faultline';

/** The manifests shipped with Faultline, or FAULTLINE_KUBE_MANIFESTS (a copy a team adapted). */
export const manifestsDir = () =>
  path.resolve(
    process.env.FAULTLINE_KUBE_MANIFESTS ??
      fileURLToPath(new URL('../../../deploy/kubernetes/', import.meta.url)),
  );

/** Label the platform puts on each model-server pod: its replica slot, selected by `model-server-<i>`. */
export const REPLICA_LABEL = 'faultline.io/replica';

export interface KubeLink {
  link: string;
  /** Where Toxiproxy listens for it (a port of the `toxiproxy` Service). */
  port: number;
  /** The Service it fronts. */
  upstream: string;
}

/**
 * The links of a pipeline with `replicas` model-servers, as on local (src/pipeline/topology.ts):
 * one `gateway->model-server-<i>` per replica. The shipped YAML has one gateway upstream (the
 * `model-server` Service); the platform renders a Service per replica instead (`model-server-<i>`,
 * selecting the pod it labelled faultline.io/replica=<i>), so the gateway balances, retries and
 * ejects per replica and a fault can name one replica's link, exactly as on local.
 */
export function kubeLinks(replicas: number): KubeLink[] {
  return [
    { link: 'model-server->feature-server', port: 18001, upstream: 'feature-server' },
    { link: 'model-server->registry', port: 18002, upstream: 'registry' },
    ...Array.from({ length: replicas }, (_, i) => ({
      link: `gateway->model-server-${i}`,
      port: 18100 + i,
      upstream: `model-server-${i}`,
    })),
  ];
}

/** Links that get a fault proxy (`all`, or names/families as `--fault-links` takes them). */
export function proxiedLinks(selection: 'all' | readonly string[], replicas: number): KubeLink[] {
  return kubeLinks(replicas).filter(
    (l) => selection === 'all' || selection.some((s) => selectsLink(s, l.link)),
  );
}

export interface RenderOptions {
  namespace: string;
  runId: string;
  adminToken: string;
  replicas: number;
  disabled: readonly string[];
  seed: number;
  faultLinks: 'all' | readonly string[];
  /** `name=ref` overrides on top of the kustomization's `images` (FAULTLINE_KUBE_IMAGES). */
  images?: Record<string, string>;
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are open-ended YAML
type Obj = k8s.KubernetesObject & Record<string, any>;

interface Kustomization {
  resources?: string[];
  configMapGenerator?: {
    name: string;
    files?: string[];
    options?: { labels?: Record<string, string> };
  }[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

/** `FAULTLINE_KUBE_IMAGES="faultline/pipeline=reg.example/fl/pipeline:1.2,redis=redis:7.2"`. */
export function parseImageOverrides(v: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (v ?? '').split(',').map((s) => s.trim())) {
    if (!part) continue;
    const i = part.indexOf('=');
    if (i <= 0) throw new Error(`FAULTLINE_KUBE_IMAGES: expected name=image, found "${part}"`);
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

export function renderPipeline(o: RenderOptions, dir = manifestsDir()): Obj[] {
  const kust = k8s.loadYaml<Kustomization>(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'));
  const objects: Obj[] = [];
  for (const r of kust.resources ?? []) {
    for (const doc of k8s.loadAllYaml(fs.readFileSync(path.join(dir, r), 'utf8'))) if (doc) objects.push(doc);
  }
  for (const g of kust.configMapGenerator ?? []) {
    const data: Record<string, string> = {};
    for (const f of g.files ?? []) data[path.basename(f)] = fs.readFileSync(path.join(dir, f), 'utf8');
    objects.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: g.name, labels: { ...g.options?.labels } },
      data,
    });
  }
  const images = new Map<string, string>();
  for (const i of kust.images ?? []) images.set(i.name, `${i.newName ?? i.name}:${i.newTag ?? 'latest'}`);
  for (const [k, v] of Object.entries(o.images ?? {})) images.set(k, v);

  const proxied = proxiedLinks(o.faultLinks, o.replicas);
  // A link without a proxy dials its upstream Service directly.
  const linkUrl = (link: string) => {
    const p = proxied.find((l) => l.link === link);
    if (p) return `http://toxiproxy:${p.port}`;
    return `http://${kubeLinks(o.replicas).find((l) => l.link === link)!.upstream}:8080`;
  };
  const replicaNames = Array.from({ length: o.replicas }, (_, i) => `model-server-${i}`);
  const modelService = objects.find((x) => x.kind === 'Service' && x.metadata?.name === 'model-server');
  for (const name of replicaNames) {
    if (!modelService)
      throw new Error('deploy/kubernetes: no model-server Service to derive replica Services from');
    const svc = structuredClone(modelService);
    svc.metadata = { ...svc.metadata, name };
    svc.spec.selector = { ...svc.spec.selector, [REPLICA_LABEL]: name.slice('model-server-'.length) };
    objects.push(svc);
  }

  for (const obj of objects) {
    obj.metadata = { ...obj.metadata, namespace: o.namespace };
    obj.metadata.labels = { ...obj.metadata.labels, [RUN_LABEL]: o.runId };
    const tpl = obj.spec?.template;
    if (tpl) {
      tpl.metadata = { ...tpl.metadata, labels: { ...tpl.metadata?.labels, [RUN_LABEL]: o.runId } };
      for (const c of tpl.spec?.containers ?? []) {
        c.image = imageFor(c.image, images);
        setEnv(c, 'FAULTLINE_DISABLE', o.disabled.join(','), true);
      }
    }
    const name = obj.metadata.name;
    if (obj.kind === 'Secret' && name === 'faultline-admin') {
      obj.stringData = { ADMIN_TOKEN: o.adminToken };
      delete obj.data;
    }
    if (obj.kind === 'Deployment' && name === 'model-server') {
      obj.spec.replicas = o.replicas;
      const c = tpl.spec.containers[0];
      setEnv(c, 'REGISTRY_URL', linkUrl('model-server->registry'));
      setEnv(c, 'FEATURE_SERVER_URL', linkUrl('model-server->feature-server'));
    }
    if (obj.kind === 'Deployment' && name === 'gateway')
      setEnv(
        tpl.spec.containers[0],
        'UPSTREAMS',
        replicaNames.map((r) => linkUrl(`gateway->${r}`)).join(','),
      );
    if (obj.kind === 'Deployment' && name === 'controller')
      setEnv(
        tpl.spec.containers[0],
        'MODEL_SERVER_URLS',
        replicaNames.map((r) => `http://${r}:8080`).join(','),
      );
    // Toxiproxy: one proxy per proxied link, each on its own port.
    if (obj.kind === 'ConfigMap' && name === 'toxiproxy-config')
      obj.data = {
        'toxiproxy.json': JSON.stringify(
          proxied.map((l) => ({
            name: l.link,
            listen: `0.0.0.0:${l.port}`,
            upstream: `${l.upstream}:8080`,
            enabled: true,
          })),
          null,
          2,
        ),
      };
    if (obj.kind === 'Service' && name === 'toxiproxy')
      obj.spec.ports = [
        { name: 'api', port: 8474, targetPort: 'api' },
        ...proxied.map((l) => ({ name: `p${l.port}`, port: l.port, targetPort: l.port })),
      ];
    if (obj.kind === 'Deployment' && name === 'toxiproxy')
      tpl.spec.containers[0].ports = [
        { name: 'api', containerPort: 8474 },
        ...proxied.map((l) => ({ name: `p${l.port}`, containerPort: l.port })),
      ];
    if (obj.kind === 'Job') setEnv(tpl.spec.containers[0], 'SEED', String(o.seed));
  }
  return objects;
}

function imageFor(image: string, images: Map<string, string>): string {
  // kustomize matches an image by its name without tag or digest
  const bare = image.replace(/@.*$/, '').replace(/:[^/:]+$/, '');
  return images.get(bare) ?? image;
}

/** Sets a literal env value; `onlyIfPresent` leaves containers that do not declare it alone. */
export function setEnv(c: k8s.V1Container, name: string, value: string, onlyIfPresent = false): void {
  c.env ??= [];
  const e = c.env.find((x) => x.name === name);
  if (e) {
    e.value = value;
    delete e.valueFrom;
  } else if (!onlyIfPresent) c.env.push({ name, value });
}
