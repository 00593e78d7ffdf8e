// `faultline pipeline up|down|status|demo`: run the reference pipeline by hand, on any platform.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Mechanism, parseDisabled } from '../../pipeline/common/config.ts';
import { isLinkSelector } from '../../pipeline/topology.ts';
import {
  attachPlatform,
  createPlatform,
  faultlineHome,
  isPlatformKind,
  listActive,
  type PipelineEndpoints,
  platformKinds,
} from '../../platforms/index.ts';
import { cleanup } from '../../runner/cleanup.ts';
import { EXIT, UsageError } from '../exit.ts';

export interface UpOptions {
  platform?: string;
  replicas: string;
  store: string;
  disable?: string;
  detach?: boolean;
  stateDir?: string;
  seed: string;
  canary?: boolean;
  faultLinks?: string;
}

export function parsePipelineOptions(o: UpOptions) {
  const replicas = Number(o.replicas);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16) {
    throw new UsageError(`--replicas: expected a whole number from 1 to 16, found "${o.replicas}"`);
  }
  const platform = o.platform ?? 'local';
  if (!isPlatformKind(platform))
    throw new UsageError(
      `--platform: "${platform}" is not available (available: ${platformKinds().join(', ')})`,
    );
  const seed = Number(o.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed: expected an integer, found "${o.seed}"`);
  if (o.store !== 'sqlite' && !/^rediss?:\/\//.test(o.store)) {
    throw new UsageError(`--store: expected "sqlite" or a redis:// URL, found "${o.store}"`);
  }
  let disabled: Set<Mechanism>;
  try {
    disabled = parseDisabled(o.disable);
  } catch (e) {
    throw new UsageError(`--disable: ${(e as Error).message.replace(/^FAULTLINE_DISABLE: /, '')}`);
  }
  return {
    platform,
    replicas,
    seed,
    store: o.store,
    disabled,
    canary: !!o.canary,
    faultLinks: parseFaultLinks(o.faultLinks),
  };
}

function parseFaultLinks(v: string | undefined): 'all' | string[] {
  if (v === undefined || v === 'all') return 'all';
  if (v === 'none') return [];
  const links = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const l of links) {
    if (!isLinkSelector(l, { canary: true }))
      throw new UsageError(
        `--fault-links: unknown link "${l}" (expected all, none, or links among gateway->model-server[-<i>], model-server->feature-server, model-server->registry)`,
      );
  }
  return links;
}

export function printEndpoints(ep: PipelineEndpoints, out = process.stdout) {
  out.write(`gateway: ${ep.gateway}\n`);
  out.write(`registry: ${ep.registry}\n`);
  out.write(`feature-server: ${ep.featureServer}\n`);
  out.write(`controller: ${ep.controller}\n`);
  for (const [i, u] of ep.modelServers.entries()) out.write(`model-server-${i}: ${u}\n`);
  out.write(`toxiproxy-api: ${ep.toxiproxy}\n`);
}

const defaultStateDir = () => path.join(faultlineHome(), 'pipeline');

export async function pipelineUp(o: UpOptions): Promise<number> {
  const opts = parsePipelineOptions(o);
  const stateDir = path.resolve(o.stateDir ?? defaultStateDir());
  if (o.detach) return detach(o, stateDir);
  fs.mkdirSync(stateDir, { recursive: true });
  const configured = createPlatform(opts.platform, { ...opts, stateDir });
  let started: Awaited<ReturnType<typeof configured.start>> | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= started?.stop() ?? Promise.resolve();
    return stopping;
  };
  const done = new Promise<number>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        process.stderr.write(`\n${sig}: stopping the pipeline…\n`);
        stop().then(() => resolve(EXIT.ok));
      });
    }
  });
  const t = Date.now();
  started = await configured.start();
  const ep = started.endpoints;
  printEndpoints(ep);
  process.stdout.write(
    `ready in ${((Date.now() - t) / 1000).toFixed(1)} s; state in ${stateDir}; Ctrl-C stops it\n`,
  );
  fs.writeFileSync(path.join(stateDir, 'ready.json'), JSON.stringify({ pid: process.pid, endpoints: ep }));
  return done;
}

async function detach(o: UpOptions, stateDir: string): Promise<number> {
  fs.mkdirSync(stateDir, { recursive: true });
  const ready = path.join(stateDir, 'ready.json');
  fs.rmSync(ready, { force: true });
  const logFile = path.join(stateDir, 'pipeline.log');
  const out = fs.openSync(logFile, 'w');
  const main = fileURLToPath(new URL('../main.ts', import.meta.url));
  const args = [
    main,
    'pipeline',
    'up',
    '--platform',
    o.platform ?? 'local',
    '--replicas',
    o.replicas,
    '--store',
    o.store,
    '--seed',
    o.seed,
    '--state-dir',
    stateDir,
  ];
  if (o.disable) args.push('--disable', o.disable);
  if (o.canary) args.push('--canary');
  if (o.faultLinks) args.push('--fault-links', o.faultLinks);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  child.unref();
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? 1;
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (fs.existsSync(ready)) {
      const { endpoints, pid } = JSON.parse(fs.readFileSync(ready, 'utf8'));
      printEndpoints(endpoints);
      process.stdout.write(
        `running in the background (pid ${pid}); state in ${stateDir}; stop with: faultline pipeline down\n`,
      );
      return EXIT.ok;
    }
    if (exited !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stderr.write(`the pipeline did not start; last lines of ${logFile}:\n`);
  process.stderr.write(`${fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n')}\n`);
  if (exited === null) process.kill(child.pid!, 'SIGTERM');
  return EXIT.infra;
}

/** Stops every pipeline recorded as active (and reverts any fault a dead runner left). */
export async function pipelineDown(): Promise<number> {
  const r = await cleanup({ all: true, log: (m) => process.stdout.write(`${m}\n`) });
  if (r.pipelines === 0) process.stdout.write('no pipeline is running\n');
  return r.failed.length ? EXIT.infra : EXIT.ok;
}

export async function pipelineStatus(): Promise<number> {
  const active = listActive();
  if (active.length === 0) {
    process.stdout.write('no pipeline is running\n');
    return EXIT.ok;
  }
  for (const rec of active) {
    const p = await attachPlatform(rec);
    process.stdout.write(
      `${rec.platform} pipeline ${rec.runId} in ${rec.stateDir} (owner pid ${rec.ownerPid}${p.ownerAlive() ? '' : ', DEAD'})\n`,
    );
    if (p.endpoints) process.stdout.write(`gateway: ${p.endpoints.gateway}\n`);
    process.stdout.write(
      `${'SERVICE'.padEnd(18)}${'PID'.padEnd(9)}${'STATE'.padEnd(10)}${'READY'.padEnd(7)}${'RESTARTS'.padEnd(10)}URL\n`,
    );
    for (const r of await p.status()) {
      const ready = await fetch(`${r.url}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
        (res) => res.ok,
        () => false,
      );
      process.stdout.write(
        `${r.name.padEnd(18)}${String(r.pid ?? '-').padEnd(9)}${r.state.padEnd(10)}${(ready ? 'yes' : 'no').padEnd(7)}${String(r.restarts).padEnd(10)}${r.url}\n`,
      );
    }
  }
  return EXIT.ok;
}

/** Starts the pipeline, scores a few transactions through the gateway, prints the answers, stops. */
export async function pipelineDemo(o: UpOptions): Promise<number> {
  const opts = parsePipelineOptions(o);
  const t = Date.now();
  const platform = await createPlatform(opts.platform, { ...opts, stateDir: o.stateDir }).start();
  try {
    const ep = platform.endpoints;
    printEndpoints(ep);
    process.stdout.write(`ready in ${((Date.now() - t) / 1000).toFixed(1)} s\n\n`);
    const examples = [
      {
        user_id: 'u00042',
        type: 'PAYMENT',
        amount: 42.5,
        old_balance: 1200,
        new_balance: 1157.5,
        hour: 14,
        merchant_risk: 0.05,
      },
      {
        user_id: 'u00007',
        type: 'TRANSFER',
        amount: 9800,
        old_balance: 9800,
        new_balance: 0,
        hour: 3,
        merchant_risk: 0.9,
      },
      {
        user_id: 'nobody',
        type: 'CASH_OUT',
        amount: 300,
        old_balance: 500,
        new_balance: 200,
        hour: 11,
        merchant_risk: 0.2,
      },
    ];
    for (const tx of examples) {
      const res = await fetch(`${ep.gateway}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(tx),
      });
      const body = (await res.json()) as Record<string, unknown>;
      process.stdout.write(
        `POST /v1/predict ${JSON.stringify(tx)}\n  → ${res.status} ${JSON.stringify(body)}\n`,
      );
    }
    return EXIT.ok;
  } finally {
    await platform.stop();
  }
}
