// MTTR and MTTD as defined in docs/measurements.md.
import type { Slo, SloRecord } from './stats.ts';
import { afterT0, compare, phaseTime, sliSpec, WindowStats } from './stats.ts';

export interface MttrInput {
  records: Iterable<SloRecord>;
  /** Fault start: when the injection took effect (epoch ms). */
  t0: number;
  /** Every SLI the runbook names, with its objective. */
  slos: Slo[];
  /** How long every SLO must hold for the system to count as recovered (default 5000 ms). */
  stableForMs?: number;
  /** End of observation (epoch ms, exclusive): recovery needs its full stable period before it. */
  endMs: number;
}

export interface MttrResult {
  /** A breach was followed by a stable period the run observed in full, or there was no breach. */
  recovered: boolean;
  /** Whether any window after t0 violated an SLO. False: "no SLO breach" — not an MTTR of 0. */
  breached: boolean;
  /** recoveredAt − t0; only for a breach that recovered. */
  mttrMs?: number;
  /** Time of the first request after the last violating window's anchor: the stable period starts here. */
  recoveredAt?: number;
  /**
   * recoveredAt − time of the last violating anchor: the true recovery instant lies within this many
   * ms before recoveredAt (the request spacing there).
   */
  resolutionMs?: number;
  /** Time of the first / last request that anchors a violating window. */
  firstViolationAt?: number;
  lastViolationAt?: number;
  /** SLIs violated by the last violating window. */
  violated?: string[];
  /** Set when some SLI never had enough evidence in [t0, endMs): MTTR is then inconclusive (not recovered). */
  insufficient?: string;
}

/**
 * Recovery from per-request windows, independent of any bucket grid (docs/measurements.md, "MTTR"):
 * each request after t0 anchors, per SLO, the window of it and the requests after it, grown until the
 * SLI has enough evidence (sliSpec().enough). Recovery starts at the request after the anchor of the
 * LAST violating window, and needs stableFor of observation after it.
 */
export function mttr(input: MttrInput): MttrResult {
  const { t0, endMs } = input;
  const stableFor = input.stableForMs ?? 5000;
  if (!(stableFor >= 0)) throw new Error(`stableForMs must be ≥ 0, got ${stableFor}`);
  if (input.slos.length === 0) throw new Error('mttr needs at least one SLO');
  const checks = input.slos.map((s) => ({
    ...sliSpec(s.metric),
    metric: s.metric,
    op: s.op,
    value: s.value,
  }));
  // compare() validates the operator; do it now rather than only when a window has data.
  for (const c of checks) compare(0, c.op, c.value);

  // Observed records, each at τ = its intended time; one sent and still in flight at t0 belongs to the
  // fault: τ = t0.
  const obs: { tau: number; r: SloRecord }[] = [];
  for (const r of input.records) {
    if (r.tIntended >= endMs) continue;
    if (afterT0(r, t0)) obs.push({ tau: phaseTime(r, t0), r });
  }
  obs.sort((a, b) => a.tau - b.tau || a.r.tIntended - b.r.tIntended);
  const n = obs.length;

  // Per SLO, the verdict of the shortest suffix with enough evidence: the window of every anchor whose
  // forward window runs out of requests, so the last requests are judged too.
  const tails = checks.map((c) => {
    const s = new WindowStats();
    for (let i = n - 1; i >= 0 && !c.enough(s); i--) s.add(obs[i].r);
    return { enough: c.enough(s), passes: compare(c.get(s), c.op, c.value) };
  });
  const missing = checks.filter((_, k) => !tails[k].enough).map((c) => c.metric);
  if (missing.length)
    return {
      recovered: false,
      breached: false,
      insufficient: `not enough requests after fault start to judge ${missing.join(', ')} (${n} observed)`,
    };

  const failing = (j: number): string[] => {
    const bad: string[] = [];
    checks.forEach((c, k) => {
      const s = new WindowStats();
      let i = j;
      for (; i < n && !c.enough(s); i++) s.add(obs[i].r);
      const ok = c.enough(s) ? compare(c.get(s), c.op, c.value) : tails[k].passes;
      if (!ok) bad.push(c.metric);
    });
    return bad;
  };

  // The last violating anchor, scanning back from the end (a relapse is found before what it undoes).
  let last = -1;
  let violated: string[] = [];
  for (let j = n - 1; j >= 0; j--) {
    violated = failing(j);
    if (violated.length) {
      last = j;
      break;
    }
  }
  if (last < 0) return { recovered: t0 + stableFor <= endMs, breached: false };
  let first = last;
  for (let j = 0; j < last; j++)
    if (failing(j).length) {
      first = j;
      break;
    }
  const out: MttrResult = {
    recovered: false,
    breached: true,
    firstViolationAt: obs[first].tau,
    lastViolationAt: obs[last].tau,
    violated,
  };
  if (last + 1 < n) {
    const at = obs[last + 1].tau;
    if (at + stableFor <= endMs) {
      out.recovered = true;
      out.recoveredAt = at;
      out.mttrMs = at - t0;
      out.resolutionMs = at - obs[last].tau;
    }
  }
  return out;
}

export interface Signal {
  /** Epoch ms. */
  t: number;
  name: string;
  [extra: string]: unknown;
}

export interface MttdResult {
  detected: boolean;
  mttdMs?: number;
  signal?: Signal;
}

/** First signal at or after t0 that the runbook names (by name, any of several names, or a predicate). */
export function mttd(
  t0: number,
  signals: Iterable<Signal>,
  wanted: string | string[] | ((s: Signal) => boolean),
): MttdResult {
  const match =
    typeof wanted === 'function'
      ? wanted
      : Array.isArray(wanted)
        ? (s: Signal) => wanted.includes(s.name)
        : (s: Signal) => s.name === wanted;
  let best: Signal | undefined;
  for (const s of signals) {
    if (s.t >= t0 && match(s) && (best === undefined || s.t < best.t)) best = s;
  }
  return best ? { detected: true, mttdMs: best.t - t0, signal: best } : { detected: false };
}
