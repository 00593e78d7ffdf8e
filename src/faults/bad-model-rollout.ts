import { nowMs } from '../load/clock.ts';
import { RegistryClient } from '../pipeline/registry/client.ts';
import { CHAMPION_ALIAS, PRIMARY_MODEL } from '../pipeline/schema.ts';
import { type Fault, http } from './fault.ts';

export interface RolloutSpec {
  degradation: 'skewed' | 'inverted' | 'broken';
  via?: 'promote' | 'canary';
  steps?: number[];
}

/** Registers a deliberately degraded model version and rolls it out, as a careless release would. */
export const badModelRollout: Fault<'bad-model-rollout', RolloutSpec> = {
  type: 'bad-model-rollout',
  fromScenario: (f) => ({ degradation: f.degradation, via: f.via, steps: f.steps }),
  async prepare(spec, ctx) {
    const { registry, adminToken, controller } = ctx.endpoints;
    const client = new RegistryClient({ url: registry, token: adminToken });
    const current = await client.getAlias(PRIMARY_MODEL, CHAMPION_ALIAS);
    if (!current)
      throw new Error(`bad-model-rollout: ${PRIMARY_MODEL} has no "${CHAMPION_ALIAS}" alias to degrade`);
    // The degraded version is registered up front (it is inert until promoted) so the undo record names it.
    const made = await ctx.trainer(`degraded:${spec.degradation}`);
    const version = String(made.version ?? '');
    if (!version)
      throw new Error(
        `bad-model-rollout: the trainer did not report the degraded version (${JSON.stringify(made)})`,
      );
    const via = spec.via ?? 'promote';
    return {
      undo: {
        kind: 'alias',
        model: PRIMARY_MODEL,
        alias: CHAMPION_ALIAS,
        previous: current.version,
        injected: version,
      },
      plan: { degradation: spec.degradation, via, from_version: current.version, to_version: version },
      inject: async () => {
        // Alias moved: the registry may serve the new alias (and a replica reload it) before the call returns.
        const t0 = nowMs();
        if (via === 'promote') await client.setAlias(PRIMARY_MODEL, CHAMPION_ALIAS, version);
        else
          await http(
            'POST',
            `${controller}/v1/canary`,
            { version, ...(spec.steps ? { steps: spec.steps } : {}) },
            adminToken,
          );
        return { t0, details: { version } };
      },
    };
  },
};
