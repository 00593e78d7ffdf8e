// Benchmark 5: what the built-in TCP fault proxy (no toxics) costs on a link. Same trivial server,
// same generator, direct vs through FaultProxy; at each rate the two alternate (order flipped every
// repeat) so both see the same machine conditions, and each figure is the median of the repeats.
// The proxy runs in the harness's main thread, as on the local platform; the generator in a worker.
import { FaultProxy } from '../src/platforms/local/proxy.ts';
import { type LoadStepResult, runLoad, sustained } from './generator.ts';
import { log, median, procCpuMs, ratio, sleep, startTrivialServer } from './lib.ts';

interface Sample {
  result: LoadStepResult;
  pass: boolean;
  /** CPU µs per request in the harness main thread (the proxy) and in the trivial server. */
  proxyUs: number;
  serverUs: number;
}

export interface ProxyRow {
  rate: number;
  direct: { p50Ms: number | null; p99Ms: number | null; passes: number };
  proxied: { p50Ms: number | null; p99Ms: number | null; passes: number };
  p50Ratio: number | null;
  p99Ratio: number | null;
  /** Median CPU the proxy spent per proxied request, and the server per request (side by side). */
  proxyUsPerRequest: number | null;
  serverUsPerRequest: number | null;
}

export async function benchProxy(o: {
  rates: number[];
  durationMs: number;
  repeats: number;
  p99BudgetMs: number;
}) {
  const server = await startTrivialServer();
  const proxy = new FaultProxy({
    name: 'bench',
    listen: '127.0.0.1:0',
    upstream: `127.0.0.1:${server.port}`,
  });
  const rows: ProxyRow[] = [];
  try {
    await proxy.start();
    const urls = { direct: server.url, proxied: `http://127.0.0.1:${proxy.listenPort}` };
    await runLoad({ url: urls.proxied, rate: 500, durationMs: 1000 }); // warm both paths' JIT
    for (const rate of o.rates) {
      const samples: Record<'direct' | 'proxied', Sample[]> = { direct: [], proxied: [] };
      for (let i = 0; i < o.repeats; i++) {
        const order = i % 2 ? (['proxied', 'direct'] as const) : (['direct', 'proxied'] as const);
        for (const target of order) {
          const main0 = process.threadCpuUsage();
          const srv0 = procCpuMs(server.pid) ?? 0;
          const result = await runLoad({ url: urls[target], rate, durationMs: o.durationMs });
          const main = process.threadCpuUsage(main0);
          const srv = (procCpuMs(server.pid) ?? 0) - srv0;
          const n = Math.max(1, result.sent);
          samples[target].push({
            result,
            pass: sustained(result, { p99Ms: o.p99BudgetMs }),
            proxyUs: (main.user + main.system) / n,
            serverUs: (1000 * srv) / n,
          });
          log(
            `proxy bench ${target.padEnd(7)} ${rate}/s rep ${i + 1}: p50 ${result.latency.p50} p99 ${result.latency.p99} ms`,
          );
          await sleep(300);
        }
      }
      const summary = (s: Sample[]) => ({
        p50Ms: median(s.flatMap((x) => (x.result.latency.p50 === null ? [] : [x.result.latency.p50]))),
        p99Ms: median(s.flatMap((x) => (x.result.latency.p99 === null ? [] : [x.result.latency.p99]))),
        passes: s.filter((x) => x.pass).length,
      });
      const d = summary(samples.direct);
      const p = summary(samples.proxied);
      rows.push({
        rate,
        direct: d,
        proxied: p,
        p50Ratio: ratio(p.p50Ms, d.p50Ms),
        p99Ratio: ratio(p.p99Ms, d.p99Ms),
        proxyUsPerRequest: median(samples.proxied.map((x) => x.proxyUs)),
        serverUsPerRequest: median(samples.direct.map((x) => x.serverUs)),
      });
      // Both saturated: higher rates only add noise.
      if (2 * d.passes < o.repeats && 2 * p.passes < o.repeats) break;
    }
  } finally {
    await proxy.close();
    await server.close();
  }
  // A rate counts as sustained when a majority of its repeats met the budget.
  const maxRate = (k: 'direct' | 'proxied') =>
    Math.max(0, ...rows.filter((r) => 2 * r[k].passes > o.repeats).map((r) => r.rate));
  const directMaxRate = maxRate('direct');
  const proxiedMaxRate = maxRate('proxied');
  const proxyUs = median(rows.flatMap((r) => (r.proxyUsPerRequest === null ? [] : [r.proxyUsPerRequest])));
  return {
    rows,
    repeats: o.repeats,
    directMaxRate,
    proxiedMaxRate,
    maxRateRatio: ratio(proxiedMaxRate, directMaxRate),
    proxyUsPerRequest: proxyUs,
    /** Requests/s one proxy link could relay with a whole core to itself. */
    proxyImpliedMaxRatePerCore: proxyUs ? 1e6 / proxyUs : null,
  };
}
