// Open-model arrival schedule: request i is intended at the instant the cumulative arrival count
// N(t) = ∫ rate reaches i. Rates are piecewise linear in time, as k6's ramping-arrival-rate executor
// interpolates between stage targets; a constant rate is the one-segment special case.

export interface Stage {
  /** Target rate (req/s) reached at the end of the stage. */
  rate: number;
  /** Stage length in milliseconds. */
  duration: number;
}

export interface RateProfile {
  /** Constant arrival rate (req/s); used when `stages` is absent. */
  rate?: number;
  /** Ramping arrival rate: linear from the previous target (first: `startRate`) to each stage's target. */
  stages?: Stage[];
  /** Rate at time 0 for `stages` (default 0, as k6). */
  startRate?: number;
  /** Run length (ms). Required for a constant rate; truncates `stages` when shorter. */
  durationMs?: number;
}

interface Segment {
  startMs: number;
  durationMs: number;
  r0: number;
  r1: number;
  cumStart: number;
  cumEnd: number;
}

export class ArrivalSchedule {
  readonly totalMs: number;
  /** Number of arrivals the schedule intends in [0, totalMs). */
  readonly count: number;
  private readonly segments: Segment[];

  constructor(profile: RateProfile) {
    const raw: { durationMs: number; r0: number; r1: number }[] = [];
    if (profile.stages && profile.stages.length > 0) {
      let prev = profile.startRate ?? 0;
      for (const s of profile.stages) {
        checkRate(s.rate);
        if (!(s.duration >= 0) || !Number.isFinite(s.duration))
          throw new Error(`stage duration must be a finite number of ms ≥ 0, got ${s.duration}`);
        raw.push({ durationMs: s.duration, r0: prev, r1: s.rate });
        prev = s.rate;
      }
      checkRate(profile.startRate ?? 0);
    } else {
      if (profile.rate === undefined) throw new Error('load profile needs `rate` or `stages`');
      checkRate(profile.rate);
      if (profile.durationMs === undefined) throw new Error('a constant-rate load needs `durationMs`');
      raw.push({ durationMs: profile.durationMs, r0: profile.rate, r1: profile.rate });
    }
    let limit = profile.durationMs ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 0)) throw new Error(`durationMs must be ≥ 0, got ${profile.durationMs}`);
    this.segments = [];
    let t = 0;
    let cum = 0;
    for (const s of raw) {
      if (limit <= 0) break;
      let { durationMs, r1 } = s;
      if (durationMs > limit) {
        // Truncate the ramp where the run ends, keeping the same slope.
        r1 = s.r0 + ((s.r1 - s.r0) * limit) / durationMs;
        durationMs = limit;
      }
      const cumEnd = cum + ((s.r0 + r1) / 2) * (durationMs / 1000);
      this.segments.push({ startMs: t, durationMs, r0: s.r0, r1, cumStart: cum, cumEnd });
      t += durationMs;
      cum = cumEnd;
      limit -= durationMs;
    }
    this.totalMs = t;
    // Arrival i exists iff i < N(totalMs); tolerate float error on exact integers.
    this.count = Math.max(0, Math.ceil(cum - 1e-9));
  }

  /** Cumulative intended arrivals N(t) for t in ms since start (the expected count in [0, t)). */
  cumulative(tMs: number): number {
    if (tMs <= 0) return 0;
    for (const s of this.segments) {
      if (tMs < s.startMs + s.durationMs) {
        const tau = (tMs - s.startMs) / 1000;
        const D = s.durationMs / 1000;
        return s.cumStart + s.r0 * tau + ((s.r1 - s.r0) / (2 * D)) * tau * tau;
      }
    }
    return this.segments.length ? this.segments[this.segments.length - 1].cumEnd : 0;
  }

  /** Instantaneous target rate at t (ms since start). */
  rateAt(tMs: number): number {
    for (const s of this.segments) {
      if (tMs < s.startMs + s.durationMs) return s.r0 + ((s.r1 - s.r0) * (tMs - s.startMs)) / s.durationMs;
    }
    return 0;
  }

  /** Intended offset (ms since start) of every arrival, in order. */
  *offsets(): Generator<number> {
    let seg = 0;
    for (let i = 0; i < this.count; i++) {
      while (seg < this.segments.length && !(i < this.segments[seg].cumEnd - 1e-9)) seg++;
      if (seg >= this.segments.length) return;
      const s = this.segments[seg];
      const delta = i - s.cumStart;
      const D = s.durationMs / 1000;
      const a = (s.r1 - s.r0) / (2 * D);
      let tau: number;
      if (delta <= 0) tau = 0;
      else if (Math.abs(a) < 1e-12) tau = delta / s.r0;
      // Root of a·τ² + r0·τ − Δ = 0 in the form that stays accurate when r0 is 0 or a is tiny.
      else tau = (2 * delta) / (s.r0 + Math.sqrt(Math.max(0, s.r0 * s.r0 + 4 * a * delta)));
      yield s.startMs + Math.min(tau * 1000, s.durationMs);
    }
  }
}

function checkRate(r: number): void {
  if (!(r >= 0) || !Number.isFinite(r)) throw new Error(`rate must be a finite number ≥ 0 req/s, got ${r}`);
}
