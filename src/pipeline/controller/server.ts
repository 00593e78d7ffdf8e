// The operator: scrapes gateway and model-server metrics every evaluation interval, polls the registry
// champion, and acts on the decisions of rules.ts — auto-rollback, alerts, retrain trigger — plus
// canary analysis on request. Everything it does is published as events (SSE / long-poll / NDJSON).
// This file only wires the parts together: README.md ("Code") says which module holds what.
import type { Mechanism } from '../common/config.ts';
import { createService } from '../common/service.ts';
import { RegistryClient } from '../registry/client.ts';
import { PRIMARY_MODEL } from '../schema.ts';
import type { ActionDeps } from './actions.ts';
import { Canary } from './canary.ts';
import { EventLog } from './events.ts';
import { registerRoutes } from './http.ts';
import { EvaluationLoop } from './loop.ts';
import { ChampionPoll, Measurement, scrapeTargets } from './measure.ts';
import { createMetrics } from './metrics.ts';
import { RetrainJob } from './retrain.ts';
import { DEFAULT_THRESHOLDS, type Thresholds } from './rules.ts';

export interface ControllerConfig {
  port?: number;
  host?: string;
  registryUrl: string;
  gatewayUrl?: string;
  modelServerUrls: string[];
  adminToken?: string;
  disabled?: Set<Mechanism>;
  evalIntervalMs?: number;
  thresholds?: Partial<Thresholds>;
  eventsFile?: string;
  /** argv of the trainer job spawned on persistent drift. */
  retrainCommand?: string[];
  retrainTimeoutMs?: number;
  modelName?: string;
  scrapeTimeoutMs?: number;
  /** Canary defaults when POST /v1/canary omits them. */
  canarySteps?: number[];
  canaryStepSeconds?: number;
  eventCapacity?: number;
}

export interface ControllerHandle {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function start(config: ControllerConfig): Promise<ControllerHandle> {
  const t: Thresholds = { ...DEFAULT_THRESHOLDS, ...config.thresholds };
  const evalMs = config.evalIntervalMs ?? 1000;
  const modelName = config.modelName ?? PRIMARY_MODEL;
  const rollbackDisabled = config.disabled?.has('rollback') ?? false;
  const scrapeTimeoutMs = config.scrapeTimeoutMs ?? Math.max(200, Math.round(evalMs * 0.8));
  const gatewayUrl = config.gatewayUrl?.replace(/\/+$/, '');
  const registry = new RegistryClient({
    url: config.registryUrl,
    token: config.adminToken,
    timeoutMs: Math.max(1000, scrapeTimeoutMs),
  });

  const targets = scrapeTargets(gatewayUrl, config.modelServerUrls);

  const shutdown = new AbortController();
  const svc = createService({
    name: 'controller',
    port: config.port,
    host: config.host,
    ready: () => loop.evaluatedOnce,
    // Also reached through the skeleton's own SIGTERM handling, which bypasses close() below.
    onShutdown: () => stopWork(),
  });
  const log = svc.log;
  if (!config.adminToken)
    log.warn('ADMIN_TOKEN is not set: canary endpoints are open to anyone who can reach this port');

  const m = createMetrics(
    svc.metrics,
    targets.map((x) => x.name),
  );

  const events = new EventLog({ file: config.eventsFile, modelName, capacity: config.eventCapacity });
  const measurement = new Measurement({ targets, scrapeTimeoutMs, scrapeErrors: m.scrapeErrors });
  const champions = new ChampionPoll({ registry, modelName, scrapeErrors: m.scrapeErrors, log });
  const retrain = new RetrainJob({
    command: config.retrainCommand,
    timeoutMs: config.retrainTimeoutMs,
    threshold: t.retrainPsi,
    events,
    retrains: m.retrains,
  });
  const canary = new Canary({
    registry,
    modelName,
    gatewayUrl,
    adminToken: config.adminToken,
    measurement,
    t,
    evalMs,
    defaultSteps: config.canarySteps,
    defaultStepSeconds: config.canaryStepSeconds,
    events,
    metrics: m,
    log,
  });
  const actionDeps: ActionDeps = { registry, modelName, t, events, metrics: m, log, retrain };

  const loop = new EvaluationLoop({
    t,
    evalMs,
    rollbackDisabled,
    measurement,
    champions,
    actions: actionDeps,
    canary,
    metrics: m,
    log,
    signal: shutdown.signal,
  });
  registerRoutes(svc, {
    modelName,
    registryUrl: config.registryUrl,
    hasGateway: Boolean(gatewayUrl),
    rollbackDisabled,
    t,
    adminToken: config.adminToken,
    events,
    shutdown: shutdown.signal,
    evaluation: loop,
    measurement,
    champions,
    canary,
  });

  function stopWork() {
    shutdown.abort();
    loop.stop();
    retrain.stop();
  }
  // Registered before listen() so it runs before the skeleton's handler closes the server: open SSE
  // streams and long-polls end first instead of waiting out the connection grace period.
  const onSignal = () => shutdown.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  const port = await svc.listen();
  loop.schedule(0);
  const host = config.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    async close() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      stopWork();
      await loop.done;
      await svc.close();
    },
  };
}
