// HDR histogram conventions shared by the load driver (whole-run histogram) and the SLO library
// (per-window histograms), so every percentile in Faultline is computed the same way.

import type { Histogram } from 'hdr-histogram-js';
import { build } from 'hdr-histogram-js';

/** Values are recorded in integer microseconds, 1 µs .. 60 s, 3 significant digits. */
export const HDR_LOWEST_US = 1;
export const HDR_HIGHEST_US = 60_000_000;
export const HDR_SIGNIFICANT_DIGITS = 3;

export type { Histogram };

export function newLatencyHistogram(): Histogram {
  // Pure-JS build: the WebAssembly build needs async init and explicit destroy().
  return build({
    useWebAssembly: false,
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: HDR_LOWEST_US,
    highestTrackableValue: HDR_HIGHEST_US,
    numberOfSignificantValueDigits: HDR_SIGNIFICANT_DIGITS,
  });
}

/** Milliseconds (float) → the integer microsecond value the histogram records (clamped to its range). */
export function toMicros(ms: number): number {
  const us = Math.round(ms * 1000);
  return Math.min(HDR_HIGHEST_US, Math.max(0, us));
}

/**
 * HdrHistogram's percentile: the highest value equivalent (same bucket) to the value of the
 * ceil(p/100 · N)-th smallest sample (at least the 1st). Returned in milliseconds.
 */
export function percentileMs(h: Histogram, p: number): number | null {
  if (h.totalCount === 0) return null;
  return h.getValueAtPercentile(p) / 1000;
}

let scratch: Histogram | undefined;

/** Percentiles of a list of latencies (ms) through a reused histogram (one allocation per process). */
export function percentilesOf(latenciesMs: ArrayLike<number>, ps: readonly number[]): (number | null)[] {
  if (latenciesMs.length === 0) return ps.map(() => null);
  scratch ??= newLatencyHistogram();
  scratch.reset();
  for (let i = 0; i < latenciesMs.length; i++) scratch.recordValue(toMicros(latenciesMs[i]));
  return ps.map((p) => scratch!.getValueAtPercentile(p) / 1000);
}

/** `latency.p99` → 99, `latency.p999` → 99.9, `latency.p99.9` → 99.9, `latency.p100` → 100. */
export function parsePercentileName(name: string): number | undefined {
  const m = /^p(\d+(?:\.\d+)?)$/.exec(name);
  if (!m) return undefined;
  const s = m[1];
  let p: number;
  if (s.includes('.') || s.length <= 2 || s === '100') p = Number(s);
  else p = Number(`${s.slice(0, 2)}.${s.slice(2)}`);
  return p > 0 && p <= 100 ? p : undefined;
}

/** Latency percentiles in ms, as every summary and report states them. */
export interface LatencySummary {
  /** Answered + timed-out requests (drops have no latency). */
  count: number;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
  mean: number | null;
}
