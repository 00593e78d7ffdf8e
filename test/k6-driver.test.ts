// The k6 load driver on its own (src/load/k6/driver.ts), run against the TEST-ONLY k6 stand-in
// (test/fixtures/k6-standin/, NOT k6) and a small HTTP server answering like the gateway: records
// stream in while the "k6" process runs, the schedule start is recovered exactly from the records,
// and stop() ends it early through SIGINT as k6 is stopped.
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RequestRecord } from '../src/load/driver.ts';
import { createLoadDriver } from '../src/load/factory.ts';
import type { K6LoadDriver } from '../src/load/k6/driver.ts';
import { ArrivalSchedule } from '../src/load/portable.ts';
import { loadScenarioFile } from '../src/scenario/load.ts';
import { ROOT, tempHome } from './helpers/cli.ts';

const STANDIN = path.join(ROOT, 'test/fixtures/k6-standin/k6');
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function gateway(): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-upstream', 'model-server-0');
      res.end(
        JSON.stringify({ model_version: '7', score: 0.12, decision: 'approve', fallback: { used: false } }),
      );
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function driverFor(rate: number, durationS: number) {
  const home = tempHome('faultline-k6-driver-');
  const file = path.join(home, 's.yaml');
  fs.writeFileSync(
    file,
    `apiVersion: faultline/v1\nkind: Scenario\nmetadata: { name: d }\nspec:\n  load: { driver: k6, rate: ${rate}/s, duration: ${durationS}s, seed: 4 }\n  warmup: 1s\n`,
  );
  const l = await loadScenarioFile(file);
  if (!l.ok) throw new Error(JSON.stringify(l.errors));
  const url = await gateway();
  const events: [string, Record<string, unknown>][] = [];
  const d = createLoadDriver('k6', {
    url,
    rate,
    durationMs: durationS * 1000,
    seed: 4,
    keepRecords: true,
    k6: {
      scenario: l.value.scenario,
      scenarioFile: file,
      workDir: home,
      bin: STANDIN,
      events: (t, x) => events.push([t, x]),
    },
  }) as unknown as K6LoadDriver;
  return { d, events, schedule: new ArrivalSchedule({ rate, durationMs: durationS * 1000 }) };
}

describe('K6LoadDriver (against the test-only stand-in, not k6)', () => {
  it('streams records while k6 runs and recovers the exact schedule start', async () => {
    const { d, events, schedule } = await driverFor(40, 2);
    const seen: RequestRecord[] = [];
    d.onRecord((r) => seen.push(r));
    await d.start();
    // start() returned on the first record, before the load was over.
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(80);
    const result = await d.done;
    expect(result.requests).toBe(80);
    expect(result.ok).toBe(80);
    expect(result.records).toHaveLength(80);
    expect(seen.map((r) => r.seq).sort((a, b) => a - b)).toEqual([...Array(80).keys()]);
    for (const r of seen) {
      expect(r).toMatchObject({
        status: 200,
        outcome: 'ok',
        modelVersion: '7',
        upstream: 'model-server-0',
        score: 0.12,
      });
      expect(r.tIntended - schedule.offset(r.seq)!).toBeCloseTo(d.scheduleStart!, 6);
    }
    expect(result.startedAt).toBe(d.scheduleStart);
    expect(events.map(([t]) => t)).toEqual(['load.k6.start', 'load.k6.exit']);
    expect(events[1][1]).toMatchObject({ code: 0, thresholds_crossed: false, stopped_by_faultline: false });
  });

  it('stop() ends the run early through SIGINT and keeps what k6 wrote', async () => {
    const { d, events } = await driverFor(40, 30);
    await d.start();
    await new Promise((r) => setTimeout(r, 500));
    await d.stop();
    const result = await d.done;
    expect(result.stoppedEarly).toBe(true);
    expect(result.requests).toBeGreaterThan(0);
    expect(result.requests).toBeLessThan(1200);
    expect(events.at(-1)?.[1]).toMatchObject({ stopped_by_faultline: true });
  });
});
