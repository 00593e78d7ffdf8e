// The shipped Kubernetes manifests, checked without a cluster: every object labelled for the run
// guard, probes and requests on every workload, the services wired through Toxiproxy the way
// src/pipeline/topology.ts names the links, and the alert rules in sync with the runbooks.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { LINKS, SERVICES } from '../../src/pipeline/topology.ts';
import { exportAlertRules } from '../../src/runbooks/export.ts';
import { loadRunbookDir } from '../../src/runbooks/load.ts';

const DIR = path.resolve('deploy/kubernetes');
// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML
type Obj = any;

const kustomization = parse(fs.readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'));
const objects: Obj[] = (kustomization.resources as string[]).flatMap((f) =>
  parseAllDocuments(fs.readFileSync(path.join(DIR, f), 'utf8'))
    .map((d) => d.toJS())
    .filter(Boolean),
);
const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in deploy/kubernetes`);
  return o;
};
const workloads = () => [...byKind('Deployment'), ...byKind('Job')];
const env = (d: Obj) =>
  Object.fromEntries(
    d.spec.template.spec.containers[0].env.map((e: Obj) => [e.name, e.value ?? e.valueFrom]),
  );

describe('deploy/kubernetes', () => {
  it('labels every object and pod template with part-of and the run label', () => {
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) {
      const where = `${o.kind}/${o.metadata.name}`;
      expect(o.metadata.labels?.['app.kubernetes.io/part-of'], where).toBe('faultline');
      expect(o.metadata.labels?.['faultline.io/run'], where).toBeDefined();
      expect(o.metadata.namespace, `${where} must take the run's namespace`).toBeUndefined();
    }
    for (const w of workloads()) {
      const l = w.spec.template.metadata.labels;
      expect(l['app.kubernetes.io/part-of'], w.metadata.name).toBe('faultline');
      expect(l['faultline.io/run'], w.metadata.name).toBeDefined();
    }
    // the run label changes per run: it must stay out of (immutable) selectors
    for (const d of byKind('Deployment'))
      expect(Object.keys(d.spec.selector.matchLabels)).not.toContain('faultline.io/run');
    expect(kustomization.labels[0]).toMatchObject({ includeSelectors: false, includeTemplates: true });
  });

  it('runs every pipeline service with /readyz and /healthz probes and resource requests', () => {
    for (const s of SERVICES) {
      const c = named('Deployment', s).spec.template.spec.containers[0];
      expect(c.readinessProbe.httpGet.path, s).toBe('/readyz');
      expect(c.livenessProbe.httpGet.path, s).toBe('/healthz');
      expect(c.command.at(-1), s).toBe(`/app/src/pipeline/${s}/main.ts`);
      named('Service', s);
    }
    for (const w of workloads())
      for (const c of w.spec.template.spec.containers) {
        expect(c.resources?.requests?.cpu, w.metadata.name).toBeDefined();
        expect(c.resources?.requests?.memory, w.metadata.name).toBeDefined();
        if (w.kind === 'Deployment') expect(c.readinessProbe, w.metadata.name).toBeDefined();
      }
    expect(named('Deployment', 'model-server').spec.replicas).toBe(2);
    expect(named('Job', 'trainer-bootstrap').spec.template.spec.containers[0].command.at(-1)).toBe(
      '/app/src/pipeline/trainer/main.ts',
    );
  });

  it('takes ADMIN_TOKEN from the Secret in every pipeline container', () => {
    const secret = named('Secret', 'faultline-admin');
    expect(Object.keys(secret.stringData)).toEqual(['ADMIN_TOKEN']);
    for (const w of workloads().filter((x) =>
      x.spec.template.spec.containers[0].image.startsWith('faultline/'),
    ))
      expect(env(w).ADMIN_TOKEN, w.metadata.name).toEqual({
        secretKeyRef: { name: 'faultline-admin', key: 'ADMIN_TOKEN' },
      });
  });

  it('puts a Toxiproxy proxy on every faultable link, and the callers dial it', () => {
    const cfg = JSON.parse(named('ConfigMap', 'toxiproxy-config').data['toxiproxy.json']) as {
      name: string;
      listen: string;
      upstream: string;
    }[];
    expect(cfg.map((p) => p.name).sort()).toEqual([...LINKS].sort());
    const port = (link: string) => cfg.find((p) => p.name === link)!.listen.split(':')[1];
    const svcPorts = named('Service', 'toxiproxy').spec.ports.map((p: Obj) => String(p.port));
    for (const p of cfg) {
      expect(svcPorts).toContain(port(p.name));
      // each proxy's upstream is the Service of the link's callee
      expect(p.upstream).toBe(`${p.name.split('->')[1]}:8080`);
    }
    const ms = env(named('Deployment', 'model-server'));
    expect(ms.FEATURE_SERVER_URL).toBe(`http://toxiproxy:${port('model-server->feature-server')}`);
    expect(ms.REGISTRY_URL).toBe(`http://toxiproxy:${port('model-server->registry')}`);
    expect(env(named('Deployment', 'gateway')).UPSTREAMS).toBe(
      `http://toxiproxy:${port('gateway->model-server')}`,
    );
    expect(env(named('Deployment', 'feature-server')).FEATURE_STORE).toMatch(/^redis:\/\/redis:6379/);
  });

  it('ships alert rules identical to `faultline runbooks export`, and Prometheus loads them every second', async () => {
    const r = await loadRunbookDir('runbooks');
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const shipped = fs.readFileSync(path.join(DIR, 'alert-rules.yml'), 'utf8');
    expect(shipped, 'regenerate: faultline runbooks export -o deploy/kubernetes/alert-rules.yml').toBe(
      exportAlertRules(r.value),
    );
    const prom = parse(named('ConfigMap', 'prometheus-config').data['prometheus.yml']);
    expect(prom.global.scrape_interval).toBe('1s');
    expect(prom.rule_files).toEqual(['/etc/prometheus/rules/*.yml']);
    const jobs = prom.scrape_configs.map((j: Obj) => j.job_name).sort();
    expect(jobs).toEqual([...SERVICES].sort());
    const vols = named('Deployment', 'prometheus').spec.template.spec.volumes;
    expect(vols).toContainEqual({ name: 'rules', configMap: { name: 'faultline-alert-rules' } });
    expect(kustomization.configMapGenerator[0]).toMatchObject({
      name: 'faultline-alert-rules',
      files: ['alert-rules.yml'],
    });
  });

  it('ships a namespaced Role only (no cluster-wide grants) for the harness', () => {
    const rbac = parseAllDocuments(fs.readFileSync(path.join(DIR, 'rbac.yaml'), 'utf8')).map((d) => d.toJS());
    expect(rbac.map((o) => o.kind).sort()).toEqual(['Role', 'RoleBinding', 'ServiceAccount']);
    const role = rbac.find((o) => o.kind === 'Role');
    const verbs = (resource: string) =>
      role.rules.filter((r: Obj) => r.resources.includes(resource)).flatMap((r: Obj) => r.verbs);
    expect(verbs('pods')).toEqual(expect.arrayContaining(['get', 'list', 'watch', 'delete']));
    expect(verbs('deployments/scale')).toContain('patch');
    expect(verbs('jobs')).toEqual(expect.arrayContaining(['create', 'delete']));
    expect(verbs('pods/portforward')).toContain('create');
    expect(verbs('namespaces')).toEqual(['get']);
    for (const r of role.rules) {
      expect(r.verbs).not.toContain('*');
      expect(r.resources).not.toContain('*');
      expect(r.resources.some((x: string) => /roles|rolebindings|nodes/.test(x))).toBe(false);
    }
  });
});
