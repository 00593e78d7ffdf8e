// Scraping Prometheus text from the pipeline's /metrics endpoints and answering PromQL-like questions
// (increase over a window, histogram quantile, latest gauge) from a short in-memory history.
import { createRequire } from 'node:module';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface ParsedFamily {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string> }[];
}
type ParseFn = (text: string) => ParsedFamily[];
// The package ships CJS without types; createRequire keeps the import typed without an ambient module.
const parsePrometheusTextFormat = createRequire(import.meta.url)('parse-prometheus-text-format') as ParseFn;

/**
 * Flat samples from Prometheus text. The library collapses labelled histograms/summaries into one
 * unlabelled series (yunyu/parse-prometheus-text-format#13), so their `# TYPE` lines are dropped first:
 * each `_bucket`/`_sum`/`_count` line then parses as its own untyped sample with all labels intact.
 */
export function parseMetrics(text: string): Sample[] {
  const cleaned = text
    .split('\n')
    .filter((l) => !/^#\s*TYPE\s+\S+\s+(histogram|summary)\s*$/i.test(l.trim()))
    .join('\n');
  // The parser drops the last sample when the text lacks a trailing newline.
  const families = parsePrometheusTextFormat(`${cleaned}\n`);
  const out: Sample[] = [];
  for (const f of families) {
    for (const m of f.metrics) {
      if (m.value === undefined) continue;
      const value = parseValue(m.value);
      if (Number.isNaN(value)) continue;
      out.push({ name: f.name, labels: m.labels ?? {}, value });
    }
  }
  return out;
}

function parseValue(v: string): number {
  if (v === '+Inf' || v === 'Inf') return Number.POSITIVE_INFINITY;
  if (v === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(v);
}

export async function scrape(url: string, timeoutMs: number): Promise<Sample[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'text/plain' } });
  const body = await res.text();
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return parseMetrics(body);
}

export function seriesKey(name: string, labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  return `${name}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

/** What a model-server replica served at scrape time (from `model_server_model_info{alias,version}`). */
export interface Served {
  alias: string;
  version: string;
}

export interface Snapshot {
  t: number;
  series: Map<string, Sample>;
  served: Served | null;
}

export interface Query {
  name: string;
  match?: (labels: Record<string, string>) => boolean;
  /** Only count increments on targets whose served model was this version at the later scrape. */
  version?: string;
  /** Group the result by this label's value ('' when absent). */
  groupBy?: string;
}

/**
 * Per-target scrape history. Increments are summed between consecutive successful scrapes, treating a
 * drop as a counter reset (restarted replica) and a newly appearing series as starting from zero, as
 * Prometheus' increase() does. A failed scrape simply leaves a gap.
 */
export class MetricHistory {
  private readonly targets = new Map<string, Snapshot[]>();
  private readonly retentionMs: number;
  private readonly keep: (s: Sample) => boolean;

  constructor(opts: { retentionMs: number; keep?: (s: Sample) => boolean }) {
    this.retentionMs = opts.retentionMs;
    this.keep = opts.keep ?? (() => true);
  }

  /** Records a scrape; returns the increments since the previous scrape of this target. */
  ingest(target: string, t: number, samples: Sample[]): { prev: Snapshot | undefined; snap: Snapshot } {
    const series = new Map<string, Sample>();
    for (const s of samples) if (this.keep(s)) series.set(seriesKey(s.name, s.labels), s);
    const snap: Snapshot = { t, series, served: servedFrom(samples) };
    let list = this.targets.get(target);
    if (!list) {
      list = [];
      this.targets.set(target, list);
    }
    const prev = list.at(-1);
    list.push(snap);
    const cutoff = t - this.retentionMs;
    // Keep one snapshot older than the cutoff: it is the base of the oldest window.
    while (list.length > 2 && list[1].t < cutoff) list.shift();
    return { prev, snap };
  }

  targetNames(): string[] {
    return [...this.targets.keys()];
  }

  /** The model a target served at its latest scrape, if that scrape is no older than maxAgeMs. */
  served(target: string, now: number, maxAgeMs: number): Served | null {
    const last = this.targets.get(target)?.at(-1);
    return last && now - last.t <= maxAgeMs ? last.served : null;
  }

  /** Sum of counter increases over (now - windowMs, now] across the given targets. */
  increase(targets: string[], q: Query, windowMs: number, now: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const target of targets) {
      const list = this.targets.get(target);
      if (!list || list.length < 2) continue;
      const from = now - windowMs;
      // Base: the last scrape at or before the window start, so the whole window is covered.
      let i = list.length - 1;
      while (i > 0 && list[i - 1].t > from) i--;
      const start = Math.max(1, i);
      for (let j = start; j < list.length; j++) {
        const prev = list[j - 1];
        const cur = list[j];
        if (cur.t <= from || cur.t > now) continue;
        if (q.version !== undefined && cur.served?.version !== q.version) continue;
        addIncrements(out, prev, cur, q);
      }
    }
    return out;
  }

  /** Latest value of each matching series per target (scrapes older than maxAgeMs ignored). */
  latest(targets: string[], q: Query, now: number, maxAgeMs: number): Sample[] {
    const out: Sample[] = [];
    for (const target of targets) {
      const last = this.targets.get(target)?.at(-1);
      if (!last || now - last.t > maxAgeMs) continue;
      for (const s of last.series.values())
        if (s.name === q.name && (!q.match || q.match(s.labels))) out.push(s);
    }
    return out;
  }
}

/** Increments of the matching series between two consecutive scrapes of one target. */
export function snapshotIncrease(prev: Snapshot, cur: Snapshot, q: Query): Map<string, number> {
  const out = new Map<string, number>();
  addIncrements(out, prev, cur, q);
  return out;
}

function addIncrements(out: Map<string, number>, prev: Snapshot, cur: Snapshot, q: Query) {
  for (const [key, s] of cur.series) {
    if (s.name !== q.name || (q.match && !q.match(s.labels))) continue;
    const before = prev.series.get(key)?.value;
    // Missing before = new series (started at 0); a drop = counter reset, so the whole value is new.
    const inc = before === undefined || s.value < before ? s.value : s.value - before;
    if (!Number.isFinite(inc) || inc <= 0) continue;
    const g = q.groupBy ? (s.labels[q.groupBy] ?? '') : '';
    out.set(g, (out.get(g) ?? 0) + inc);
  }
}

function servedFrom(samples: Sample[]): Served | null {
  for (const s of samples) {
    if (s.name !== 'model_server_model_info' || s.value <= 0) continue;
    const { alias, version, model_role: role } = s.labels;
    if (!alias || !version) continue;
    // The fallback model is reported too (role fallback); the primary's alias (champion or challenger) serves.
    if (role === undefined ? alias === 'champion' || alias === 'challenger' : role === 'primary')
      return { alias, version };
  }
  return null;
}

export const sumOf = (m: Map<string, number>): number => {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
};

/** histogram_quantile over cumulative bucket increases keyed by `le`; null when there are no counts. */
export function histogramQuantile(q: number, buckets: Map<string, number>): number | null {
  const bs = [...buckets.entries()]
    .map(([le, count]) => ({ le: parseValue(le), count }))
    .filter((b) => !Number.isNaN(b.le))
    .sort((a, b) => a.le - b.le);
  if (bs.length === 0) return null;
  const total = bs.at(-1)!.count;
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of bs) {
    if (b.count >= rank) {
      // Above the highest finite bucket Prometheus answers with that bucket's bound.
      if (b.le === Number.POSITIVE_INFINITY) return prevLe;
      if (b.count === prevCount) return b.le;
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.count - prevCount);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}
