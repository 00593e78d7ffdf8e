import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readJournal } from '../src/journal/journal.ts';
import { nowMs } from '../src/load/clock.ts';
import { LocalPlatform } from '../src/platforms/local/local-platform.ts';
import { FaultProxy } from '../src/platforms/local/proxy.ts';
import type { PipelineEndpoints, Platform, StartedPlatform } from '../src/platforms/platform.ts';
import type { Progress } from '../src/runner/progress.ts';
import { runScenario } from '../src/runner/run.ts';
import { ScenarioSchema } from '../src/scenario/schema.ts';
import { tempHome } from './helpers/cli.ts';

// A blackholed gateway, end to end: the real local pipeline behind the project's own TCP fault proxy,
// whose `timeout` toxic (timeout 0) holds every response forever, on live keep-alive connections
// and new ones alike. No request completes, so no record arrives; the abort must fire anyway.

const home = tempHome('faultline-hang-');
process.env.FAULTLINE_HOME = home;
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

/** The local platform with a fault proxy in front of its gateway, which the test can blackhole. */
class BlackholeableGateway implements Platform, StartedPlatform {
  readonly name = 'local' as const;
  readonly inner: LocalPlatform;
  proxy?: FaultProxy;
  private ep?: PipelineEndpoints;
  constructor(inner: LocalPlatform) {
    this.inner = inner;
  }
  get record() {
    return this.inner.record;
  }
  async start(): Promise<this> {
    const { endpoints: ep } = await this.inner.start();
    this.proxy = new FaultProxy({
      name: 'client->gateway',
      listen: '127.0.0.1:0',
      upstream: new URL(ep.gateway).host,
    });
    await this.proxy.start();
    this.ep = { ...ep, gateway: `http://127.0.0.1:${this.proxy.listenPort}` };
    return this;
  }
  get endpoints(): PipelineEndpoints {
    return this.ep ?? this.inner.endpoints;
  }
  /** Holds every byte from the gateway to the client from now on: responses never arrive. */
  blackhole(): void {
    this.proxy!.addToxic({ type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
  }
  replicas: StartedPlatform['replicas'] = (s) => this.inner.replicas(s);
  kill: StartedPlatform['kill'] = (s, o) => this.inner.kill(s, o);
  stopService: StartedPlatform['stopService'] = (s) => this.inner.stopService(s);
  startService: StartedPlatform['startService'] = (s) => this.inner.startService(s);
  runJob: StartedPlatform['runJob'] = (j) => this.inner.runJob(j);
  metrics: StartedPlatform['metrics'] = () => this.inner.metrics();
  onEvent: StartedPlatform['onEvent'] = (l) => this.inner.onEvent(l);
  async stop(): Promise<void> {
    await this.proxy?.close();
    await this.inner.stop();
  }
}

describe('abort conditions see hung requests (blackholed gateway)', () => {
  it('a total hang trips `error_rate > 50% for 5s` within 5 s + 2 s; the run ends aborted with every fault reverted', async () => {
    const scenario = ScenarioSchema.parse({
      apiVersion: 'faultline/v1',
      kind: 'Scenario',
      metadata: { name: 'gateway-hang' },
      spec: {
        load: { rate: '50/s', duration: '60s', seed: 5 },
        warmup: '2s',
        faults: [
          // A real fault that is still active when the abort fires: it must be reverted.
          {
            type: 'latency',
            at: '3s',
            duration: '50s',
            link: 'model-server->feature-server',
            latency: '5ms',
          },
        ],
        checks: ['availability >= 99% during fault'],
        abort: ['error_rate > 50% for 5s'],
      },
    });
    const dir = path.join(home, 'run', 'gateway-hang');
    fs.mkdirSync(dir, { recursive: true });
    let platform: BlackholeableGateway | undefined;
    let hangAt: number | undefined;
    const events: string[] = [];
    const progress: Progress = {
      scenario: () => {},
      phase: (p) => events.push(`phase ${p}`),
      event: (msg) => {
        events.push(msg);
        // 3 s of healthy traffic under the fault, then the gateway goes dark.
        if (msg.startsWith('injecting latency'))
          setTimeout(() => {
            platform!.blackhole();
            hangAt = nowMs();
          }, 3000);
      },
      attach: () => {},
      detach: () => {},
    };
    const report = await runScenario(scenario, {
      file: 'gateway-hang.yaml',
      dir,
      runDir: path.join(home, 'run'),
      progress,
      signal: new AbortController().signal,
      platformFactory: (o) => {
        platform = new BlackholeableGateway(new LocalPlatform(o));
        return platform;
      },
    });

    expect(report.verdict, events.join('\n')).toBe('aborted');
    expect(report.reason).toBe('abort condition met: error_rate > 50% for 5s');
    expect(hangAt).toBeDefined();
    const abortAt = report.markers.find((m) => m.kind === 'abort')!.t;
    // The condition must have held for 5 s of traffic, and fire within 5 s + the 2 s request timeout.
    // Only the runner's own measured stalls (event-loop delay) may stretch that, never machine speed
    // as such.
    const stall = report.harness?.loopDelayMaxMs ?? 0;
    const took = `abort ${Math.round(abortAt - hangAt!)} ms after the hang (runner stall max ${Math.round(stall)} ms)`;
    expect(abortAt - hangAt!, took).toBeGreaterThanOrEqual(5000);
    expect(abortAt - hangAt!, took).toBeLessThanOrEqual(5000 + 2000 + stall);
    // No request was answered after the hang: the abort judged requests that never completed.
    const answered = report.timeline.filter((p) => p.t >= hangAt! + 1000).reduce((a, p) => a + p.ok, 0);
    expect(answered).toBe(0);
    // Everything reverted.
    expect(report.faults).toHaveLength(1);
    expect(report.faults[0].revertedAt).toBeGreaterThanOrEqual(abortAt);
    const journal = readJournal(path.join(dir, 'journal.ndjson'));
    expect(journal.filter((e) => e.type === 'fault.reverted')).toHaveLength(1);
    expect(journal.some((e) => e.type === 'fault.revert.failed')).toBe(false);
    // The checks of an aborted run are still evaluated; the fault-phase availability fails.
    expect(report.checks.find((c) => c.check === 'availability >= 99% during fault')?.passed).toBe(false);
  }, 240_000);
});
