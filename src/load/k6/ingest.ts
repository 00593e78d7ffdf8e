// k6's JSON output (`k6 run --out json=FILE`) → the RequestRecords the built-in driver makes.
//
// The format (https://grafana.com/docs/k6/latest/results-output/real-time/json/): one JSON object
// per line, either `{"type":"Metric","data":{"type","contains","thresholds","submetrics"},"metric"}`
// declaring a metric the first time it appears, or `{"type":"Point","data":{"time","value","tags",
// "metadata"?},"metric"}`, a sample. `time` is RFC 3339 with up to nanoseconds and a zone offset.
// k6 flushes every 200 ms, samples of different VUs interleave (points are not in time order), and a
// file being written ends in a partial line; the parser takes chunks of any size.
//
// Two sources of records:
// - `faultline`: the scripts Faultline exports emit one `faultline_request` sample per request, after
//   the answer: value = latency from the intended send time (ms), tags = outcome, status,
//   model_version, fallback (low cardinality), metadata = seq, t_intended, t_sent, label, score,
//   decision, upstream, error (per request). That is a full RequestRecord.
// - `http`: any other k6 script (a team's own): one record per `http_req_duration` sample. k6 stamps
//   it when the request ended, its value excludes connection set-up and there is no intended time,
//   so tIntended = tSent = end − duration (no coordinated-omission correction), no labels.
// `dropped_iterations` samples become `dropped` records in both. Other metrics are counted and
// otherwise ignored; unknown ones are listed in the stats.
import type { Outcome, RequestRecord } from '../driver.ts';

/** The custom metrics of Faultline's k6 scripts (export.ts emits them). */
export const K6_METRICS = {
  request: 'faultline_request',
  ok: 'faultline_ok',
  fallback: 'faultline_fallback',
} as const;

/** k6's built-in metrics (https://grafana.com/docs/k6/latest/using-k6/metrics/reference/). */
const BUILTIN = new Set([
  'vus',
  'vus_max',
  'iterations',
  'iteration_duration',
  'dropped_iterations',
  'data_sent',
  'data_received',
  'checks',
  'group_duration',
  'http_reqs',
  'http_req_duration',
  'http_req_blocked',
  'http_req_connecting',
  'http_req_tls_handshaking',
  'http_req_sending',
  'http_req_waiting',
  'http_req_receiving',
  'http_req_failed',
]);

export type K6Source = 'faultline' | 'http';

export interface K6IngestStats {
  lines: number;
  points: number;
  /** Metric declaration lines seen. */
  declarations: number;
  records: number;
  dropped: number;
  /** Lines that were not a k6 JSON object (e.g. a line cut off when k6 was killed). */
  malformed: number;
  /** Metrics neither k6's nor Faultline's, with their sample counts (a team's custom metrics). */
  unknownMetrics: Record<string, number>;
  /** Earliest and latest sample time seen (epoch ms). */
  firstMs: number | null;
  lastMs: number | null;
}

interface Point {
  type?: unknown;
  metric?: unknown;
  data?: { time?: unknown; value?: unknown; tags?: unknown; metadata?: unknown };
}

/** RFC 3339 with up to nanoseconds (k6's Go time) → epoch ms with the sub-millisecond part kept. */
export function parseK6Time(s: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(s);
  if (!m) return Number.NaN;
  const whole = Date.parse(`${m[1]}${m[3].toUpperCase()}`);
  return m[2] ? whole + Number(`0.${m[2]}`) * 1000 : whole;
}

export class K6Ingest {
  readonly stats: K6IngestStats = {
    lines: 0,
    points: 0,
    declarations: 0,
    records: 0,
    dropped: 0,
    malformed: 0,
    unknownMetrics: {},
    firstMs: null,
    lastMs: null,
  };
  private partial = '';
  private httpSeq = 0;
  private droppedSeq = 0;
  private readonly source: K6Source;
  private readonly onRecord: (r: RequestRecord) => void;

  constructor(opts: { source: K6Source; onRecord: (r: RequestRecord) => void }) {
    this.source = opts.source;
    this.onRecord = opts.onRecord;
  }

  /** Feeds a chunk of the file; complete lines are parsed, a trailing partial line waits for the next. */
  push(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const l of lines) this.line(l);
  }

  /** The file is complete: a last line without a newline is parsed too. */
  end(): void {
    const rest = this.partial;
    this.partial = '';
    if (rest.trim()) this.line(rest);
  }

  private line(raw: string): void {
    const l = raw.trim();
    if (!l) return;
    this.stats.lines++;
    let p: Point;
    try {
      p = JSON.parse(l) as Point;
    } catch {
      this.stats.malformed++;
      return;
    }
    if (
      !p ||
      typeof p !== 'object' ||
      typeof p.metric !== 'string' ||
      !p.data ||
      typeof p.data !== 'object'
    ) {
      this.stats.malformed++;
      return;
    }
    if (p.type === 'Metric') {
      this.stats.declarations++;
      return;
    }
    if (p.type !== 'Point') {
      this.stats.malformed++;
      return;
    }
    const t = typeof p.data.time === 'string' ? parseK6Time(p.data.time) : Number.NaN;
    const value = typeof p.data.value === 'number' ? p.data.value : Number.NaN;
    if (!Number.isFinite(t) || !Number.isFinite(value)) {
      this.stats.malformed++;
      return;
    }
    this.stats.points++;
    this.stats.firstMs = this.stats.firstMs === null ? t : Math.min(this.stats.firstMs, t);
    this.stats.lastMs = this.stats.lastMs === null ? t : Math.max(this.stats.lastMs, t);
    const tags = strings(p.data.tags);
    const meta = strings(p.data.metadata);
    const metric = p.metric;
    if (metric === 'dropped_iterations') {
      // One sample per dropped iteration (value 1); k6 does not say which arrival it was.
      for (let i = 0; i < Math.max(1, Math.round(value)); i++) this.emitDropped(t);
      return;
    }
    if (this.source === 'faultline' && metric === K6_METRICS.request) {
      this.emit(fromFaultline(t, value, tags, meta));
      return;
    }
    if (this.source === 'http' && metric === 'http_req_duration') {
      this.emit(this.fromHttp(t, value, tags));
      return;
    }
    if (BUILTIN.has(metric) || metric === K6_METRICS.ok || metric === K6_METRICS.fallback) return;
    this.stats.unknownMetrics[metric] = (this.stats.unknownMetrics[metric] ?? 0) + 1;
  }

  private emit(r: RequestRecord | undefined): void {
    if (!r) {
      this.stats.malformed++;
      return;
    }
    this.stats.records++;
    this.onRecord(r);
  }

  private emitDropped(t: number): void {
    this.stats.dropped++;
    this.emit({
      // k6 numbers only the iterations it ran: a dropped one has no position in the schedule.
      seq: -1 - this.droppedSeq++,
      tIntended: t,
      tSent: null,
      tDone: t,
      latencyMs: null,
      status: 0,
      outcome: 'dropped',
      error: 'dropped_iteration',
    });
  }

  private fromHttp(t: number, value: number, tags: Record<string, string>): RequestRecord {
    const status = Number(tags.status ?? 0) || 0;
    const timedOut = tags.error_code === '1050';
    const outcome: Outcome = status >= 200 && status <= 299 ? 'ok' : timedOut ? 'timeout' : 'error';
    const rec: RequestRecord = {
      seq: this.httpSeq++,
      tIntended: t - value,
      tSent: t - value,
      tDone: t,
      latencyMs: value,
      status,
      outcome,
    };
    if (tags.model_version) rec.modelVersion = tags.model_version;
    if (tags.fallback && outcome === 'ok') rec.fallback = tags.fallback;
    if (outcome !== 'ok')
      rec.error = timedOut ? 'timeout' : tags.error_code ? `k6_${tags.error_code}` : `http_${status}`;
    return rec;
  }
}

function fromFaultline(
  t: number,
  value: number,
  tags: Record<string, string>,
  meta: Record<string, string>,
): RequestRecord | undefined {
  const seq = Number(meta.seq);
  const tIntended = Number(meta.t_intended);
  if (!Number.isInteger(seq) || !Number.isFinite(tIntended)) return undefined;
  const outcome = tags.outcome as Outcome;
  if (!['ok', 'error', 'timeout'].includes(outcome)) return undefined;
  const tSent = meta.t_sent === undefined ? null : Number(meta.t_sent);
  const rec: RequestRecord = {
    seq,
    tIntended,
    tSent: tSent !== null && Number.isFinite(tSent) ? tSent : null,
    // The latency the script measured defines the end; k6's own stamp (t) is when it was added.
    tDone: Number.isFinite(value) ? tIntended + value : t,
    latencyMs: value,
    status: Number(tags.status ?? 0) || 0,
    outcome,
  };
  if (meta.upstream) rec.upstream = meta.upstream;
  if (tags.model_version) rec.modelVersion = tags.model_version;
  if (tags.fallback) rec.fallback = tags.fallback;
  if (meta.error) rec.error = meta.error;
  if (meta.label === '0' || meta.label === '1') rec.label = meta.label === '1' ? 1 : 0;
  if (meta.score !== undefined && Number.isFinite(Number(meta.score))) rec.score = Number(meta.score);
  if (meta.decision) rec.decision = meta.decision;
  return rec;
}

function strings(o: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!o || typeof o !== 'object') return out;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (v === null || v === undefined) continue;
    out[k] = String(v);
  }
  return out;
}

/** Which source a complete k6 file holds: Faultline's script declares `faultline_request`. */
export function detectSource(text: string): K6Source {
  return /"metric"\s*:\s*"faultline_request"/.test(text) ? 'faultline' : 'http';
}
