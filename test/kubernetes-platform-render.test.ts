// The kubernetes platform's rendering of deploy/kubernetes for one run (no cluster needed): the run
// label everywhere, the per-replica Services and links, the links left without a proxy, the token,
// images, the disabled mechanisms and the seed.
import { describe, expect, it } from 'vitest';
import { pipelineLinks } from '../src/pipeline/topology.ts';
import { kubeLinks, parseImageOverrides, renderPipeline } from '../src/platforms/kubernetes/manifests.ts';

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are open-ended objects
type Obj = any;
const base = {
  namespace: 'gameday',
  runId: 'fl-test-1',
  adminToken: 'tok123',
  replicas: 3,
  disabled: ['retries', 'restart'],
  seed: 9,
  faultLinks: 'all' as const,
};
const find = (objs: Obj[], kind: string, name: string) =>
  objs.find((o) => o.kind === kind && o.metadata.name === name);
const env = (o: Obj, name: string) =>
  o.spec.template.spec.containers[0].env.find((e: Obj) => e.name === name);

describe('renderPipeline', () => {
  const objs: Obj[] = renderPipeline(base);

  it('labels every object and pod template with the run, in the namespace', () => {
    for (const o of objs) {
      expect(o.metadata.labels['faultline.io/run'], `${o.kind}/${o.metadata.name}`).toBe('fl-test-1');
      expect(o.metadata.namespace).toBe('gameday');
      if (o.spec?.template) expect(o.spec.template.metadata.labels['faultline.io/run']).toBe('fl-test-1');
    }
    expect(JSON.stringify(objs)).not.toContain('RUN_ID');
  });

  it('has the local platform links: one Service and one Toxiproxy proxy per model-server replica', () => {
    expect(
      kubeLinks(3)
        .map((l) => l.link)
        .sort(),
    ).toEqual(pipelineLinks({ replicas: 3 }).sort());
    for (const i of [0, 1, 2]) {
      const svc = find(objs, 'Service', `model-server-${i}`);
      expect(svc.spec.selector).toEqual({
        'app.kubernetes.io/name': 'model-server',
        'faultline.io/replica': String(i),
      });
    }
    expect(find(objs, 'Deployment', 'model-server').spec.replicas).toBe(3);
    const proxies = JSON.parse(find(objs, 'ConfigMap', 'toxiproxy-config').data['toxiproxy.json']);
    expect(proxies.map((p: Obj) => p.name).sort()).toEqual(pipelineLinks({ replicas: 3 }).sort());
    const ports = find(objs, 'Service', 'toxiproxy').spec.ports.map((p: Obj) => p.port);
    for (const p of proxies) expect(ports).toContain(Number(p.listen.split(':')[1]));
    expect(env(find(objs, 'Deployment', 'gateway'), 'UPSTREAMS').value).toBe(
      'http://toxiproxy:18100,http://toxiproxy:18101,http://toxiproxy:18102',
    );
    expect(env(find(objs, 'Deployment', 'model-server'), 'FEATURE_SERVER_URL').value).toBe(
      'http://toxiproxy:18001',
    );
  });

  it('dials a link without a fault proxy directly', () => {
    const some: Obj[] = renderPipeline({ ...base, faultLinks: ['gateway->model-server-1'] });
    expect(env(find(some, 'Deployment', 'gateway'), 'UPSTREAMS').value).toBe(
      'http://model-server-0:8080,http://toxiproxy:18101,http://model-server-2:8080',
    );
    expect(env(find(some, 'Deployment', 'model-server'), 'REGISTRY_URL').value).toBe('http://registry:8080');
    const proxies = JSON.parse(find(some, 'ConfigMap', 'toxiproxy-config').data['toxiproxy.json']);
    expect(proxies.map((p: Obj) => p.name)).toEqual(['gateway->model-server-1']);
  });

  it('puts the run token in the Secret, the disabled mechanisms in every service, the seed in the Job', () => {
    expect(find(objs, 'Secret', 'faultline-admin').stringData).toEqual({ ADMIN_TOKEN: 'tok123' });
    for (const d of objs.filter((o) => o.kind === 'Deployment')) {
      const v = env(d, 'FAULTLINE_DISABLE');
      if (v) expect(v.value).toBe('retries,restart');
    }
    expect(env(find(objs, 'Deployment', 'gateway'), 'FAULTLINE_DISABLE')).toBeDefined();
    expect(env(find(objs, 'Job', 'trainer-bootstrap'), 'SEED').value).toBe('9');
  });

  it('takes image names from the kustomization, with overrides', () => {
    const img = (o: Obj) => o.spec.template.spec.containers[0].image;
    expect(img(find(objs, 'Deployment', 'gateway'))).toBe('faultline/pipeline:0.1.0');
    const over: Obj[] = renderPipeline({
      ...base,
      images: parseImageOverrides(
        'faultline/pipeline=reg.example/fl/pipeline:2.0, redis=reg.example/redis:7.2',
      ),
    });
    expect(img(find(over, 'Deployment', 'gateway'))).toBe('reg.example/fl/pipeline:2.0');
    expect(img(find(over, 'Deployment', 'redis'))).toBe('reg.example/redis:7.2');
    expect(() => parseImageOverrides('no-equals-sign')).toThrow(/name=image/);
  });
});
