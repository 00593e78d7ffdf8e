// The generator in a worker thread (src/load/worker-driver.ts) against a real HTTP server: the same
// records as the in-process driver, transforms from the right intended time, every record delivered.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BuiltinLoadDriver } from '../src/load/builtin.ts';
import { nowMs } from '../src/load/clock.ts';
import type { LoadDriver, RequestRecord } from '../src/load/driver.ts';
import { LagMeter } from '../src/load/lag.ts';
import { WorkerLoadDriver } from '../src/load/worker-driver.ts';

interface Seen {
  seq: number;
  body: Record<string, unknown>;
  /** Main-thread nowMs() when the request arrived. */
  at: number;
}

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A model-server-shaped answer per request; odd seqs come from the fallback model of replica ms-1. */
async function gateway(delayMs = 0) {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seq = Number(req.headers['x-faultline-seq']);
      seen.push({ seq, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), at: nowMs() });
      const send = () => {
        res.writeHead(seq % 7 === 3 ? 503 : 200, {
          'content-type': 'application/json',
          'x-upstream': `ms-${seq % 2}`,
        });
        res.end(
          JSON.stringify(
            seq % 7 === 3
              ? { error_code: 'FEATURES_UNAVAILABLE' }
              : {
                  score: 0.1,
                  decision: 'approve',
                  model_version: seq % 2 ? '2' : '1',
                  fallback: { used: seq % 2 === 1, reason: seq % 2 ? 'breaker_open' : null },
                },
          ),
        );
      };
      if (delayMs) setTimeout(send, delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const handle = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    bySeq: () => new Map(seen.map((s) => [s.seq, s])),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(handle);
  return handle;
}

async function collect(d: LoadDriver) {
  const streamed: RequestRecord[] = [];
  d.onRecord((r) => streamed.push(r));
  await d.start();
  const result = await d.done;
  return { result, streamed: streamed.sort((a, b) => a.seq - b.seq) };
}

/** The fields a record carries about the request and its answer (not its timing). */
const answer = (r: RequestRecord) => {
  const { tIntended: _i, tSent: _s, tDone: _d, latencyMs: _l, ...rest } = r;
  return rest;
};

describe('WorkerLoadDriver', () => {
  it('sends the same seeded payloads and yields the same records as the in-process driver', async () => {
    const gw = await gateway();
    const cfg = { url: gw.url, rate: 100, durationMs: 600, seed: 11 };
    const inproc = await collect(new BuiltinLoadDriver(cfg));
    const bodiesIn = [...gw.seen].sort((a, b) => a.seq - b.seq).map((s) => s.body);
    gw.seen.length = 0;
    const worker = await collect(new WorkerLoadDriver({ ...cfg, keepRecords: true }));
    const bodiesW = [...gw.seen].sort((a, b) => a.seq - b.seq).map((s) => s.body);

    expect(worker.result.requests).toBe(60);
    expect(bodiesW).toEqual(bodiesIn);
    expect(worker.streamed.map(answer)).toEqual(inproc.streamed.map(answer));
    // Fallback, version, upstream and errors are all carried across the thread.
    expect(worker.streamed.filter((r) => r.fallback === 'breaker_open').length).toBeGreaterThan(20);
    expect(worker.streamed.filter((r) => r.error === 'FEATURES_UNAVAILABLE').length).toBe(9);
    // Counts and the rebuilt histograms agree with the records themselves.
    const w = worker.result;
    expect(w.records).toHaveLength(60);
    expect(w.ok + w.errors + w.timeouts + w.dropped).toBe(60);
    expect(w.ok).toBe(worker.streamed.filter((r) => r.outcome === 'ok').length);
    expect(w.latencyHistogram.totalCount).toBe(60);
    expect(w.schedulingLagHistogram.totalCount).toBe(60);
    const maxLag = Math.max(...worker.streamed.map((r) => r.tSent! - r.tIntended));
    expect(w.schedulingLag.max).toBeCloseTo(maxLag, 9);
  });

  it('keeps one clock with the main thread: no request arrives before the worker says it was sent', async () => {
    const gw = await gateway();
    const { streamed } = await collect(new WorkerLoadDriver({ url: gw.url, rate: 200, durationMs: 1000 }));
    const seen = gw.bySeq();
    expect(streamed).toHaveLength(200);
    // The server stamps arrival with the main thread's nowMs(); the worker stamps tSent before the
    // request is written. Two clocks anchored on Date.now() (integer ms) could disagree by up to 1 ms.
    for (const r of streamed) expect(seen.get(r.seq)!.at).toBeGreaterThanOrEqual(r.tSent!);
    for (const r of streamed) expect(r.tDone).toBeGreaterThanOrEqual(seen.get(r.seq)!.at);
  });

  it('applies transform specs from the right intended time, composed in installation order', async () => {
    const gw = await gateway();
    const cfg = { url: gw.url, rate: 100, durationMs: 1500, seed: 5 };
    await collect(new BuiltinLoadDriver(cfg));
    const plain = new Map(gw.seen.map((s) => [s.seq, s.body.amount as number]));
    gw.seen.length = 0;

    const d = new WorkerLoadDriver({ ...cfg, keepRecords: true });
    const streamed: RequestRecord[] = [];
    d.onRecord((r) => streamed.push(r));
    await d.start();
    // A start in the future acts exactly from there; a start in the past from the install instant.
    const shiftAt = nowMs() + 300;
    const shiftFrom = await d.setTransformSpec('shift', {
      kind: 'shift',
      feature: 'amount',
      delta: 1_000_000,
      startMs: shiftAt,
    });
    expect(shiftFrom).toBe(shiftAt);
    await new Promise((r) => setTimeout(r, 600));
    const askedAt = nowMs();
    const scaleFrom = await d.setTransformSpec('scale', {
      kind: 'scale',
      feature: 'amount',
      factor: 2,
      startMs: askedAt - 5000,
    });
    expect(scaleFrom!).toBeGreaterThanOrEqual(askedAt);
    expect(scaleFrom!).toBeLessThanOrEqual(nowMs());
    await d.done;

    const sent = gw.bySeq();
    expect(streamed).toHaveLength(150);
    let shifted = 0;
    let both = 0;
    for (const r of streamed) {
      const a0 = plain.get(r.seq)!;
      let want = a0;
      if (r.tIntended >= shiftAt) want += 1_000_000;
      if (r.tIntended >= scaleFrom!) want *= 2;
      expect(sent.get(r.seq)!.body.amount, `seq ${r.seq}`).toBeCloseTo(want, 6);
      if (r.tIntended >= shiftAt) shifted++;
      if (r.tIntended >= scaleFrom!) both++;
    }
    expect(shifted).toBeGreaterThan(50);
    expect(both).toBeGreaterThan(20);
    expect(shifted).toBeGreaterThan(both);
  });

  it('stop() mid-run delivers every record of the requests it sent', async () => {
    const gw = await gateway(80);
    const d = new WorkerLoadDriver({
      url: gw.url,
      rate: 200,
      durationMs: 30_000,
      keepRecords: true,
      batchMs: 50,
    });
    const streamed: RequestRecord[] = [];
    d.onRecord((r) => streamed.push(r));
    await d.start();
    await new Promise((r) => setTimeout(r, 400));
    await d.stop();
    const result = await d.done;
    expect(result.stoppedEarly).toBe(true);
    expect(result.requests).toBeGreaterThan(20);
    expect(result.requests).toBeLessThan(6000);
    // Requests in flight at stop() (80 ms answers at 200/s: ~16) are awaited and delivered too.
    expect(streamed).toHaveLength(result.requests);
    expect(gw.seen).toHaveLength(result.requests);
    expect(streamed.map((r) => r.seq).sort((a, b) => a - b)).toEqual(streamed.map((_, i) => i));
    expect(streamed.every((r) => r.outcome === 'ok' || r.error === 'FEATURES_UNAVAILABLE')).toBe(true);
  });

  it('an error in the worker fails `done`; so does a failing record listener', async () => {
    const gw = await gateway();
    const d = new WorkerLoadDriver({ url: gw.url, rate: 50, durationMs: 10_000 });
    await d.start();
    // Not a numeric Transaction field: DriftTransform throws inside the worker.
    void d.setTransformSpec('bad', { kind: 'shift', feature: 'user_id', delta: 1, startMs: 0 });
    await expect(d.done).rejects.toThrow(/user_id is not a numeric Transaction field/);

    const e = new WorkerLoadDriver({ url: gw.url, rate: 100, durationMs: 10_000 });
    e.onRecord(() => {
      throw new Error('journal disk full');
    });
    await e.start();
    await expect(e.done).rejects.toThrow(/journal disk full/);
  });

  it.runIf(process.platform === 'linux')('sets the nice value of the generator thread only', async () => {
    const gw = await gateway();
    const os = await import('node:os');
    const before = os.getPriority(process.pid);
    // Raising nice needs no privilege; lowering it (threadNice < 0) needs CAP_SYS_NICE.
    const d = new WorkerLoadDriver({ url: gw.url, rate: 50, durationMs: 200, threadNice: before + 3 });
    await d.start();
    expect(d.threadNice).toBe(before + 3);
    expect(os.getPriority(process.pid)).toBe(before);
    await d.done;
  });

  it('rejects a malformed config before starting a thread; stop() before start() settles', async () => {
    expect(
      () => new WorkerLoadDriver({ url: 'http://127.0.0.1:1', rate: 10, durationMs: 100, maxInFlight: 0 }),
    ).toThrow(/maxInFlight/);
    const d = new WorkerLoadDriver({ url: 'http://127.0.0.1:1', rate: 10, durationMs: 100 });
    await d.stop();
    await expect(d.done).resolves.toMatchObject({ requests: 0 });
  });
});

describe('LagMeter', () => {
  it('summarises tSent − tIntended per interval, skipping drops, and starts a fresh interval', () => {
    let t = 1000;
    const m = new LagMeter(() => t);
    const rec = (seq: number, lag: number | null): RequestRecord => ({
      seq,
      tIntended: 5000 + seq,
      tSent: lag === null ? null : 5000 + seq + lag,
      tDone: 6000,
      latencyMs: lag === null ? null : 10,
      status: lag === null ? 0 : 200,
      outcome: lag === null ? 'dropped' : 'ok',
    });
    // 100 sends with lags 0.1 … 10 ms (and a drop): p50 = 5.0, p99 = 9.9, max = 10 (independently known).
    for (let i = 1; i <= 100; i++) m.add(rec(i, i / 10));
    m.add(rec(101, null));
    t = 2000;
    const s = m.take()!;
    expect(s).toMatchObject({ from: 1000, to: 2000, count: 100, maxMs: 10 });
    expect(s.p50Ms!).toBeCloseTo(5.0, 2);
    expect(s.p99Ms!).toBeCloseTo(9.9, 2);
    t = 3000;
    expect(m.take()).toBeNull();
    m.add(rec(1, 42));
    expect(m.take()).toMatchObject({ from: 3000, count: 1, maxMs: 42 });
  });
});

describe('WorkerLoadDriver after the run', () => {
  it('removing a transform once the load ended resolves at once (a revert must not hang)', async () => {
    const gw = await gateway();
    const d = new WorkerLoadDriver({ url: gw.url, rate: 50, durationMs: 200 });
    await d.start();
    await d.setTransformSpec('x', { kind: 'shift', feature: 'amount', delta: 1, startMs: 0 });
    await d.done;
    const t = Date.now();
    await expect(d.setTransformSpec('x', undefined)).resolves.toBeUndefined();
    expect(Date.now() - t).toBeLessThan(1000);
  });
});
