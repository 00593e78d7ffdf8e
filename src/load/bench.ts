// Measures the built-in generator's own overhead: how fast it can offer load on this machine while
// staying on schedule. The target server runs in a child process so it does not share the
// generator's event loop.

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { BuiltinLoadDriver } from './builtin.ts';

export interface GeneratorBenchOptions {
  /** Offered rates to try, in order (req/s). */
  rates?: number[];
  /** Length of each step (ms). */
  durationMs?: number;
  /** A step is sustained if its p99 scheduling lag (tSent − tIntended) stays under this (ms). */
  lagBudgetMs?: number;
  maxInFlight?: number;
  connections?: number;
  /** Use an existing server instead of spawning the trivial one (must answer POST /v1/predict). */
  url?: string;
}

export interface GeneratorBenchStep {
  targetRate: number;
  requests: number;
  sent: number;
  /** Requests sent per second of wall time from start until the last response (falls below the
   *  target when the generator cannot keep up). */
  achievedRate: number;
  ok: number;
  errors: number;
  dropped: number;
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  lagMaxMs: number | null;
  latencyP99Ms: number | null;
  sustained: boolean;
}

export interface GeneratorBenchResult {
  steps: GeneratorBenchStep[];
  /** Highest tried rate that was sustained (0 if none). */
  maxSustainableRate: number;
  lagBudgetMs: number;
}

const TRIVIAL_SERVER = `
const http = require('node:http');
const body = JSON.stringify({ score: 0.1, decision: 'approve', model_name: 'fraud-primary', model_version: '1', fallback: { used: false, reason: null } });
const s = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'x-model-version': '1' }); res.end(body); });
});
s.keepAliveTimeout = 30000;
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

async function spawnTrivialServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', TRIVIAL_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  return { url: `http://127.0.0.1:${chunk.toString().trim()}`, child };
}

export async function benchGenerator(opts: GeneratorBenchOptions = {}): Promise<GeneratorBenchResult> {
  const rates = opts.rates ?? [250, 500, 1000, 2000, 4000];
  const durationMs = opts.durationMs ?? 2000;
  const lagBudgetMs = opts.lagBudgetMs ?? 10;
  let server: { url: string; child: ChildProcess } | undefined;
  if (!opts.url) server = await spawnTrivialServer();
  const url = opts.url ?? server!.url;
  const payload = {
    user_id: 'u00001',
    type: 'PAYMENT',
    amount: 12.5,
    old_balance: 100,
    new_balance: 87.5,
    hour: 12,
    merchant_risk: 0.1,
  };
  const steps: GeneratorBenchStep[] = [];
  try {
    for (const rate of rates) {
      const d = new BuiltinLoadDriver({
        url,
        rate,
        durationMs,
        payload: () => payload,
        maxInFlight: opts.maxInFlight ?? 500,
        connections: opts.connections ?? 64,
      });
      await d.start();
      const r = await d.done;
      const sent = r.requests - r.dropped;
      const achievedRate = sent / (Math.max(durationMs, r.endedAt - r.startedAt) / 1000);
      const step: GeneratorBenchStep = {
        targetRate: rate,
        requests: r.requests,
        sent,
        achievedRate,
        ok: r.ok,
        errors: r.errors + r.timeouts,
        dropped: r.dropped,
        lagP50Ms: r.schedulingLag.p50,
        lagP99Ms: r.schedulingLag.p99,
        lagMaxMs: r.schedulingLag.max,
        latencyP99Ms: r.latency.p99,
        sustained: false,
      };
      step.sustained =
        step.dropped === 0 &&
        step.errors === 0 &&
        (step.lagP99Ms ?? Infinity) <= lagBudgetMs &&
        achievedRate >= 0.95 * rate;
      steps.push(step);
    }
  } finally {
    if (server) {
      server.child.kill('SIGTERM');
      await once(server.child, 'exit');
    }
  }
  const sustained = steps.filter((s) => s.sustained).map((s) => s.targetRate);
  return { steps, maxSustainableRate: sustained.length ? Math.max(...sustained) : 0, lagBudgetMs };
}
