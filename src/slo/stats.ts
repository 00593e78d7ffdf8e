// Per-window request statistics and the SLIs computed from them. Shared by summarize, timeSeries and
// mttr so a window, a chart bucket and an MTTR bucket always mean the same thing.
import type { Outcome } from '../load/driver.ts';
import { parsePercentileName, percentilesOf } from './hdr.ts';

/** The fields of a RequestRecord the SLO library reads (fixtures and journals may carry more). */
export interface SloRecord {
  tIntended: number;
  /** When the answer (or error) arrived; lets the phase rule see requests in flight at fault start. */
  tDone?: number;
  outcome: Outcome;
  latencyMs: number | null;
  fallback?: string | null;
  modelVersion?: string | null;
}

/** Half-open window [from, to) in epoch ms, matched against a record's intended time. */
export interface Window {
  from: number;
  to: number;
}

export type SliName = 'availability' | 'error_rate' | 'fallback.share' | `latency.${string}`;
export type SloOp = '<' | '<=' | '>' | '>=';

export interface Slo {
  metric: SliName;
  op: SloOp;
  /** Fractions for availability / error_rate / fallback.share (99.9% → 0.999); milliseconds for latency. */
  value: number;
}

export type SliGetter = (s: WindowStats) => number | null;

/** Resolves an SLI name once (throws on an unknown one) so hot loops don't re-parse it. */
export function sliGetter(metric: string): SliGetter {
  switch (metric) {
    case 'availability':
      return (s) => s.availability;
    case 'error_rate':
      return (s) => s.errorRate;
    case 'fallback.share':
      return (s) => s.fallbackShare;
    case 'latency.max':
      return (s) => s.latencyMax;
    case 'latency.mean':
      return (s) => s.latencyMean;
  }
  if (metric.startsWith('latency.')) {
    const p = parsePercentileName(metric.slice('latency.'.length));
    if (p !== undefined) return (s) => s.percentile(p);
  }
  throw new Error(
    `unknown SLI "${metric}" (availability, error_rate, fallback.share, latency.pNN, latency.max, latency.mean)`,
  );
}

export function compare(value: number | null, op: SloOp, target: number): boolean {
  // An SLI that cannot be computed where requests exist (no answers to time, no ok answers to share)
  // is not evidence of health.
  if (value === null || Number.isNaN(value)) return false;
  switch (op) {
    case '<':
      return value < target;
    case '<=':
      return value <= target;
    case '>':
      return value > target;
    case '>=':
      return value >= target;
  }
  throw new Error(`unknown SLO operator "${op as string}"`);
}

export class WindowStats {
  requests = 0;
  ok = 0;
  /** Non-ok answers and network errors, timeouts included (not drops). */
  errors = 0;
  timeouts = 0;
  dropped = 0;
  /** Ok answers that came from the fallback model. */
  fallbackCount = 0;
  readonly latencies: number[] = [];
  private latencySum = 0;
  private maxLatency = Number.NEGATIVE_INFINITY;
  private pcache = new Map<number, number | null>();

  add(r: SloRecord): void {
    this.requests++;
    this.pcache.clear();
    switch (r.outcome) {
      case 'ok':
        this.ok++;
        if (r.fallback) this.fallbackCount++;
        break;
      case 'dropped':
        this.dropped++;
        break;
      case 'timeout':
        this.timeouts++;
        this.errors++;
        break;
      default:
        this.errors++;
    }
    if (
      r.outcome !== 'dropped' &&
      r.latencyMs !== null &&
      r.latencyMs !== undefined &&
      Number.isFinite(r.latencyMs)
    ) {
      this.latencies.push(r.latencyMs);
      this.latencySum += r.latencyMs;
      if (r.latencyMs > this.maxLatency) this.maxLatency = r.latencyMs;
    }
  }

  get availability(): number | null {
    return this.requests ? this.ok / this.requests : null;
  }
  get errorRate(): number | null {
    return this.requests ? (this.requests - this.ok) / this.requests : null;
  }
  get fallbackShare(): number | null {
    return this.ok ? this.fallbackCount / this.ok : null;
  }
  get latencyMax(): number | null {
    return this.latencies.length ? this.maxLatency : null;
  }
  get latencyMean(): number | null {
    return this.latencies.length ? this.latencySum / this.latencies.length : null;
  }
  percentile(p: number): number | null {
    if (!this.pcache.has(p)) this.pcache.set(p, percentilesOf(this.latencies, [p])[0]);
    return this.pcache.get(p)!;
  }
  percentiles(ps: readonly number[]): (number | null)[] {
    const missing = ps.filter((p) => !this.pcache.has(p));
    if (missing.length) {
      const vals = percentilesOf(this.latencies, missing);
      missing.forEach((p, i) => {
        this.pcache.set(p, vals[i]);
      });
    }
    return ps.map((p) => this.pcache.get(p)!);
  }
}

/**
 * The phase rule (docs/measurements.md, "Phases"): a request belongs after fault start t0 when it was
 * intended at or after t0, or was still in flight at t0 (intended before, done after). Steady state
 * is what was over before the fault began; everything the fault could touch is the fault's.
 */
export function afterT0(r: Pick<SloRecord, 'tIntended' | 'tDone'>, t0: number): boolean {
  return r.tIntended >= t0 || (r.tDone !== undefined && r.tDone > t0);
}

/** Where windows place a record: its intended time, moved to t0 when it was in flight at t0. */
export function phaseTime(r: Pick<SloRecord, 'tIntended' | 'tDone'>, t0?: number): number {
  return t0 !== undefined && r.tIntended < t0 && afterT0(r, t0) ? t0 : r.tIntended;
}

/** Window membership by intended time; with the fault start `t0`, by the phase rule above. */
export function inWindow(r: SloRecord, w: Window, t0?: number): boolean {
  const t = phaseTime(r, t0);
  return t >= w.from && t < w.to;
}
