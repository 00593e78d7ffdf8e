// Upstream selection and passive outlier detection, modelled on Envoy: least-outstanding-requests
// balancing (round-robin among ties), consecutive-failure ejection for base × times-ejected, never
// more than max_ejection_percent of the hosts ejected, and a weighted stable/canary split.

export type PoolName = 'stable' | 'canary';

export interface OutlierOptions {
  /** Eject after this many consecutive failures (5xx, connect error, reset, timeout). */
  consecutiveFailures: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  /** Share of all upstreams that may be ejected at once; at least one always stays. */
  maxEjectionPercent: number;
  /** A host healthy this long has its ejection multiplier decremented by one (Envoy's `interval`). */
  decayIntervalMs: number;
  /** false = count failures but never eject (FAULTLINE_DISABLE=ejection). */
  enabled: boolean;
}

export interface PoolEvents {
  onEject?: (u: Upstream, durationMs: number) => void;
  onReturn?: (u: Upstream) => void;
}

export class Upstream {
  /** Metric label and `x-upstream` value: `0`, `1`, … for stable, `canary-0`, … for canary. */
  readonly label: string;
  readonly url: string;
  readonly pool: PoolName;
  /** Position in `UpstreamSet.all`, used to index per-upstream clients. */
  readonly slot: number;
  active = 0;
  consecutiveFailures = 0;
  ejected = false;
  ejectedUntil = 0;
  timesEjected = 0;
  returnedAt = 0;
  timer: NodeJS.Timeout | undefined = undefined;

  constructor(label: string, url: string, pool: PoolName, slot: number) {
    this.label = label;
    this.url = url;
    this.pool = pool;
    this.slot = slot;
  }
}

export interface UpstreamSnapshot {
  upstream: string;
  url: string;
  pool: PoolName;
  ejected: boolean;
  ejected_until: string | null;
  ejected_until_ms: number | null;
  consecutive_failures: number;
  times_ejected: number;
  active: number;
}

export class UpstreamSet {
  readonly stable: Upstream[];
  readonly canary: Upstream[];
  readonly all: Upstream[];
  private readonly outlier: OutlierOptions;
  private readonly events: PoolEvents;
  private readonly now: () => number;
  private weight = 0;
  /** Smooth weighted split: exactly `weight` canary picks in every 100, evenly spread, no RNG. */
  private canaryAcc = 0;
  private rr = 0;
  /** Separate cursor so retries do not skew the primary round-robin. */
  private rrRetry = 0;

  constructor(
    stableUrls: string[],
    canaryUrls: string[],
    canaryWeight: number,
    outlier: OutlierOptions,
    events: PoolEvents = {},
    now: () => number = Date.now,
  ) {
    if (stableUrls.length === 0) throw new Error('upstreams: at least one model-server URL is required');
    this.stable = stableUrls.map((url, i) => new Upstream(String(i), url, 'stable', i));
    this.canary = canaryUrls.map(
      (url, i) => new Upstream(`canary-${i}`, url, 'canary', stableUrls.length + i),
    );
    this.all = [...this.stable, ...this.canary];
    this.outlier = outlier;
    this.events = events;
    this.now = now;
    this.setCanaryWeight(canaryWeight);
  }

  get canaryWeight(): number {
    return this.weight;
  }

  setCanaryWeight(weight: number): void {
    if (!(weight >= 0 && weight <= 100)) throw new Error(`canary weight: expected 0–100, found ${weight}`);
    this.weight = weight;
    this.canaryAcc = 0;
  }

  /** Upstream for a new request: canary split first, then least-outstanding within the pool. */
  choose(): Upstream {
    let pool: PoolName = 'stable';
    if (this.canary.length > 0 && this.weight > 0) {
      this.canaryAcc += this.weight;
      if (this.canaryAcc >= 100) {
        this.canaryAcc -= 100;
        pool = 'canary';
      }
    }
    const picked =
      this.scan(pool === 'canary' ? this.canary : this.stable, undefined, true) ??
      // Every canary ejected: its share goes to stable rather than failing.
      (pool === 'canary' ? this.scan(this.stable, undefined, true) : undefined) ??
      // Panic mode (Envoy): every stable host ejected, so ejection is ignored rather than sending
      // champion traffic to the challenger.
      this.scan(this.stable, undefined, false);
    return picked as Upstream;
  }

  /**
   * A different, non-ejected upstream for a retry: the same pool first; a failed canary request may
   * fall back to stable, never the other way (that would bypass the canary weight).
   */
  chooseRetry(pool: PoolName, tried: readonly Upstream[]): Upstream | undefined {
    if (pool === 'canary')
      return this.scan(this.canary, tried, true, true) ?? this.scan(this.stable, tried, true, true);
    return this.scan(this.stable, tried, true, true);
  }

  private scan(
    list: Upstream[],
    exclude: readonly Upstream[] | undefined,
    skipEjected: boolean,
    retry = false,
  ): Upstream | undefined {
    const n = list.length;
    if (n === 0) return undefined;
    const start = (retry ? this.rrRetry++ : this.rr++) % n;
    let best: Upstream | undefined;
    for (let i = 0; i < n; i++) {
      const u = list[(start + i) % n];
      if (skipEjected && u.ejected) continue;
      if (exclude?.includes(u)) continue;
      if (best === undefined || u.active < best.active) best = u;
    }
    return best;
  }

  /** 2xx and 4xx: the host works (bad input is the caller's fault). */
  reportSuccess(u: Upstream): void {
    u.consecutiveFailures = 0;
  }

  reportFailure(u: Upstream): void {
    u.consecutiveFailures++;
    const o = this.outlier;
    if (!o.enabled || u.ejected || u.consecutiveFailures < o.consecutiveFailures) return;
    let ejectedNow = 0;
    for (const x of this.all) if (x.ejected) ejectedNow++;
    const limit = Math.min(Math.floor((this.all.length * o.maxEjectionPercent) / 100), this.all.length - 1);
    if (ejectedNow >= limit) return;
    const now = this.now();
    if (u.timesEjected > 0 && u.returnedAt > 0 && o.decayIntervalMs > 0) {
      u.timesEjected = Math.max(0, u.timesEjected - Math.floor((now - u.returnedAt) / o.decayIntervalMs));
    }
    u.timesEjected++;
    const ms = Math.min(o.baseEjectionMs * u.timesEjected, o.maxEjectionMs);
    u.ejected = true;
    u.ejectedUntil = now + ms;
    u.timer = setTimeout(() => this.unEject(u), ms);
    u.timer.unref();
    this.events.onEject?.(u, ms);
  }

  private unEject(u: Upstream): void {
    if (!u.ejected) return;
    u.ejected = false;
    u.ejectedUntil = 0;
    u.consecutiveFailures = 0;
    u.returnedAt = this.now();
    u.timer = undefined;
    this.events.onReturn?.(u);
  }

  snapshot(): UpstreamSnapshot[] {
    return this.all.map((u) => ({
      upstream: u.label,
      url: u.url,
      pool: u.pool,
      ejected: u.ejected,
      ejected_until: u.ejected ? new Date(u.ejectedUntil).toISOString() : null,
      ejected_until_ms: u.ejected ? u.ejectedUntil : null,
      consecutive_failures: u.consecutiveFailures,
      times_ejected: u.timesEjected,
      active: u.active,
    }));
  }

  close(): void {
    for (const u of this.all) {
      if (u.timer) clearTimeout(u.timer);
      u.timer = undefined;
    }
  }
}
