// A MetricsSource that scrapes each replica's /metrics directly (the local platform; any platform
// whose replicas the runner can reach). Platforms with their own Prometheus can query it instead.
import type { MetricsSample, MetricsSource } from './platform.ts';

export interface ScrapeTarget {
  service: string;
  replica: string;
  url: string;
}

/** `targets` is read at every round, so replicas that come and go are followed. */
export function directMetrics(targets: () => ScrapeTarget[], timeoutMs = 900): MetricsSource {
  return {
    collect: () =>
      Promise.all(
        targets().map(async (t): Promise<MetricsSample> => {
          const base = { service: t.service, replica: t.replica };
          try {
            const res = await fetch(`${t.url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
            if (!res.ok) throw new Error(`HTTP ${res.status}`);
            const text = await res.text();
            // Stamped when the values were in hand: a counter that rose during the scrape is observed
            // then, never before the fault that raised it (a detection must not precede fault start).
            return { ...base, ts: Date.now(), up: true, text };
          } catch (e) {
            // A dead replica during chaos is data, not an error.
            return { ...base, ts: Date.now(), up: false, error: (e as Error).message };
          }
        }),
      ),
  };
}
