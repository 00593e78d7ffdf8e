// The controller's own Prometheus metrics. Names and labels are part of its documented interface
// (README.md), so they are declared in one place; each module receives only the ones it updates.
import client from 'prom-client';
import { RULES } from './rules.ts';

export type ControllerMetrics = ReturnType<typeof createMetrics>;

/** Registers the metrics and zero-fills the known label values so dashboards see them before any event. */
export function createMetrics(registry: client.Registry, targetNames: string[]) {
  const registers = [registry];
  const m = {
    rollbacks: new client.Counter({
      name: 'controller_rollbacks_total',
      help: 'Champion alias moved back to the last good version, by rule',
      labelNames: ['reason'],
      registers,
    }),
    alerts: new client.Counter({
      name: 'controller_alerts_total',
      help: 'Alerts fired, by name',
      labelNames: ['name'],
      registers,
    }),
    evaluations: new client.Counter({
      name: 'controller_evaluations_total',
      help: 'Evaluation rounds completed',
      registers,
    }),
    scrapeErrors: new client.Counter({
      name: 'controller_scrape_errors_total',
      help: 'Failed scrapes and registry polls, by target',
      labelNames: ['target'],
      registers,
    }),
    breach: new client.Gauge({
      name: 'controller_breach',
      help: '1 while the rule is breached at the latest evaluation',
      labelNames: ['rule'],
      registers,
    }),
    ruleValue: new client.Gauge({
      name: 'controller_rule_value',
      help: 'Latest measured value of each rule (NaN without data)',
      labelNames: ['rule'],
      registers,
    }),
    promotions: new client.Counter({
      name: 'controller_promotions_total',
      help: 'Canaries promoted to champion',
      registers,
    }),
    canaryAborts: new client.Counter({
      name: 'controller_canary_aborts_total',
      help: 'Canaries aborted, by reason',
      labelNames: ['reason'],
      registers,
    }),
    retrains: new client.Counter({
      name: 'controller_retrains_total',
      help: 'Retrain triggers, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    canaryWeight: new client.Gauge({
      name: 'controller_canary_weight',
      help: 'Canary weight the controller last set on the gateway',
      registers,
    }),
  };
  for (const r of RULES) {
    m.breach.set({ rule: r }, 0);
    m.rollbacks.inc({ reason: r }, 0);
  }
  for (const name of targetNames) m.scrapeErrors.inc({ target: name }, 0);
  m.scrapeErrors.inc({ target: 'registry' }, 0);
  return m;
}
