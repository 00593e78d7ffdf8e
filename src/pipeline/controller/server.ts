// The operator: scrapes gateway and model-server metrics every evaluation interval, polls the registry
// champion, and acts on the decisions of rules.ts — auto-rollback, alerts, retrain trigger — plus
// canary analysis on request. Everything it does is published as events (SSE / long-poll / NDJSON).
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Mechanism } from '../common/config.ts';
import { createService, HttpError, type Request } from '../common/service.ts';
import { parseBody } from '../common/validate.ts';
import { RegistryClient } from '../registry/client.ts';
import { PRIMARY_MODEL } from '../schema.ts';
import { type ActionDeps, execute } from './actions.ts';
import { Canary } from './canary.ts';
import { EventLog, eventsHandler } from './events.ts';
import { ChampionPoll, type Drift, Measurement, scrapeTargets } from './measure.ts';
import { createMetrics } from './metrics.ts';
import { RetrainJob } from './retrain.ts';
import {
  ALERT_NAMES,
  type ControllerState,
  DEFAULT_THRESHOLDS,
  initialState,
  type RuleResult,
  step,
  type Thresholds,
} from './rules.ts';

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

const CanaryRequest = z
  .object({
    version: z
      .union([z.string().regex(/^\d+$/, 'expected a version number'), z.number().int().positive()])
      .transform(String),
    steps: z.array(z.number().int().min(1).max(100)).min(1).max(20).optional(),
    step_seconds: z.number().positive().max(3600).optional(),
  })
  .strict();

export async function start(config: ControllerConfig): Promise<ControllerHandle> {
  const t: Thresholds = { ...DEFAULT_THRESHOLDS, ...config.thresholds };
  const evalMs = config.evalIntervalMs ?? 1000;
  const modelName = config.modelName ?? PRIMARY_MODEL;
  const rollbackDisabled = config.disabled?.has('rollback') ?? false;
  const scrapeTimeoutMs = config.scrapeTimeoutMs ?? Math.max(200, Math.round(evalMs * 0.8));
  const gatewayUrl = config.gatewayUrl?.replace(/\/+$/, '');
  const adminToken = config.adminToken ? Buffer.from(config.adminToken) : undefined;
  const registry = new RegistryClient({
    url: config.registryUrl,
    token: config.adminToken,
    timeoutMs: Math.max(1000, scrapeTimeoutMs),
  });

  const targets = scrapeTargets(gatewayUrl, config.modelServerUrls);

  let firstEvaluation = false;
  const shutdown = new AbortController();
  const svc = createService({
    name: 'controller',
    port: config.port,
    host: config.host,
    ready: () => firstEvaluation,
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

  let state: ControllerState = initialState();
  let lastResults: RuleResult[] = [];
  let evaluatedVersion: string | null = null;
  let lastEvaluationAt: number | null = null;
  let maxPsi: Drift | null = null;
  let timer: NodeJS.Timeout | undefined;
  let loopDone: Promise<void> = Promise.resolve();

  // ---- the loop ----

  async function evaluate() {
    const now = Date.now();
    const [, polled] = await Promise.all([measurement.scrapeAll(now), champions.poll()]);
    maxPsi = measurement.drift(now, t.windowS * 1000);
    // Decide with the champion the registry reports; when unreachable, with the one last seen.
    const champion = polled ?? state.champion;
    const lastGoodGuess =
      state.lastGood ?? (t.trustInitialChampion && state.champion === null ? champion : null);
    const out = step(
      state,
      {
        now,
        champion: polled,
        stats: champion ? measurement.versionStats(champion, t.windowS * 1000, now) : null,
        baseline: lastGoodGuess ? measurement.baseline(lastGoodGuess) : null,
        maxPsi: maxPsi?.value ?? null,
        psiFeature: maxPsi?.feature,
      },
      t,
      { rollbackDisabled },
    );
    evaluatedVersion = champion;
    state = out.state;
    lastResults = out.results;
    for (const r of out.results) {
      m.breach.set({ rule: r.rule }, r.status === 'breach' ? 1 : 0);
      m.ruleValue.set({ rule: r.rule }, r.value ?? Number.NaN);
    }
    for (const a of out.actions) state = await execute(a, now, state, actionDeps);
    await canary.advance(now, state);
    m.evaluations.inc();
    lastEvaluationAt = now;
    firstEvaluation = true;
  }

  function schedule(delay: number) {
    if (shutdown.signal.aborted) return;
    timer = setTimeout(() => {
      const started = Date.now();
      loopDone = evaluate()
        .catch((e) => log.error({ err: e }, 'evaluation failed'))
        .finally(() => schedule(Math.max(0, evalMs - (Date.now() - started))));
    }, delay);
  }

  // ---- HTTP ----

  function requireAdmin(req: Request) {
    if (!adminToken) return;
    const header = String(req.headers.authorization ?? '');
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m)
      throw new HttpError(
        401,
        'UNAUTHENTICATED',
        'authorization: a bearer token is required for this endpoint',
      );
    const given = Buffer.from(m[1].trim());
    if (given.length !== adminToken.length || !timingSafeEqual(given, adminToken)) {
      throw new HttpError(403, 'PERMISSION_DENIED', 'authorization: the bearer token is not valid');
    }
  }

  const iso = (ms: number | null) => (ms === null || ms === 0 ? null : new Date(ms).toISOString());

  svc.rawRoute('GET', '/v1/events', eventsHandler(events, shutdown.signal));

  svc.route('GET', '/v1/state', () => {
    const now = Date.now();
    return {
      model_name: modelName,
      champion: state.champion,
      champion_since: iso(state.championSince),
      last_good: state.lastGood,
      cooldown_until: state.cooldownUntil > now ? iso(state.cooldownUntil) : null,
      rollback_disabled: rollbackDisabled,
      // The rules below were judged on this version (before any rollback that evaluation made).
      evaluated_version: evaluatedVersion,
      breaching: lastResults.filter((r) => r.status === 'breach').map((r) => r.rule),
      rules: lastResults.map((r) => ({
        rule: r.rule,
        alert: ALERT_NAMES[r.rule],
        status: r.status,
        value: r.value,
        threshold: Number.isFinite(r.threshold) ? r.threshold : null,
        samples: r.samples,
        breach_streak: state.rules[r.rule].breachStreak,
        firing: state.rules[r.rule].firing,
        details: r.details ?? {},
      })),
      drift: {
        max_psi: maxPsi?.value ?? null,
        feature: maxPsi?.feature ?? null,
        over_threshold_since: iso(state.driftSince),
        last_retrain_at: iso(state.lastRetrainAt),
      },
      gateway: gatewayUrl ? measurement.gatewayView(t.windowS * 1000, now) : null,
      canary: canary.run,
      thresholds: t,
      targets: [
        ...targets.map((x) => ({
          name: x.name,
          url: x.url,
          up: x.up,
          last_error: x.lastError,
          served: measurement.served(x.name, now, t.windowS * 1000),
        })),
        { name: 'registry', url: config.registryUrl, up: champions.up, last_error: null, served: null },
      ],
      last_evaluation: iso(lastEvaluationAt),
      last_seq: events.lastSeq,
    };
  });

  svc.route('GET', '/v1/canary', () => ({ canary: canary.run }));

  svc.route('POST', '/v1/canary', async (req) => {
    requireAdmin(req);
    const body = parseBody(CanaryRequest, await req.json());
    const run = await canary.begin(body, () => state.champion);
    return { status: 202, body: { canary: run } };
  });

  svc.route('DELETE', '/v1/canary', async (req) => {
    requireAdmin(req);
    const run = canary.run;
    if (run?.status !== 'running') throw new HttpError(409, 'NO_CANARY', 'no canary is running');
    await canary.end(run, 'aborted', 'manual', Date.now());
    return { canary: canary.run };
  });

  function stopWork() {
    shutdown.abort();
    clearTimeout(timer);
    retrain.stop();
  }
  // Registered before listen() so it runs before the skeleton's handler closes the server: open SSE
  // streams and long-polls end first instead of waiting out the connection grace period.
  const onSignal = () => shutdown.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  const port = await svc.listen();
  schedule(0);
  const host = config.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    async close() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      stopWork();
      await loopDone;
      await svc.close();
    },
  };
}
