// The acceptance expectations of pipeline-local.test.ts FAILING with the resilience mechanisms
// switched off (FAULTLINE_DISABLE): proof that each check there can fail, and that what makes it
// pass is the mechanism. Two pipelines, each with mechanisms whose negative tests do not interfere:
// - restart, retries, rollback: a pod kill gives client errors and the replica stays dead; a bad
//   rollout stays champion (the controller only alerts).
// - fallback, ejection: a feature-store outage gives 503s; a replica whose link is down is never
//   ejected.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  between,
  controllerEvents,
  describeErrors,
  failed,
  gatewayAttempts,
  gatewayUpstream,
  getJson,
  isAlive,
  isPrimary,
  type LoadRun,
  type Pipeline,
  PRIMARY,
  sleep,
  startLoad,
  startPipeline,
  toxiproxy,
  trainDegraded,
  waitFor,
  waitPrimaryAgain,
  waitSteady,
} from './pipeline-local.shared.ts';

async function metric(url: string, re: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = re.exec(text);
  if (!m) throw new Error(`${url}/metrics has no sample matching ${re}`);
  return Number(m[1]);
}

describe('restart, retries and rollback switched off', () => {
  let pl: Pipeline;
  let load: LoadRun | undefined;

  beforeAll(async () => {
    pl = await startPipeline({ replicas: 2, disabled: ['restart', 'retries', 'rollback'] });
  }, 120_000);

  afterEach(async () => {
    await load?.driver.stop();
    load = undefined;
  });

  afterAll(async () => {
    await load?.driver.stop();
    await pl?.stop();
  }, 60_000);

  it('pod kill: without retries clients see errors; without restart the replica stays dead', async () => {
    const { ep, platform } = pl;
    expect((await getJson(`${ep.gateway}/v1/upstreams`)).body.disabled).toContain('retries');
    load = await startLoad(ep, { rate: 50, durationMs: 60_000, seed: 2 });
    const from = await waitSteady(load);
    const failedBefore = (await gatewayAttempts(ep.gateway)).failedAttempts;
    const killedAt = Date.now();
    const [victim] = await platform.kill('model-server', { count: 1, signal: 'SIGKILL', pick: () => 0 });
    // No replacement: watch for 5 s (the default platform replaced it within about a second).
    await sleep(5000);
    await load.driver.stop();
    const recs = ((await load.done).records ?? []).filter((r) => r.tIntended >= from);
    load = undefined;
    const errors = recs.filter(failed);
    console.log(
      `pod kill without retries/restart: ${recs.length} requests, ${errors.length} errors ${describeErrors(recs)}`,
    );
    expect(errors.length).toBeGreaterThan(0);
    // The errors are the kill's (steady state held before it; 2 s is the client's request timeout).
    expect(errors.filter((r) => r.tIntended < killedAt - 2000)).toEqual([]);
    // Nothing was retried: every failed upstream attempt reached a client.
    expect(await metric(ep.gateway, /^gateway_retries_total (\S+)$/m)).toBe(0);
    const attemptsFailed = (await gatewayAttempts(ep.gateway)).failedAttempts - failedBefore;
    expect(attemptsFailed).toBeGreaterThan(0);
    expect(errors.length).toBeGreaterThanOrEqual(attemptsFailed);

    expect(
      pl.events.filter((e) => e.type === 'replica-started' && e.name === victim.name && e.ts_ms >= killedAt),
    ).toEqual([]);
    expect(isAlive(victim.pid as number)).toBe(false);
    const now = (await platform.replicas('model-server')).find((r) => r.name === victim.name);
    expect(now?.pid).toBeUndefined();
    expect(now?.state).toBe('stopped');
    await expect(
      fetch(`${ep.modelServers[0]}/readyz`, { signal: AbortSignal.timeout(2000) }),
    ).rejects.toThrow();

    // Starting the service by hand still works (and gives the next test both replicas).
    await platform.startService('model-server');
    const started = pl.events.find(
      (e) => e.type === 'replica-started' && e.name === victim.name && e.ts_ms >= killedAt,
    );
    expect(started?.pid).not.toBe(victim.pid);
  }, 120_000);

  it('bad model rollout with rollback off: the degraded version stays champion, the controller only alerts', async () => {
    const { ep, registry } = pl;
    expect((await registry.getAlias(PRIMARY, 'champion'))?.version).toBe('2');
    const degraded = await trainDegraded(ep, 'skewed');
    const since = (await controllerEvents(ep)).at(-1)?.seq ?? 0;
    load = await startLoad(ep, { rate: 40, durationMs: 120_000, seed: 5 });
    await waitSteady(load);
    const promotedAt = Date.now();
    await registry.setAlias(PRIMARY, 'champion', degraded);
    // The controller says when it would have rolled back: the RollbackSuppressed alert.
    const suppressed = await waitFor(
      'a RollbackSuppressed alert',
      async () =>
        (await controllerEvents(ep, since)).find(
          (e) => e.type === 'alert' && e.details?.name === 'RollbackSuppressed',
        ),
      60_000,
      250,
    );
    console.log(
      `rollback suppressed ${Date.now() - promotedAt} ms after the promotion: ${JSON.stringify(suppressed)}`,
    );
    expect(suppressed).toMatchObject({
      from_version: degraded,
      to_version: '2',
      reason: 'rollback_disabled',
    });
    // Several more evaluations later the degraded version still serves.
    await sleep(4000);
    expect((await registry.getAlias(PRIMARY, 'champion'))?.version).toBe(degraded);
    const events = await controllerEvents(ep, since);
    expect(events.filter((e) => e.type === 'rollback')).toEqual([]);
    expect(
      load.live
        .filter((r) => r.tIntended > Date.now() - 2000 && isPrimary(r))
        .every((r) => r.modelVersion === degraded),
    ).toBe(true);
  }, 120_000);

  it('stops without leaving a process behind', async () => {
    const pids = pl.pids();
    await pl.stop();
    expect(pids.filter(isAlive)).toEqual([]);
  });
});

describe('fallback and ejection switched off', () => {
  let pl: Pipeline;
  let load: LoadRun | undefined;

  beforeAll(async () => {
    pl = await startPipeline({ replicas: 2, disabled: ['fallback', 'ejection'] });
  }, 120_000);

  afterEach(async () => {
    await load?.driver.stop();
    load = undefined;
    if (!pl || pl.stopped) return;
    await toxiproxy(pl.ep, 'POST', '/reset');
    await pl.platform.startService('feature-server');
  }, 60_000);

  afterAll(async () => {
    await load?.driver.stop();
    await pl?.stop();
  }, 60_000);

  it('a replica whose link is down is never ejected', async () => {
    const { ep } = pl;
    const link = 'gateway->model-server-0';
    load = await startLoad(ep, { rate: 40, durationMs: 120_000, seed: 7 });
    await waitSteady(load);
    await toxiproxy(ep, 'POST', `/proxies/${link}`, { enabled: false });
    let maxFailures = 0;
    try {
      // The default pipeline ejected it within a second or so; watch for 6 s.
      const until = Date.now() + 6000;
      while (Date.now() < until) {
        const u = await gatewayUpstream(ep, '0');
        expect(u?.ejected).toBe(false);
        maxFailures = Math.max(maxFailures, u?.consecutive_failures ?? 0);
        await sleep(250);
      }
    } finally {
      await toxiproxy(ep, 'POST', `/proxies/${link}`, { enabled: true });
    }
    console.log(`ejection off: up to ${maxFailures} consecutive failures of upstream 0, never ejected`);
    // Far past the 3 consecutive failures that eject a replica when ejection is on.
    expect(maxFailures).toBeGreaterThan(3);
    expect(await metric(ep.gateway, /^gateway_ejections_total\{upstream="0"\} (\S+)$/m)).toBe(0);
    expect((await gatewayUpstream(ep, '0'))?.times_ejected).toBe(0);
  }, 120_000);

  it('feature-store outage without the fallback: clients get 503s', async () => {
    const { ep, platform } = pl;
    load = await startLoad(ep, { rate: 40, durationMs: 120_000, seed: 4 });
    await waitSteady(load);
    await platform.stopService('feature-server');
    const downAt = Date.now();
    await sleep(3000);
    const restartAt = Date.now();
    await platform.startService('feature-server');
    await waitPrimaryAgain(load, ep.modelServers.length, Date.now(), 20_000);
    await load.driver.stop();
    const recs = (await load.done).records ?? [];
    load = undefined;
    const outage = between(recs, downAt, restartAt);
    const errors = outage.filter(failed);
    console.log(
      `feature outage without fallback: ${outage.length} requests during the outage, errors ${describeErrors(outage)}`,
    );
    expect(outage.length).toBeGreaterThan(50);
    expect(errors.length).toBeGreaterThan(0);
    // Nothing is answered while the store is down: every request of the outage is a 503.
    for (const r of outage) {
      expect(r.outcome).toBe('error');
      expect(r.status).toBe(503);
    }
    expect(new Set(errors.map((r) => r.error))).toEqual(new Set(['FEATURES_UNAVAILABLE']));
  }, 120_000);

  it('stops without leaving a process behind', async () => {
    const pids = pl.pids();
    await pl.stop();
    expect(pids.filter(isAlive)).toEqual([]);
  });
});
