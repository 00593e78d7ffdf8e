// k6 JSON output → RequestRecords (src/load/k6/ingest.ts), against k6's documented format: the
// example lines of k6's docs, partial lines, unknown metrics, out-of-order points; and SLI parity:
// the records of a real built-in run (test/fixtures/k6/builtin-records.json, written by
// scripts/fixtures/k6_records.ts against the real local pipeline), written as k6's output of an
// exported script would hold them (test/helpers/k6-points.ts) and read back, give the same SLIs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { RequestRecord } from '../src/load/driver.ts';
import { detectSource, K6Ingest, type K6Source, parseK6Time } from '../src/load/k6/ingest.ts';
import { readK6Files } from '../src/runner/load-from.ts';
import { summarize } from '../src/slo/summarize.ts';
import { qualitySeries, timeSeries } from '../src/slo/timeseries.ts';
import { K6Writer } from './helpers/k6-points.ts';

const FIXTURE: RequestRecord[] = JSON.parse(
  fs.readFileSync(new URL('./fixtures/k6/builtin-records.json', import.meta.url), 'utf8'),
).records;

function ingest(text: string, source: K6Source, chunks?: (n: number) => number) {
  const records: RequestRecord[] = [];
  const i = new K6Ingest({ source, onRecord: (r) => records.push(r) });
  if (!chunks) i.push(text);
  else
    for (let at = 0; at < text.length; ) {
      const n = Math.max(1, chunks(at));
      i.push(text.slice(at, at + n));
      at += n;
    }
  i.end();
  return { records, stats: i.stats };
}

/** Deterministic shuffle (out-of-order points, as VUs' samples interleave in k6's output). */
function shuffle<T>(xs: T[], seed = 1): T[] {
  const a = [...xs];
  let s = seed;
  for (let i = a.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// Lines as in k6's documentation (https://grafana.com/docs/k6/latest/results-output/real-time/json/).
const DOCS = [
  '{"type":"Metric","data":{"type":"gauge","contains":"default","tainted":null,"thresholds":[],"submetrics":null},"metric":"vus"}',
  '{"type":"Point","data":{"time":"2017-05-09T14:34:45.625742514+02:00","value":5,"tags":null},"metric":"vus"}',
  '{"type":"Metric","data":{"type":"trend","contains":"time","tainted":null,"thresholds":["avg<1000"],"submetrics":null},"metric":"http_req_duration"}',
  '{"type":"Point","data":{"time":"2017-05-09T14:34:45.239531499+02:00","value":459.865729,"tags":{"group":"::my group::json","method":"GET","status":"200","url":"https://httpbin.test.k6.io/get"}},"metric":"http_req_duration"}',
].join('\n');

describe('k6 JSON output ingestion', () => {
  it('parses k6 times (nanoseconds, zone offsets)', () => {
    expect(parseK6Time('2017-05-09T14:34:45.239531499+02:00')).toBeCloseTo(
      Date.UTC(2017, 4, 9, 12, 34, 45, 239) + 0.531499,
      3,
    );
    expect(parseK6Time('2017-05-09T12:34:45Z')).toBe(Date.UTC(2017, 4, 9, 12, 34, 45));
    expect(parseK6Time('2017-05-09T14:34:45.5-01:30')).toBe(Date.UTC(2017, 4, 9, 16, 4, 45, 500));
    expect(parseK6Time('yesterday')).toBeNaN();
  });

  it("reads the documentation's example: one http record, the gauge ignored", () => {
    const { records, stats } = ingest(DOCS, 'http');
    expect(records).toEqual([
      {
        seq: 0,
        tIntended: parseK6Time('2017-05-09T14:34:45.239531499+02:00') - 459.865729,
        tSent: parseK6Time('2017-05-09T14:34:45.239531499+02:00') - 459.865729,
        tDone: parseK6Time('2017-05-09T14:34:45.239531499+02:00'),
        latencyMs: 459.865729,
        status: 200,
        outcome: 'ok',
      },
    ]);
    expect(stats).toMatchObject({
      lines: 4,
      points: 2,
      declarations: 2,
      records: 1,
      malformed: 0,
      unknownMetrics: {},
    });
    expect(detectSource(DOCS)).toBe('http');
  });

  it('http source: status 0 / non-2xx are errors, k6 error code 1050 a timeout, dropped iterations dropped', () => {
    const w = new K6Writer('http://gw');
    const lines = [
      ...w.point('http_req_duration', 1000, 12, { status: '503', name: 'predict' }),
      ...w.point('http_req_duration', 1010, 2000, { status: '0', error_code: '1050' }),
      ...w.point('http_req_duration', 1020, 3, { status: '0', error_code: '1211' }),
      ...w.point('http_req_duration', 1030, 7, {
        status: '200',
        model_version: '3',
        fallback: 'feature_store',
      }),
      ...w.point('dropped_iterations', 1040, 1, { scenario: 'x' }),
    ];
    const { records } = ingest(lines.join('\n'), 'http');
    expect(records.map((r) => [r.outcome, r.error, r.modelVersion, r.fallback])).toEqual([
      ['error', 'http_503', undefined, undefined],
      ['timeout', 'timeout', undefined, undefined],
      ['error', 'k6_1211', undefined, undefined],
      ['ok', undefined, '3', 'feature_store'],
      ['dropped', 'dropped_iteration', undefined, undefined],
    ]);
    expect(records[4]).toMatchObject({ tSent: null, latencyMs: null, status: 0 });
  });

  it('partial lines, unknown metrics, malformed and out-of-order lines', () => {
    const w = new K6Writer('http://gw', -300);
    const sample = FIXTURE.slice(0, 200);
    const lines = sample.flatMap((r) => w.record(r));
    lines.push(...w.point('team_custom_metric', 5000, 1, { team: 'x' }));
    lines.push(...w.point('team_custom_metric', 5001, 1, { team: 'x' }));
    lines.push('{"type":"Point","data":{"time":"2026-11-30T10:00:00Z","value":1,"tags":null},"metr');
    lines.push('not json at all');
    const text = `${shuffle(lines, 7).join('\n')}\n{"type":"Point","data":{"time":"2026-11-30T10:00:00Z"`; // cut off mid-line
    const whole = ingest(text, 'faultline');
    // Chunks of 1 to 97 bytes: every line boundary falls inside some chunk.
    const pieces = ingest(text, 'faultline', (at) => 1 + ((at * 7919) % 97));
    expect(pieces.records).toEqual(whole.records);
    expect(whole.records).toHaveLength(200);
    expect(whole.stats.unknownMetrics).toEqual({ team_custom_metric: 2 });
    expect(whole.stats.malformed).toBe(3);
    const bySeq = (rs: RequestRecord[]) => [...rs].sort((a, b) => a.seq - b.seq);
    expect(bySeq(whole.records)).toEqual(
      bySeq(sample).map((r) => ({ ...r, tDone: r.tIntended + (r.latencyMs ?? 0) })),
    );
  });

  it("the records read back from k6's output give the built-in run's SLIs", () => {
    expect(FIXTURE.length).toBe(600);
    // The fixture exercises more than clean answers.
    expect(FIXTURE.some((r) => r.fallback)).toBe(true);
    expect(new Set(FIXTURE.map((r) => r.upstream)).size).toBeGreaterThan(1);
    const w = new K6Writer('http://127.0.0.1:1');
    const text = `${shuffle(
      FIXTURE.flatMap((r) => w.record(r)),
      3,
    ).join('\n')}\n`;
    expect(detectSource(text)).toBe('faultline');
    const { records, stats } = ingest(text, 'faultline', (at) => 1 + ((at * 31) % 4096));
    expect(stats.records).toBe(FIXTURE.length);
    const start = Math.min(...FIXTURE.map((r) => r.tIntended));
    const end = Math.max(...FIXTURE.map((r) => r.tDone));
    for (const window of [
      { from: start, to: end },
      { from: start + 1000, to: start + 2000 },
      { from: start + 2000, to: start + 3500 },
      { from: start + 3500, to: start + 4600 },
      { from: start + 4600, to: end },
    ]) {
      const want = summarize(FIXTURE, window);
      const got = summarize(records, window);
      expect(got).toEqual(want);
    }
    expect(timeSeries(records, { from: start, to: end, bucketMs: 1000 })).toEqual(
      timeSeries(FIXTURE, { from: start, to: end, bucketMs: 1000 }),
    );
    expect(qualitySeries(records)).toEqual(qualitySeries(FIXTURE));
  });

  it("--load-from reads several files (a TestRun's runners), gzipped or not, into one run", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-k6-files-'));
    const w = new K6Writer('http://gw');
    // Runners split the arrivals between them (k6 execution segments): even and odd ones here.
    const even = FIXTURE.filter((r) => r.seq % 2 === 0).flatMap((r) => w.record(r));
    const odd = FIXTURE.filter((r) => r.seq % 2 === 1).flatMap((r) => w.record(r));
    fs.writeFileSync(path.join(dir, 'runner-0.json'), `${even.join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'runner-1.json.gz'), gzipSync(`${odd.join('\n')}\n`));
    const { records, indexed, stats } = readK6Files([
      path.join(dir, 'runner-0.json'),
      path.join(dir, 'runner-1.json.gz'),
    ]);
    expect(indexed).toBe(true);
    expect(stats.map((s) => [s.source, s.records])).toEqual([
      ['faultline', 300],
      ['faultline', 300],
    ]);
    const start = Math.min(...FIXTURE.map((r) => r.tIntended));
    const end = Math.max(...FIXTURE.map((r) => r.tDone));
    expect(summarize(records, { from: start, to: end })).toEqual(
      summarize(FIXTURE, { from: start, to: end }),
    );
  });
});
