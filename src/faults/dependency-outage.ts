import type { ServiceName } from '../pipeline/topology.ts';
import type { Fault } from './fault.ts';

export interface OutageSpec {
  service: ServiceName;
}

/** Takes a dependency fully down (every replica) until the fault is reverted. */
export const dependencyOutage: Fault<'dependency-outage', OutageSpec> = {
  type: 'dependency-outage',
  fromScenario: (f) => ({ service: f.service }),
  async prepare(spec, ctx) {
    return {
      undo: { kind: 'service-stopped', service: spec.service },
      plan: { service: spec.service },
      inject: async () => {
        // Stop initiated, not completed: the service's graceful shutdown already fails requests.
        const { initiatedAt } = await ctx.platform.stopService(spec.service);
        return { t0: initiatedAt, details: { stopped: spec.service } };
      },
    };
  },
};
