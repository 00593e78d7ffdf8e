import type { LatencySummary } from '../stats/hdr.ts';
import type { SloRecord, Window } from './stats.ts';
import { inWindow, WindowStats } from './stats.ts';

export type { LatencySummary };

export interface WindowSummary {
  window: Window;
  /** Requests intended in the window: sent + dropped. */
  requests: number;
  ok: number;
  /** Non-2xx answers, network errors and timeouts. */
  errors: number;
  timeouts: number;
  dropped: number;
  /** ok / requests; null when the window holds no request. */
  availability: number | null;
  /** (requests − ok) / requests = 1 − availability. */
  errorRate: number | null;
  fallbackCount: number;
  /** Fallback answers / ok answers; null when there is no ok answer. */
  fallbackShare: number | null;
  /** Milliseconds from intended send time; percentiles as HdrHistogram computes them. */
  latency: LatencySummary;
  /** Ok answers per second over the window (goodput). */
  throughput: number;
  /** Requests intended per second over the window (offered load). */
  offeredRate: number;
}

/** With the fault start `t0`, requests in flight at t0 count after it (stats.ts afterT0). */
export function summarize(records: Iterable<SloRecord>, window: Window, t0?: number): WindowSummary {
  const s = new WindowStats();
  for (const r of records) if (inWindow(r, window, t0)) s.add(r);
  return summaryOf(s, window);
}

export function summaryOf(s: WindowStats, window: Window): WindowSummary {
  const [p50, p90, p95, p99, p999] = s.percentiles([50, 90, 95, 99, 99.9]);
  const seconds = (window.to - window.from) / 1000;
  return {
    window: { from: window.from, to: window.to },
    requests: s.requests,
    ok: s.ok,
    errors: s.errors,
    timeouts: s.timeouts,
    dropped: s.dropped,
    availability: s.availability,
    errorRate: s.errorRate,
    fallbackCount: s.fallbackCount,
    fallbackShare: s.fallbackShare,
    latency: { count: s.latencies.length, p50, p90, p95, p99, p999, max: s.latencyMax, mean: s.latencyMean },
    throughput: seconds > 0 ? s.ok / seconds : 0,
    offeredRate: seconds > 0 ? s.requests / seconds : 0,
  };
}
