// Runs one built-in open-model load step in a worker thread, so the generator's timers are not
// delayed by the fault proxies, which the local platform runs in the harness's main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { createBuiltinDriver, seededPayload } from '../src/load/builtin.ts';
import type { LoadJob, LoadStepResult } from './generator.ts';

const job = workerData as LoadJob;
const payload = await seededPayload(job.seed);
const driver = createBuiltinDriver({
  url: job.url,
  rate: job.rate,
  durationMs: job.durationMs,
  payload,
  maxInFlight: job.maxInFlight,
  connections: job.connections,
  timeoutMs: job.timeoutMs,
});
const fallback: Record<string, number> = {};
const errorKinds: Record<string, number> = {};
const upstreams: Record<string, number> = {};
driver.onRecord((r) => {
  if (r.fallback) fallback[r.fallback] = (fallback[r.fallback] ?? 0) + 1;
  if (r.outcome !== 'ok') {
    const k = r.error ?? r.outcome;
    errorKinds[k] = (errorKinds[k] ?? 0) + 1;
  }
  if (r.upstream) upstreams[r.upstream] = (upstreams[r.upstream] ?? 0) + 1;
});
const cpu0 = process.threadCpuUsage();
const elu0 = performance.eventLoopUtilization();
const wall0 = performance.now();
await driver.start();
const r = await driver.done;
const wallMs = performance.now() - wall0;
const cpu = process.threadCpuUsage(cpu0);
const elu = performance.eventLoopUtilization(elu0);
const sent = r.requests - r.dropped;
const result: LoadStepResult = {
  url: job.url,
  rate: job.rate,
  durationMs: job.durationMs,
  requests: r.requests,
  sent,
  ok: r.ok,
  errors: r.errors,
  timeouts: r.timeouts,
  dropped: r.dropped,
  // Requests sent per second over the run, measured until the last answer arrived.
  achievedRate: sent / (Math.max(job.durationMs, r.endedAt - r.startedAt) / 1000),
  latency: r.latency,
  lag: r.schedulingLag,
  fallback,
  fallbackTotal: Object.values(fallback).reduce((a, b) => a + b, 0),
  errorKinds,
  upstreams,
  cpuMs: (cpu.user + cpu.system) / 1000,
  wallMs,
  eventLoopUtilization: elu.utilization,
};
parentPort!.postMessage(result);
