// Docker platform vs local, side by side in one run (`npx node bench/docker-vs-local.ts [--repeats 3]`):
// time from start() to a ready pipeline (every service answers /readyz after the bootstrap trainer),
// and memory (PSS) of what each platform runs after a short warm-up load. The two alternate so a busy
// machine weighs on both alike; figures are medians. Docker's figures count the pipeline's container
// processes, the infrastructure containers (Redis, Toxiproxy, Prometheus) and the docker-proxy
// processes publishing the run's ports; the engine itself (dockerd, containerd) is shared and not counted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { dockerClient, ROLE_LABEL, RUN_LABEL } from '../src/platforms/docker/engine.ts';
import { createPlatform, type StartedPlatform } from '../src/platforms/index.ts';
import { SERVICES } from '../src/platforms/platform.ts';
import { fmt, log, median, pssMiB, table } from './lib.ts';

const { values: args } = parseArgs({
  options: { repeats: { type: 'string', default: '3' }, out: { type: 'string' } },
});

const TX = {
  user_id: 'u00042',
  type: 'PAYMENT',
  amount: 42.5,
  old_balance: 1200,
  new_balance: 1157.5,
  hour: 14,
  merchant_risk: 0.05,
};

interface Sample {
  kind: string;
  readyMs: number;
  stopMs: number;
  pss: Record<string, number>;
}

async function warm(p: StartedPlatform, seconds = 5, rate = 50) {
  const end = Date.now() + seconds * 1000;
  const inflight: Promise<unknown>[] = [];
  while (Date.now() < end) {
    inflight.push(
      fetch(`${p.endpoints.gateway}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(TX),
      }).then(
        (r) => r.arrayBuffer(),
        () => undefined,
      ),
    );
    await new Promise((r) => setTimeout(r, 1000 / rate));
  }
  await Promise.all(inflight);
}

const sum = (pids: number[]) => pids.reduce((a, pid) => a + (pssMiB(pid) ?? 0), 0);

async function pssLocal(p: StartedPlatform): Promise<Record<string, number>> {
  const pids: number[] = [];
  for (const s of SERVICES) for (const r of await p.replicas(s)) if (r.pid) pids.push(r.pid);
  // The runner hosts local's fault proxies: its own PSS is part of what local costs.
  return { services: sum(pids), harness: pssMiB(process.pid) ?? 0 };
}

async function pssDocker(p: StartedPlatform): Promise<Record<string, number>> {
  const docker = (await dockerClient()).container.dockerode;
  const containers = await docker.listContainers({
    filters: JSON.stringify({ label: [`${RUN_LABEL}=${p.record.runId}`] }),
  });
  const byRole: Record<string, number[]> = { service: [], infra: [] };
  const hostPorts = new Set<number>();
  for (const c of containers) {
    const top = (await docker.getContainer(c.Id).top({ ps_args: '-eo pid' })) as { Processes: string[][] };
    const role = c.Labels[ROLE_LABEL] === 'infra' ? 'infra' : 'service';
    byRole[role].push(...top.Processes.map((row) => Number(row[0])));
    for (const port of c.Ports) if (port.PublicPort) hostPorts.add(port.PublicPort);
  }
  // docker-proxy processes publishing this run's ports (userland proxy: dockerd runs with --iptables=false).
  const proxies: number[] = [];
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (!argv[0].endsWith('docker-proxy')) continue;
      const i = argv.indexOf('-host-port');
      if (i >= 0 && hostPorts.has(Number(argv[i + 1]))) proxies.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return {
    services: sum(byRole.service),
    infra: sum(byRole.infra),
    'docker-proxy': sum(proxies),
    harness: pssMiB(process.pid) ?? 0,
  };
}

async function once(kind: 'local' | 'docker'): Promise<Sample> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `faultline-bench-${kind}-`));
  const t = Date.now();
  const p = await createPlatform(kind, { replicas: 2, seed: 42, stateDir }).start();
  const readyMs = Date.now() - t;
  try {
    await warm(p);
    const pss = kind === 'local' ? await pssLocal(p) : await pssDocker(p);
    const s = Date.now();
    await p.stop();
    return { kind, readyMs, stopMs: Date.now() - s, pss };
  } finally {
    await p.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

const repeats = Number(args.repeats);
const samples: Sample[] = [];
for (let i = 0; i < repeats; i++) {
  for (const kind of i % 2 ? (['docker', 'local'] as const) : (['local', 'docker'] as const)) {
    const s = await once(kind);
    log(`${kind} #${i + 1}: ready in ${s.readyMs} ms, stop ${s.stopMs} ms, PSS ${JSON.stringify(s.pss)}`);
    samples.push(s);
  }
}
const rows = (['local', 'docker'] as const).map((kind) => {
  const mine = samples.filter((s) => s.kind === kind);
  const m = (f: (s: Sample) => number) => median(mine.map(f));
  const total = (s: Sample) =>
    Object.entries(s.pss)
      .filter(([k]) => k !== 'harness')
      .reduce((a, [, v]) => a + v, 0);
  return [
    kind,
    fmt(m((s) => s.readyMs) ?? null, 0, ' ms'),
    fmt(m((s) => s.stopMs) ?? null, 0, ' ms'),
    fmt(
      m((s) => s.pss.services),
      0,
      ' MiB',
    ),
    fmt(
      m((s) => (s.pss.infra ?? 0) + (s.pss['docker-proxy'] ?? 0)),
      0,
      ' MiB',
    ),
    fmt(m(total), 0, ' MiB'),
    fmt(
      m((s) => s.pss.harness),
      0,
      ' MiB',
    ),
  ];
});
console.log(
  table(
    ['platform', 'start → ready', 'stop', 'PSS services', 'PSS infra + proxies', 'PSS total', 'PSS harness'],
    rows,
  ),
);
if (args.out) fs.writeFileSync(args.out, JSON.stringify({ samples, rows }, null, 2));
