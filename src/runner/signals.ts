// Reading the journal back: metric series from the 1 s scrapes and the detection signals a runbook
// can name (see docs/runbooks.md), each with the instant it was first observable.
import type { Signal } from '../slo/mttr.ts';
import type { JournalEntry } from './journal.ts';

export interface Point {
  t: number;
  service: string;
  replica: string;
  key: string;
  value: number;
}

export class JournalIndex {
  readonly entries: JournalEntry[];
  private scrapes: JournalEntry[];

  constructor(entries: JournalEntry[]) {
    this.entries = entries;
    this.scrapes = entries.filter((e) => e.type === 'scrape' && e.up);
  }

  /** Every scraped sample whose name matches (and whose label text contains `labelHas`, if given). */
  series(name: string, labelHas?: string): Point[] {
    const out: Point[] = [];
    for (const e of this.scrapes) {
      const samples = e.samples as Record<string, number>;
      for (const key in samples) {
        const brace = key.indexOf('{');
        const n = brace < 0 ? key : key.slice(0, brace);
        if (n !== name) continue;
        if (labelHas && !key.includes(labelHas)) continue;
        out.push({
          t: e.ts_ms,
          service: e.service as string,
          replica: e.replica as string,
          key,
          value: samples[key],
        });
      }
    }
    return out;
  }

  /**
   * Increase of a counter over [from, to), summed over every series. A drop in value means the
   * process restarted (counter reset), so the new value itself is the increase, as PromQL's increase().
   */
  increase(name: string, from: number, to: number, labelHas?: string): number {
    const bySeries = new Map<string, Point[]>();
    for (const p of this.series(name, labelHas)) {
      const id = `${p.service}/${p.replica}/${p.key}`;
      const arr = bySeries.get(id);
      if (arr) arr.push(p);
      else bySeries.set(id, [p]);
    }
    let total = 0;
    for (const pts of bySeries.values()) {
      let prev: number | undefined;
      for (const p of pts) {
        if (p.t >= to) break;
        if (p.t >= from && prev !== undefined) total += p.value >= prev ? p.value - prev : p.value;
        prev = p.value;
      }
    }
    return total;
  }

  /**
   * Evidence for increase(): how many series of a counter were scraped at or before `from` and again
   * at or after `to`, i.e. observed across the whole window. Zero means increase() would read 0 for
   * lack of data, not because nothing happened.
   */
  spanningSeries(name: string, from: number, to: number, labelHas?: string): number {
    const seen = new Map<string, { before: boolean; after: boolean }>();
    for (const p of this.series(name, labelHas)) {
      const id = `${p.service}/${p.replica}/${p.key}`;
      const s = seen.get(id) ?? { before: false, after: false };
      if (p.t <= from) s.before = true;
      if (p.t >= to) s.after = true;
      seen.set(id, s);
    }
    let n = 0;
    for (const s of seen.values()) if (s.before && s.after) n++;
    return n;
  }

  /** First time at or after `from` a counter series rose above its previous scrape. */
  firstRise(name: string, from: number, labelHas?: string): number | undefined {
    const last = new Map<string, number>();
    for (const p of this.series(name, labelHas)) {
      const id = `${p.service}/${p.replica}/${p.key}`;
      const prev = last.get(id);
      last.set(id, p.value);
      if (p.t >= from && prev !== undefined && p.value > prev) return p.t;
    }
    return undefined;
  }

  /** First time at or after `from` a gauge satisfied the predicate. */
  firstWhere(
    name: string,
    from: number,
    pred: (v: number) => boolean,
    labelHas?: string,
  ): number | undefined {
    for (const p of this.series(name, labelHas)) if (p.t >= from && pred(p.value)) return p.t;
    return undefined;
  }

  controllerEvents(): { t: number; type: string; name?: string; [k: string]: unknown }[] {
    return this.entries
      .filter((e) => e.type === 'controller.event')
      .map((e) => {
        const ev = e.event as Record<string, unknown>;
        const details = (ev.details ?? {}) as Record<string, unknown>;
        return {
          ...ev,
          t: e.ts_ms,
          type: String(ev.type),
          name: (ev.name ?? details.name ?? details.alert) as string | undefined,
        };
      });
  }

  platformEvents(): JournalEntry[] {
    return this.entries.filter((e) => e.type === 'platform.event');
  }
}

export interface SignalOptions {
  /** PSI above which a drift gauge counts as detection. */
  driftPsi?: number;
  /** Error rate (fraction) in a 1 s bucket that counts as the error-rate signal. */
  errorRate?: number;
  records?: { tIntended: number; tDone: number; outcome: string; fallback?: string | null }[];
}

/** Every detection signal observable in the journal, named as runbooks name them. */
export function extractSignals(ix: JournalIndex, opts: SignalOptions = {}): Signal[] {
  const out: Signal[] = [];
  for (const e of ix.entries) {
    if (e.type !== 'platform.event') continue;
    const kind = e.kind as string;
    if (kind === 'replica-restart-scheduled')
      out.push({ t: e.ts_ms, name: 'replica-restart', service: e.service, replica: e.name });
  }
  const ejection = ix.series('gateway_ejections_total');
  for (let i = 1, last = new Map<string, number>(); i <= ejection.length; i++) {
    const p = ejection[i - 1];
    const prev = last.get(p.key);
    last.set(p.key, p.value);
    if (prev !== undefined && p.value > prev) out.push({ t: p.t, name: 'gateway-ejection', upstream: p.key });
  }
  for (const p of ix.series('model_server_circuit_breaker_state')) {
    if (p.value === 1) out.push({ t: p.t, name: 'breaker-open', replica: p.replica });
  }
  for (const p of ix.series('model_server_feature_drift_psi')) {
    if (p.value > (opts.driftPsi ?? 0.2)) {
      const feature = /feature="([^"]*)"/.exec(p.key)?.[1] ?? '';
      out.push({ t: p.t, name: `drift-gauge:${feature}`, value: p.value });
    }
  }
  for (const ev of ix.controllerEvents()) {
    if (ev.type === 'alert')
      out.push({ t: ev.t, name: `controller-alert:${ev.name ?? ''}`, reason: ev.reason });
    if (ev.type === 'rollback') out.push({ t: ev.t, name: 'controller-rollback', reason: ev.reason });
  }
  if (opts.records) {
    const buckets = new Map<number, { n: number; bad: number }>();
    for (const r of opts.records) {
      if (r.fallback && r.outcome === 'ok')
        out.push({ t: r.tDone, name: 'fallback-engaged', reason: r.fallback });
      const b = Math.floor(r.tDone / 1000);
      const s = buckets.get(b) ?? { n: 0, bad: 0 };
      s.n++;
      if (r.outcome !== 'ok') s.bad++;
      buckets.set(b, s);
    }
    for (const [b, s] of buckets) {
      if (s.n > 0 && s.bad / s.n > (opts.errorRate ?? 0.01))
        out.push({ t: (b + 1) * 1000, name: 'error-rate', value: s.bad / s.n });
    }
  }
  return out.sort((a, b) => a.t - b.t);
}

/** Does an observed signal satisfy the runbook's `detection.signal` (`controller-alert` matches any alert)? */
export function signalMatches(wanted: string, s: Signal): boolean {
  if (s.name === wanted) return true;
  const [base, arg] = wanted.split(':');
  if (arg === undefined) return s.name.startsWith(`${base}:`) || s.name === base;
  return false;
}
