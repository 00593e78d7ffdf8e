// Envoy-style retry budget: concurrent retries are capped at a share of the requests in flight, so a
// failing backend sees at most (1 + percent) × the offered load instead of a retry storm.

export class RetryBudget {
  readonly percent: number;
  readonly min: number;
  /** Client requests in flight at the gateway. */
  active = 0;
  /** Retry attempts in flight. */
  retriesActive = 0;

  constructor(percent: number, min: number) {
    if (!(percent >= 0 && percent <= 100))
      throw new Error(`retry budget percent: expected 0–100, found ${percent}`);
    if (!(min >= 0) || !Number.isInteger(min))
      throw new Error(`retry budget min: expected a non-negative integer, found ${min}`);
    this.percent = percent;
    this.min = min;
  }

  begin(): void {
    this.active++;
  }

  end(): void {
    this.active--;
  }

  /** Concurrent retries allowed right now. */
  limit(): number {
    return Math.max(this.min, Math.floor((this.active * this.percent) / 100));
  }

  /** Takes a retry slot if the budget allows; the caller must `release()` it when the retry ends. */
  tryAcquire(): boolean {
    if (this.retriesActive >= this.limit()) return false;
    this.retriesActive++;
    return true;
  }

  release(): void {
    this.retriesActive--;
  }
}
