// Reading the journal back: metric series from the 1 s scrapes and the detection signals a runbook
// can name (see docs/runbooks.md), each with the instant it was first observable.

import type { JournalEntry } from '../journal/journal.ts';
import type { Signal } from '../slo/mttr.ts';

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

  /**
   * Counter increases between consecutive successful scrapes of each target (service/replica), per
   * series. A series absent from the target's previous scrape counts from 0 (prom-client creates a
   * labelled series at its first increment); a drop is a restart, so the new value is the increase.
   */
  counterWindows(
    name: string,
    service?: string,
  ): { t: number; replica: string; deltas: Map<string, number> }[] {
    const last = new Map<string, Map<string, number>>();
    const out: { t: number; replica: string; deltas: Map<string, number> }[] = [];
    for (const e of this.scrapes) {
      if (service && e.service !== service) continue;
      const target = `${e.service as string}/${e.replica as string}`;
      const samples = e.samples as Record<string, number>;
      const now = new Map<string, number>();
      for (const key in samples) {
        const brace = key.indexOf('{');
        if ((brace < 0 ? key : key.slice(0, brace)) === name) now.set(key, samples[key]);
      }
      const prev = last.get(target);
      last.set(target, now);
      if (!prev) continue;
      const deltas = new Map<string, number>();
      for (const [key, v] of now) {
        const p = prev.get(key) ?? 0;
        const d = v >= p ? v - p : v;
        if (d > 0) deltas.set(key, d);
      }
      out.push({ t: e.ts_ms, replica: e.replica as string, deltas });
    }
    return out;
  }

  /** Every (scrape, series) where a counter rose since the target's previous scrape. */
  rises(name: string, service?: string): { t: number; replica: string; key: string; delta: number }[] {
    return this.counterWindows(name, service).flatMap((w) =>
      [...w.deltas].map(([key, delta]) => ({ t: w.t, replica: w.replica, key, delta })),
    );
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
  /** Error rate (fraction) between two gateway scrapes that counts as the error-rate signal. */
  errorRate?: number;
}

/**
 * Every detection signal observable in the journal, named as runbooks name them. Only what the
 * pipeline or its monitoring emitted counts (scraped metrics, controller events): never the harness's
 * own records or what the platform was told to do. Each signal says what emitted it (`source`).
 */
export function extractSignals(ix: JournalIndex, opts: SignalOptions = {}): Signal[] {
  const out: Signal[] = [];
  for (const d of ix.rises('gateway_ejections_total'))
    out.push({
      t: d.t,
      name: 'gateway-ejection',
      upstream: d.key,
      source: `gateway metrics: ${d.key} rose by ${d.delta}`,
    });
  for (const p of ix.series('model_server_circuit_breaker_state')) {
    if (p.value === 1)
      out.push({
        t: p.t,
        name: 'breaker-open',
        replica: p.replica,
        source: `model-server ${p.replica} metrics: model_server_circuit_breaker_state == 1`,
      });
  }
  for (const d of ix.rises('model_server_fallback_total'))
    out.push({
      t: d.t,
      name: 'fallback-engaged',
      reason: /reason="([^"]*)"/.exec(d.key)?.[1],
      source: `model-server ${d.replica} metrics: ${d.key} rose by ${d.delta}`,
    });
  const psiMax = opts.driftPsi ?? 0.2;
  for (const p of ix.series('model_server_feature_drift_psi')) {
    if (p.value > psiMax) {
      const feature = featureOf(p.key);
      out.push({
        t: p.t,
        name: `drift-gauge:${feature}`,
        feature,
        value: p.value,
        source: `model-server ${p.replica} drift monitor: PSI of ${feature} ${p.value.toFixed(3)} > ${psiMax}`,
      });
    }
  }
  // KS beside PSI: PSI's equal-width bins barely see a heavy-tailed shift (amount × 4), KS does.
  for (const p of ix.series('model_server_feature_drift_ks_alert')) {
    if (p.value === 1) {
      const feature = featureOf(p.key);
      out.push({
        t: p.t,
        name: `drift-gauge:${feature}`,
        feature,
        test: 'ks',
        source: `model-server ${p.replica} drift monitor: KS alert for ${feature} (p <= 0.05, statistic >= 0.15)`,
      });
    }
  }
  for (const ev of ix.controllerEvents()) {
    if (ev.type === 'alert')
      out.push({
        t: ev.t,
        name: `controller-alert:${ev.name ?? ''}`,
        reason: ev.reason,
        source: `controller alert ${ev.name ?? ''}`,
      });
    if (ev.type === 'rollback')
      out.push({
        t: ev.t,
        name: 'controller-rollback',
        reason: ev.reason,
        source: 'controller rollback event',
      });
  }
  // Alerts of the platform's monitoring (Prometheus rules exported from the runbooks), pending or
  // firing, at the moment the observers read them.
  for (const e of ix.entries) {
    if (e.type !== 'alert' || (e.state !== 'pending' && e.state !== 'firing')) continue;
    out.push({
      t: e.ts_ms,
      name: `alert:${String(e.name)}`,
      state: e.state,
      source: `Prometheus alert ${String(e.name)} ${String(e.state)}`,
    });
  }
  // Error rate as the gateway counts it (gateway_requests_total by status code), between two scrapes.
  const threshold = opts.errorRate ?? 0.01;
  for (const w of ix.counterWindows('gateway_requests_total', 'gateway')) {
    let total = 0;
    let bad = 0;
    for (const [key, delta] of w.deltas) {
      total += delta;
      if (!/code="2\d\d"/.test(key)) bad += delta;
    }
    if (total > 0 && bad / total > threshold)
      out.push({
        t: w.t,
        name: 'error-rate',
        value: bad / total,
        source: `gateway metrics: ${bad} of ${total} requests non-2xx (gateway_requests_total) since the previous scrape`,
      });
  }
  return out.sort((a, b) => a.t - b.t);
}

/**
 * What the platform did (not detection: the harness's platform reports its own actions). Used to
 * observe the `restart` mitigation.
 */
export function platformActions(ix: JournalIndex): Signal[] {
  const out: Signal[] = [];
  for (const e of ix.platformEvents()) {
    // The replica being replaced (a local slot keeps its name; a replacement pod gets a new one).
    if (e.kind === 'replacement-scheduled')
      out.push({
        t: e.ts_ms,
        name: 'replica-restart',
        service: e.service,
        replica: String((e.details as { replaces?: string } | undefined)?.replaces ?? e.name),
      });
  }
  return out;
}

const featureOf = (key: string) => /feature="([^"]*)"/.exec(key)?.[1] ?? '';

/** Does an observed signal satisfy the runbook's `detection.signal` (`controller-alert` matches any alert)? */
export function signalMatches(wanted: string, s: Signal): boolean {
  if (s.name === wanted) return true;
  const [base, arg] = wanted.split(':');
  if (arg === undefined) return s.name.startsWith(`${base}:`) || s.name === base;
  return false;
}
