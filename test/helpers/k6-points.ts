// Writes RequestRecords as the lines k6's JSON output would hold for a script Faultline exported
// (src/load/k6/export.ts): per request the http_req_* samples k6 emits itself, then the script's
// faultline_request / faultline_ok / faultline_fallback samples with their tags and metadata.
// Format: https://grafana.com/docs/k6/latest/results-output/real-time/json/ (metadata: k6's
// output/json/wrapper.go). Used by the ingestion tests and by the test-only k6 stand-in
// (test/fixtures/k6-standin/), which is NOT k6.
import type { RequestRecord } from '../../src/load/driver.ts';

/** k6 writes Go times: RFC 3339 with nanoseconds and the host's zone offset. */
export function k6Time(epochMs: number, offsetMinutes = 0): string {
  const whole = Math.floor(epochMs);
  const nanos = Math.round((epochMs - whole) * 1e6);
  const local = new Date(whole + offsetMinutes * 60_000).toISOString(); // …THH:MM:SS.mmmZ
  const frac = `${local.slice(20, 23)}${String(nanos).padStart(6, '0')}`.slice(0, 9);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${local.slice(0, 19)}.${frac}${zone}`;
}

const TYPES: Record<string, [string, string]> = {
  http_reqs: ['counter', 'default'],
  http_req_duration: ['trend', 'time'],
  http_req_waiting: ['trend', 'time'],
  http_req_failed: ['rate', 'default'],
  iterations: ['counter', 'default'],
  dropped_iterations: ['counter', 'default'],
  vus: ['gauge', 'default'],
  faultline_request: ['trend', 'time'],
  faultline_ok: ['rate', 'default'],
  faultline_fallback: ['rate', 'default'],
};

export class K6Writer {
  private readonly declared = new Set<string>();
  private readonly url: string;
  private readonly offsetMinutes: number;
  constructor(url: string, offsetMinutes = 0) {
    this.url = url;
    this.offsetMinutes = offsetMinutes;
  }

  /** A `Metric` declaration line the first time a metric appears, as k6 writes it. */
  private declaration(metric: string): string[] {
    if (this.declared.has(metric)) return [];
    this.declared.add(metric);
    const [type, contains] = TYPES[metric] ?? ['counter', 'default'];
    return [
      JSON.stringify({
        type: 'Metric',
        data: { name: metric, type, contains, thresholds: [], submetrics: null },
        metric,
      }),
    ];
  }

  point(
    metric: string,
    t: number,
    value: number,
    tags: Record<string, string> | null,
    metadata?: Record<string, string>,
  ): string[] {
    const data: Record<string, unknown> = { time: k6Time(t, this.offsetMinutes), value, tags };
    if (metadata) data.metadata = metadata;
    return [...this.declaration(metric), JSON.stringify({ metric, type: 'Point', data })];
  }

  /** The lines one request produces (a dropped arrival: k6's dropped_iterations sample only). */
  record(r: RequestRecord, phase = 'none', measured = 'yes'): string[] {
    if (r.outcome === 'dropped')
      return this.point('dropped_iterations', r.tDone, 1, { scenario: 'faultline' });
    const status = String(r.status);
    const httpTags = {
      expected_response: String(r.status >= 200 && r.status <= 399),
      group: '',
      method: 'POST',
      name: 'predict',
      proto: 'HTTP/1.1',
      scenario: 'faultline',
      status,
      url: `${this.url}/v1/predict`,
      phase,
      measured,
      ...(r.outcome === 'timeout' ? { error_code: '1050' } : {}),
    };
    const meta: Record<string, string> = { seq: String(r.seq), t_intended: String(r.tIntended) };
    const duration = r.tSent === null ? 0 : r.tDone - r.tSent;
    const lines = [
      ...this.point('http_reqs', r.tDone, 1, httpTags, meta),
      ...this.point('http_req_duration', r.tDone, duration, httpTags, meta),
      ...this.point('http_req_waiting', r.tDone, duration * 0.9, httpTags, meta),
      ...this.point('http_req_failed', r.tDone, r.outcome === 'ok' ? 0 : 1, httpTags, meta),
    ];
    const tags: Record<string, string> = {
      outcome: r.outcome,
      status,
      phase,
      measured,
      scenario: 'faultline',
    };
    if (r.modelVersion) tags.model_version = r.modelVersion;
    if (r.fallback) tags.fallback = r.fallback;
    const full: Record<string, string> = { ...meta };
    if (r.tSent !== null) full.t_sent = String(r.tSent);
    if (r.label !== undefined) full.label = String(r.label);
    if (r.score !== undefined) full.score = String(r.score);
    if (r.decision) full.decision = r.decision;
    if (r.upstream) full.upstream = r.upstream;
    if (r.error) full.error = r.error;
    lines.push(...this.point('faultline_request', r.tDone, r.latencyMs ?? 0, tags, full));
    lines.push(
      ...this.point('faultline_ok', r.tDone, r.outcome === 'ok' ? 1 : 0, {
        phase,
        measured,
        scenario: 'faultline',
      }),
    );
    if (r.outcome === 'ok')
      lines.push(
        ...this.point('faultline_fallback', r.tDone, r.fallback ? 1 : 0, {
          phase,
          measured,
          scenario: 'faultline',
        }),
      );
    lines.push(...this.point('iterations', r.tDone, 1, { scenario: 'faultline' }));
    return lines;
  }
}
