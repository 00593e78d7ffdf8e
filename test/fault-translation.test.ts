// The fault list is expanded once (src/scenario/schedule.ts) and each fault kind translates its own
// validated scenario fault into its driver's spec (fromScenario in src/faults/*.ts).
import { describe, expect, it } from 'vitest';
import { FAULTS, linksToProxy } from '../src/faults/index.ts';
import { expandSchedule, plannedInjections } from '../src/scenario/schedule.ts';
import { FAULT_TYPES, type Fault, ScenarioSchema } from '../src/scenario/schema.ts';
import { parseRelativeChange } from '../src/scenario/units.ts';

const scenario = (faults: unknown[], duration = '60s') =>
  ScenarioSchema.parse({
    apiVersion: 'faultline/v1',
    kind: 'Scenario',
    metadata: { name: 'x' },
    spec: { load: { rate: '10/s', duration }, faults },
  });
const only = (f: unknown): Fault => scenario([{ at: '10s', ...(f as object) }]).spec.faults[0] as Fault;
const driverSpec = (f: Fault) => (FAULTS[f.type].fromScenario as (f: Fault) => unknown)(f);

describe('each fault kind translates its own scenario fault', () => {
  it('every fault type of the scenario format is registered under its own type', () => {
    expect(Object.keys(FAULTS).sort()).toEqual([...FAULT_TYPES].sort());
    for (const [type, kind] of Object.entries(FAULTS)) expect(kind.type).toBe(type);
  });

  it('drift: a relative amount is a scale by 1 + the change; a number stays as written', () => {
    const base = { type: 'drift', duration: '10s', feature: 'amount' };
    expect(driverSpec(only({ ...base, kind: 'shift', amount: '+50%' }))).toMatchObject({
      kind: 'scale',
      amount: 1.5,
    });
    expect(driverSpec(only({ ...base, kind: 'scale', amount: '-20%' }))).toMatchObject({
      kind: 'scale',
      amount: 0.8,
    });
    expect(driverSpec(only({ ...base, kind: 'shift', amount: 3 }))).toMatchObject({
      kind: 'shift',
      amount: 3,
    });
    expect(
      driverSpec(
        only({ ...base, kind: 'category-swap', from: 'a', to: 'b', profile: 'ramp', rampDuration: '4s' }),
      ),
    ).toMatchObject({ kind: 'category-swap', mapping: { a: 'b' }, profile: 'ramp', rampDurationMs: 4000 });
  });

  it('pod-kill: the schema gives a fraction, the driver counts in percent', () => {
    const f = only({ type: 'pod-kill', target: { service: 'model-server', percent: '50%' } });
    expect(driverSpec(f)).toEqual({
      target: { service: 'model-server', count: undefined, percent: 50 },
      signal: 'SIGKILL',
    });
  });

  it('relative changes parse in units.ts', () => {
    expect(parseRelativeChange('+50%')).toEqual({ ok: true, value: 0.5 });
    expect(parseRelativeChange('-12.5%')).toEqual({ ok: true, value: -0.125 });
    expect(parseRelativeChange('50').ok).toBe(false);
  });

  it('the links to proxy come from the faults that act on links, first mention first, once', () => {
    const s = scenario([
      { type: 'latency', at: '30s', link: 'model-server->registry', latency: '10ms', duration: '5s' },
      {
        at: '10s',
        parallel: [
          { type: 'latency', link: 'gateway->model-server', latency: '10ms', duration: '5s' },
          { type: 'dependency-outage', service: 'registry', duration: '5s' },
        ],
      },
      { type: 'latency', at: '40s', link: 'model-server->registry', toxic: 'down', duration: '5s' },
    ]);
    expect(linksToProxy(expandSchedule(s))).toEqual(['model-server->registry', 'gateway->model-server']);
  });
});

describe('the one expansion of the fault list', () => {
  it('the runner plans what starts before the load ends; a rollout without duration is held', () => {
    const s = scenario(
      [
        { type: 'bad-model-rollout', at: '5s', degradation: 'broken' },
        {
          type: 'latency',
          at: '10s',
          link: 'model-server->registry',
          latency: '10ms',
          duration: '2s',
          repeat: { every: '10s', times: 3 },
        },
      ],
      '25s',
    );
    expect(expandSchedule(s)).toHaveLength(4);
    const plan = plannedInjections(s);
    expect(plan.map((p) => [p.faultId, p.startMs, p.revertAtMs, p.windowEndMs])).toEqual([
      ['0#1', 5000, undefined, undefined],
      ['1#1', 10_000, 12_000, 12_000],
      ['1#2', 20_000, 22_000, 22_000],
    ]);
  });
});
