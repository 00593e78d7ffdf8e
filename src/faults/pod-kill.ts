import type { ServiceName } from '../pipeline/topology.ts';
import type { Fault } from './fault.ts';

export interface PodKillSpec {
  target: { service: ServiceName; count?: number; percent?: number };
  signal?: 'SIGKILL' | 'SIGTERM';
}

/** Kills replicas; the platform (supervisor, ReplicaSet, Docker) is what must bring them back. */
export const podKill: Fault<'pod-kill', PodKillSpec> = {
  type: 'pod-kill',
  fromScenario: (f) => ({
    target: {
      service: f.target.service,
      count: f.target.count,
      // The scenario's percent is a fraction (schema units); the driver counts in percent.
      percent: f.target.percent === undefined ? undefined : f.target.percent * 100,
    },
    signal: f.signal,
  }),
  async prepare(spec, ctx) {
    return {
      undo: { kind: 'none', reason: 'the platform replaces killed replicas' },
      plan: {
        service: spec.target.service,
        count: spec.target.count,
        percent: spec.target.percent,
        signal: spec.signal ?? 'SIGKILL',
      },
      inject: async () => {
        const victims = await ctx.platform.kill(spec.target.service, {
          count: spec.target.count,
          percent: spec.target.percent,
          signal: spec.signal ?? 'SIGKILL',
          pick: (n) => Math.floor(ctx.random() * n),
        });
        // Signal sent: the first victim's signal is when the fault starts acting.
        const t0 = Math.min(...victims.map((v) => v.signalledAt ?? Number.POSITIVE_INFINITY));
        if (!Number.isFinite(t0)) throw new Error('pod-kill: the platform did not say when it signalled');
        return { t0, details: { killed: victims.map((v) => ({ name: v.name, pid: v.pid })) } };
      },
    };
  },
};
