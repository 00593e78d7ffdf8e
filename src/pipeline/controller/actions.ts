// Acting on the decisions of rules.ts (which decides every alert, rollback and retrain): fire and
// resolve alerts, move the champion alias back (auto-rollback), start the retrain job. Each outcome
// becomes an event, a metric and a log line.
import type { Logger } from 'pino';
import type { RegistryClient } from '../registry/client.ts';
import { CHAMPION_ALIAS } from '../schema.ts';
import type { EventLog } from './events.ts';
import type { ControllerMetrics } from './metrics.ts';
import type { RetrainJob } from './retrain.ts';
import { type Action, ALERT_NAMES, type ControllerState, rollbackFailed, type Thresholds } from './rules.ts';

export interface ActionDeps {
  registry: RegistryClient;
  modelName: string;
  t: Thresholds;
  events: EventLog;
  metrics: Pick<ControllerMetrics, 'alerts' | 'rollbacks'>;
  log: Logger;
  retrain: RetrainJob;
}

/**
 * Carries out one action of an evaluation. Returns the controller state to continue with: `state`
 * itself, or, when the rollback's alias write failed, the state that lets the next breach retry it.
 */
export async function execute(
  a: Action,
  now: number,
  state: ControllerState,
  deps: ActionDeps,
): Promise<ControllerState> {
  const { registry, modelName, t, events, metrics: m, log } = deps;
  switch (a.type) {
    case 'alert': {
      m.alerts.inc({ name: a.name });
      events.append(
        {
          type: 'alert',
          reason: a.reason,
          from_version: a.version,
          to_version: a.to_version ?? null,
          details: {
            name: a.name,
            rule: a.rule ?? null,
            value: a.value,
            threshold: a.threshold,
            window_s: t.windowS,
            ...a.details,
          },
        },
        now,
      );
      log.warn({ alert: a.name, value: a.value, threshold: a.threshold, version: a.version }, 'alert');
      return state;
    }
    case 'alert_resolved':
      events.append(
        {
          type: 'alert_resolved',
          reason: a.rule,
          from_version: a.version,
          details: { name: a.name, rule: a.rule, value: a.value, threshold: a.threshold },
        },
        now,
      );
      log.info({ alert: a.name }, 'alert resolved');
      return state;
    case 'good':
      log.info({ version: a.version, previous: a.previous }, 'version is now the last good version');
      return state;
    case 'rollback': {
      try {
        await registry.setAlias(modelName, CHAMPION_ALIAS, a.to);
      } catch (e) {
        m.alerts.inc({ name: 'RollbackFailed' });
        events.append(
          {
            type: 'alert',
            reason: 'rollback_failed',
            from_version: a.from,
            to_version: a.to,
            details: { name: 'RollbackFailed', rule: a.rule, error: (e as Error).message },
          },
          Date.now(),
        );
        log.error({ err: (e as Error).message, from: a.from, to: a.to }, 'rollback failed');
        return rollbackFailed(state, a.from);
      }
      m.rollbacks.inc({ reason: a.rule });
      events.append(
        {
          type: 'rollback',
          reason: a.rule,
          from_version: a.from,
          to_version: a.to,
          details: {
            rule: a.rule,
            alert: ALERT_NAMES[a.rule],
            value: a.value,
            threshold: a.threshold,
            window_s: t.windowS,
            breach_evaluations: t.breachEvaluations,
            cooldown_until: new Date(state.cooldownUntil).toISOString(),
            breaching: a.breaching.map((r) => ({
              rule: r.rule,
              value: r.value,
              threshold: r.threshold,
              samples: r.samples,
            })),
          },
        },
        Date.now(),
      );
      log.warn({ from: a.from, to: a.to, rule: a.rule, value: a.value }, 'rolled back champion');
      return state;
    }
    case 'retrain':
      deps.retrain.trigger(a, now);
      return state;
  }
}
