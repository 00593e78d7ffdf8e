// The generator's scheduling lag (tSent − tIntended: how late the generator itself sent), summarised
// per interval for the journal (`load.lag`), so a run shows when its generator fell behind.
import { newLatencyHistogram, percentileMs, toMicros } from '../stats/hdr.ts';
import type { RequestRecord } from './driver.ts';

export type LagSummary = {
  /** Interval covered: records delivered after `from` up to `to` (epoch ms of the delivering thread). */
  from: number;
  to: number;
  /** Requests sent in those records (drops have no send time). */
  count: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
};

export class LagMeter {
  private readonly h = newLatencyHistogram();
  private max = 0;
  private from: number;
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
    this.from = now();
  }

  add(r: RequestRecord): void {
    if (r.tSent === null) return;
    const lag = r.tSent - r.tIntended;
    this.h.recordValue(toMicros(lag));
    if (lag > this.max) this.max = lag;
  }

  /** The summary since the last take (null if no request was sent), and a fresh interval. */
  take(): LagSummary | null {
    const to = this.now();
    const n = this.h.totalCount;
    const out: LagSummary | null = n
      ? {
          from: this.from,
          to,
          count: n,
          p50Ms: percentileMs(this.h, 50),
          p99Ms: percentileMs(this.h, 99),
          maxMs: this.max,
        }
      : null;
    this.h.reset();
    this.max = 0;
    this.from = to;
    return out;
  }
}
