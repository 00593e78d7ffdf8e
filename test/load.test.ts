import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { benchGenerator } from '../src/load/bench.ts';
import type { BuiltinLoadConfig } from '../src/load/builtin.ts';
import { BuiltinLoadDriver } from '../src/load/builtin.ts';
import { nowMs } from '../src/load/clock.ts';
import { composeTransforms, DriftTransform, transactionNumericRanges } from '../src/load/drift-transform.ts';
import type { RequestRecord } from '../src/load/driver.ts';
import { ArrivalSchedule } from '../src/load/schedule.ts';
import { Transaction } from '../src/pipeline/schema.ts';

// A stand-in for the gateway: answers POST /v1/predict like the model-server contract, with hooks
// to delay responses and to vary the body per request.
interface Seen {
  seq: number;
  body: Record<string, unknown>;
  at: number;
}
type Reply = {
  status?: number;
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
  delayMs?: number;
  hang?: boolean;
};

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function gateway(reply: (seq: number, seen: Seen) => Reply = () => ({})) {
  const seen: Seen[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const hanging = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seq = Number(req.headers['x-faultline-seq']);
      const s: Seen = { seq, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), at: nowMs() };
      seen.push(s);
      const r = reply(seq, s);
      if (r.hang) {
        hanging.add(res);
        return;
      }
      const body = r.body ?? {
        transaction_id: String(seq),
        score: 0.1,
        decision: 'approve',
        model_name: 'fraud-primary',
        model_version: '1',
        fallback: { used: false, reason: null },
      };
      const send = () => {
        res.writeHead(r.status ?? 200, {
          'content-type': 'application/json',
          'x-upstream': 'ms-0',
          ...r.headers,
        });
        res.end(JSON.stringify(body));
      };
      if (r.delayMs) setTimeout(send, r.delayMs);
      else send();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const handle = {
    url,
    seen,
    get maxInFlight() {
      return maxInFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hanging) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(handle);
  return handle;
}

let counter = 0;
const simplePayload = () => () => ({
  user_id: 'u00001',
  type: 'PAYMENT',
  amount: 10 + counter++,
  old_balance: 100,
  new_balance: 90,
  hour: 12,
  merchant_risk: 0.1,
});

async function run(cfg: Omit<BuiltinLoadConfig, 'payload'> & { payload?: BuiltinLoadConfig['payload'] }) {
  const d = new BuiltinLoadDriver({ payload: simplePayload(), keepRecords: true, ...cfg });
  const streamed: RequestRecord[] = [];
  d.onRecord((r) => streamed.push(r));
  await d.start();
  const result = await d.done;
  return { d, result, records: [...result.records!].sort((a, b) => a.seq - b.seq), streamed };
}

describe('ArrivalSchedule', () => {
  it('constant rate: i/rate, exactly rate × duration arrivals', () => {
    const s = new ArrivalSchedule({ rate: 100, durationMs: 2000 });
    const offs = [...s.offsets()];
    expect(offs.length).toBe(200);
    offs.forEach((o, i) => {
      expect(o).toBeCloseTo(i * 10, 9);
    });
  });

  it('ramping stages integrate the linear rate profile', () => {
    // 0 → 200 req/s over 1 s, then 200 req/s for 1 s: N(t) = 100 t² then 100 + 200 (t − 1).
    const s = new ArrivalSchedule({
      startRate: 0,
      stages: [
        { rate: 200, duration: 1000 },
        { rate: 200, duration: 1000 },
      ],
    });
    const offs = [...s.offsets()];
    expect(s.count).toBe(300);
    expect(offs.length).toBe(300);
    for (let i = 1; i < offs.length; i++) expect(offs[i]).toBeGreaterThan(offs[i - 1]);
    // Arrival i happens when N(t) = i.
    for (const i of [1, 25, 99, 150, 299]) expect(s.cumulative(offs[i])).toBeCloseTo(i, 6);
    expect(offs[25]).toBeCloseTo(500, 6);
    expect(s.rateAt(250)).toBeCloseTo(50, 9);
    // Ramp down and truncation by durationMs.
    const down = new ArrivalSchedule({
      startRate: 100,
      stages: [{ rate: 0, duration: 2000 }],
      durationMs: 1000,
    });
    expect(down.count).toBe(75);
    expect([...down.offsets()].at(-1)!).toBeLessThan(1000);
  });

  it('rejects malformed profiles', () => {
    expect(() => new ArrivalSchedule({ rate: 10 })).toThrow(/durationMs/);
    expect(() => new ArrivalSchedule({ rate: -1, durationMs: 10 })).toThrow(/rate/);
    expect(() => new ArrivalSchedule({})).toThrow(/rate/);
  });
});

describe('BuiltinLoadDriver against a real HTTP server', () => {
  it('(a) constant rate: 100/s for 2 s sends 200 evenly scheduled requests', async () => {
    const gw = await gateway();
    const { result, records, streamed } = await run({ url: gw.url, rate: 100, durationMs: 2000 });
    expect(Math.abs(result.requests - 200)).toBeLessThanOrEqual(2);
    expect(records.length).toBe(result.requests);
    expect(streamed.length).toBe(result.requests);
    expect(gw.seen.length).toBe(result.requests);
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i));
    for (let i = 1; i < records.length; i++)
      expect(records[i].tIntended - records[i - 1].tIntended).toBeCloseTo(10, 6);
    for (const r of records) {
      expect(r.outcome).toBe('ok');
      expect(r.tSent!).toBeGreaterThanOrEqual(r.tIntended);
      expect(r.tDone).toBeGreaterThanOrEqual(r.tSent!);
      expect(r.latencyMs).toBeCloseTo(r.tDone - r.tIntended, 9);
    }
    expect(result.ok).toBe(result.requests);
    expect(result.latency.count).toBe(result.requests);
    expect(result.latencyHistogram.totalCount).toBe(result.requests);
    expect(result.stoppedEarly).toBe(false);
  });

  it('(b) no coordinated omission: a 500 ms stall shows up in the latency of every request intended during it', async () => {
    let stallUntil = 0;
    let stalled = false;
    const gw = await gateway((_seq, s) => {
      if (!stalled && s.at - t0 >= 500) {
        stalled = true;
        stallUntil = s.at + 500;
      }
      return s.at < stallUntil ? { delayMs: stallUntil - s.at } : {};
    });
    const t0 = nowMs();
    const { result, records } = await run({ url: gw.url, rate: 100, durationMs: 2000 });
    expect(Math.abs(result.requests - 200)).toBeLessThanOrEqual(2);
    expect(records.every((r) => r.outcome === 'ok' && r.tSent !== null)).toBe(true);
    expect(result.latency.max!).toBeGreaterThanOrEqual(400);
    // A closed-loop client would see one slow request; the open model keeps sending, so the ~50
    // requests intended during the stall all wait for it (latencies 500 → 0 ms, ~40 above 100 ms).
    const slow = records.filter((r) => r.latencyMs! >= 100);
    expect(slow.length).toBeGreaterThanOrEqual(25);
    // They were sent on schedule, during the stall, not after it.
    const sentDuringStall = records.filter((r) => r.tSent! < stallUntil - 100 && r.tDone >= stallUntil - 5);
    expect(sentDuringStall.length).toBeGreaterThanOrEqual(20);
  });

  it('(b2) a stalled client catches up and charges the delay to latency (measured from intended time)', async () => {
    const gw = await gateway();
    const d = new BuiltinLoadDriver({
      url: gw.url,
      rate: 100,
      durationMs: 1500,
      payload: simplePayload(),
      keepRecords: true,
    });
    await d.start();
    // Block the event loop for 300 ms (as a GC pause or a saturated CPU would).
    setTimeout(() => {
      const until = performance.now() + 300;
      while (performance.now() < until);
    }, 500);
    const result = await d.done;
    const records = result.records!;
    expect(result.requests).toBe(150);
    expect(records.every((r) => r.outcome === 'ok')).toBe(true);
    const late = records.filter((r) => r.tSent! - r.tIntended >= 100);
    expect(late.length).toBeGreaterThanOrEqual(15);
    for (const r of late) expect(r.latencyMs!).toBeGreaterThanOrEqual(r.tSent! - r.tIntended);
    expect(result.schedulingLag.max!).toBeGreaterThanOrEqual(250);
    expect(result.latency.max!).toBeGreaterThanOrEqual(250);
  });

  it('(c) requests beyond maxInFlight are dropped, not queued', async () => {
    const gw = await gateway(() => ({ delayMs: 300 }));
    const { result, records } = await run({ url: gw.url, rate: 100, durationMs: 1000, maxInFlight: 5 });
    expect(result.requests).toBe(100);
    expect(gw.maxInFlight).toBeLessThanOrEqual(5);
    const dropped = records.filter((r) => r.outcome === 'dropped');
    expect(dropped.length).toBeGreaterThan(50);
    expect(result.dropped).toBe(dropped.length);
    for (const r of dropped) {
      expect(r.status).toBe(0);
      expect(r.tSent).toBeNull();
      expect(r.latencyMs).toBeNull();
    }
    expect(result.ok + result.dropped).toBe(100);
    expect(gw.seen.length).toBe(result.ok);
    expect(result.latency.count).toBe(result.ok);
  });

  it('(d) ramping stages follow the rate profile', async () => {
    const gw = await gateway();
    const { result, records } = await run({
      url: gw.url,
      startRate: 0,
      stages: [
        { rate: 200, duration: 1000 },
        { rate: 200, duration: 1000 },
      ],
    });
    expect(result.requests).toBe(300);
    const start = result.startedAt;
    const bucket = (t: number) => Math.floor((t - start) / 500);
    const byIntended = [0, 0, 0, 0];
    const bySent = [0, 0, 0, 0, 0];
    for (const r of records) {
      byIntended[bucket(r.tIntended)]++;
      bySent[Math.min(4, bucket(r.tSent!))]++;
    }
    // N(0.5 s) = 25, N(1 s) = 100, then 100 per half second.
    expect(byIntended).toEqual([25, 75, 100, 100]);
    const expected = [25, 75, 100, 100];
    expected.forEach((n, i) => {
      expect(Math.abs(bySent[i] - n)).toBeLessThanOrEqual(Math.max(10, n * 0.25));
    });
  });

  it('(e) records carry model version, fallback reason, upstream and error codes', async () => {
    const gw = await gateway((seq): Reply => {
      if (seq % 5 === 4) return { status: 503, body: { error_code: 'FEATURES_UNAVAILABLE', message: 'x' } };
      if (seq % 2 === 0) {
        return {
          body: {
            score: 0.2,
            decision: 'approve',
            model_name: 'fraud-fallback',
            model_version: '2',
            fallback: { used: true, reason: 'breaker_open' },
          },
          headers: { 'x-model-version': '2', 'x-fallback': 'breaker_open', 'x-upstream': 'ms-1' },
        };
      }
      return {
        body: {
          score: 0.1,
          decision: 'approve',
          model_name: 'fraud-primary',
          model_version: '7',
          fallback: { used: false, reason: null },
        },
        headers: { 'x-model-version': '7', 'x-fallback': 'false' },
      };
    });
    const { records } = await run({ url: gw.url, rate: 50, durationMs: 400 });
    expect(records.length).toBe(20);
    for (const r of records) {
      if (r.seq % 5 === 4) {
        expect(r).toMatchObject({ outcome: 'error', status: 503, error: 'FEATURES_UNAVAILABLE' });
      } else if (r.seq % 2 === 0) {
        expect(r).toMatchObject({
          outcome: 'ok',
          status: 200,
          modelVersion: '2',
          fallback: 'breaker_open',
          upstream: 'ms-1',
        });
      } else {
        expect(r).toMatchObject({ outcome: 'ok', status: 200, modelVersion: '7', upstream: 'ms-0' });
        expect(r.fallback).toBeUndefined();
      }
    }
  });

  it('(f) same seed → same payload sequence (trainer PayloadGenerator), whatever the timing', async () => {
    const gw = await gateway((seq) => (seq % 3 === 0 ? { delayMs: 40 } : {}));
    const bodies = async (seed: number) => {
      gw.seen.length = 0;
      const { records } = await run({ url: gw.url, rate: 100, durationMs: 300, seed, payload: undefined });
      expect(records.length).toBe(30);
      return [...gw.seen].sort((a, b) => a.seq - b.seq).map((s) => s.body);
    };
    const a = await bodies(7);
    const b = await bodies(7);
    const c = await bodies(8);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    for (const body of a) expect(Transaction.safeParse(body).success).toBe(true);
  });

  it('times out slow requests and records network errors', async () => {
    const gw = await gateway(() => ({ hang: true }));
    const { result, records } = await run({ url: gw.url, rate: 20, durationMs: 200, timeoutMs: 150 });
    expect(records.length).toBe(4);
    for (const r of records) {
      expect(r).toMatchObject({ outcome: 'timeout', status: 0 });
      expect(r.latencyMs!).toBeGreaterThanOrEqual(140);
    }
    expect(result.timeouts).toBe(4);

    // A port nobody listens on: connection refused.
    const closed = await gateway();
    const url = closed.url;
    await closed.close();
    servers.splice(servers.indexOf(closed), 1);
    const refused = await run({ url, rate: 20, durationMs: 200 });
    expect(refused.records.length).toBe(4);
    for (const r of refused.records) expect(r).toMatchObject({ outcome: 'error', status: 0 });
  });

  it('stop() ends the run early and waits for in-flight requests', async () => {
    const gw = await gateway(() => ({ delayMs: 50 }));
    const d = new BuiltinLoadDriver({
      url: gw.url,
      rate: 100,
      durationMs: 30_000,
      payload: simplePayload(),
      keepRecords: true,
    });
    await d.start();
    await new Promise((r) => setTimeout(r, 300));
    await d.stop();
    const result = await d.done;
    expect(result.stoppedEarly).toBe(true);
    expect(result.requests).toBeGreaterThan(5);
    expect(result.requests).toBeLessThan(300);
    expect(d.inFlightCount).toBe(0);
    expect(result.records!.every((r) => r.outcome === 'ok')).toBe(true);
  });

  it('applies the runtime transform to every payload with its intended time', async () => {
    const gw = await gateway();
    const d = new BuiltinLoadDriver({
      url: gw.url,
      rate: 50,
      durationMs: 200,
      payload: simplePayload(),
      keepRecords: true,
    });
    const stamps: number[] = [];
    d.setTransform((p, t) => {
      stamps.push(t);
      return { ...p, amount: 4242 };
    });
    await d.start();
    const result = await d.done;
    expect(gw.seen.map((s) => s.body.amount)).toEqual(new Array(10).fill(4242));
    expect(stamps).toEqual(result.records!.sort((a, b) => a.seq - b.seq).map((r) => r.tIntended));
  });

  it('a failing record listener fails the run', async () => {
    const gw = await gateway();
    const d = new BuiltinLoadDriver({ url: gw.url, rate: 100, durationMs: 5000, payload: simplePayload() });
    d.onRecord(() => {
      throw new Error('journal disk full');
    });
    await d.start();
    await expect(d.done).rejects.toThrow(/journal disk full/);
  });
});

describe('benchGenerator', () => {
  it('measures scheduling lag against a trivial server in a child process', async () => {
    const r = await benchGenerator({ rates: [50, 100], durationMs: 400, lagBudgetMs: 1000 });
    expect(r.steps.map((s) => [s.targetRate, s.requests, s.ok])).toEqual([
      [50, 20, 20],
      [100, 40, 40],
    ]);
    for (const s of r.steps) {
      expect(s.lagP99Ms).not.toBeNull();
      expect(s.sustained).toBe(true);
    }
    expect(r.maxSustainableRate).toBe(100);
  });

  it("its lag figure is the generator's real lag: a 300 ms stall of its thread shows, and fails the step", async () => {
    // (`lag p99 ≥ 0` held whatever the driver measured.) The target runs in this process here, so
    // the stall delays sends; requests intended during it are sent up to ~300 ms late.
    const gw = await gateway();
    const stall = setTimeout(() => {
      const until = performance.now() + 300;
      while (performance.now() < until);
    }, 300);
    const r = await benchGenerator({ url: gw.url, rates: [100], durationMs: 1000, lagBudgetMs: 100 });
    clearTimeout(stall);
    const [s] = r.steps;
    expect(s.requests).toBe(100);
    expect(s.lagMaxMs!).toBeGreaterThanOrEqual(250);
    // ~30 of 100 requests fall in the stall, so the p99 is within it too.
    expect(s.lagP99Ms!).toBeGreaterThanOrEqual(200);
    expect(s.lagP50Ms!).toBeLessThan(s.lagP99Ms!);
    expect(s.sustained).toBe(false);
    expect(r.maxSustainableRate).toBe(0);
  });
});

describe('DriftTransform', () => {
  const tx = {
    user_id: 'u1',
    type: 'PAYMENT',
    amount: 1000,
    old_balance: 5000,
    new_balance: 4000,
    hour: 20,
    merchant_risk: 0.5,
  };

  it('reads valid ranges from the Transaction schema', () => {
    expect(transactionNumericRanges()).toMatchObject({
      amount: { min: 0, max: 10_000_000, integer: false },
      hour: { min: 0, max: 23, integer: true },
    });
  });

  it('shift with a step profile, clamped to the schema', () => {
    const d = new DriftTransform({ kind: 'shift', feature: 'merchant_risk', delta: 0.7, startMs: 1000 });
    expect(d.apply(tx, 999)).toBe(tx);
    const out = d.apply(tx, 1000);
    expect(out.merchant_risk).toBe(1);
    expect(tx.merchant_risk).toBe(0.5); // input not mutated
    expect(Transaction.safeParse(out).success).toBe(true);
  });

  it('scale with a linear ramp; integer fields stay integers', () => {
    const d = new DriftTransform({
      kind: 'scale',
      feature: 'amount',
      factor: 3,
      startMs: 0,
      profile: { kind: 'ramp', durationMs: 1000 },
    });
    expect(d.apply(tx, 0).amount).toBe(1000);
    expect(d.apply(tx, 500).amount).toBe(2000);
    expect(d.apply(tx, 1000).amount).toBe(3000);
    expect(d.apply(tx, 5000).amount).toBe(3000);
    const h = new DriftTransform({
      kind: 'shift',
      feature: 'hour',
      delta: 7.4,
      startMs: 0,
      profile: { kind: 'ramp', durationMs: 100 },
    });
    expect(h.apply(tx, 50).hour).toBe(23); // 20 + 3.7 → 24 → clamped to 23
    const h2 = new DriftTransform({
      kind: 'shift',
      feature: 'hour',
      delta: -7.4,
      startMs: 0,
      profile: { kind: 'ramp', durationMs: 100 },
    });
    expect(h2.apply(tx, 50).hour).toBe(16);
  });

  it('category swap: seeded, proportional to intensity × fraction', () => {
    const mk = () =>
      new DriftTransform({
        kind: 'category-swap',
        feature: 'type',
        mapping: { PAYMENT: 'TRANSFER' },
        fraction: 0.5,
        seed: 3,
        startMs: 0,
      });
    const a = mk();
    const b = mk();
    const seqA = Array.from({ length: 2000 }, () => a.apply(tx, 10).type);
    const seqB = Array.from({ length: 2000 }, () => b.apply(tx, 10).type);
    expect(seqA).toEqual(seqB);
    const swapped = seqA.filter((t) => t === 'TRANSFER').length;
    expect(swapped).toBeGreaterThan(850);
    expect(swapped).toBeLessThan(1150);
    expect(a.apply({ ...tx, type: 'DEBIT' }, 10).type).toBe('DEBIT');
  });

  it('rejects drifts that would leave the schema', () => {
    expect(() => new DriftTransform({ kind: 'shift', feature: 'user_id', delta: 1, startMs: 0 })).toThrow(
      /numeric/,
    );
    expect(
      () =>
        new DriftTransform({
          kind: 'category-swap',
          feature: 'type',
          mapping: { PAYMENT: 'BITCOIN' },
          startMs: 0,
        }),
    ).toThrow(/BITCOIN/);
    expect(
      () =>
        new DriftTransform({
          kind: 'scale',
          feature: 'amount',
          factor: 2,
          startMs: 0,
          profile: { kind: 'ramp', durationMs: 0 },
        }),
    ).toThrow(/ramp/);
  });

  it('composes', () => {
    const f = composeTransforms(
      new DriftTransform({ kind: 'shift', feature: 'amount', delta: 10, startMs: 0 }).apply,
      undefined,
      new DriftTransform({ kind: 'scale', feature: 'amount', factor: 2, startMs: 0 }).apply,
    );
    expect(f(tx, 1).amount).toBe(2020);
  });
});
