// The operator: scrapes gateway and model-server metrics every evaluation interval, polls the registry
// champion, and acts on the decisions of rules.ts — auto-rollback, alerts, retrain trigger — plus
// canary analysis on request. Everything it does is published as events (SSE / long-poll / NDJSON).
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Mechanism } from '../common/config.ts';
import { badRequest, createService, HttpError, type Request } from '../common/service.ts';
import { parseBody } from '../common/validate.ts';
import { RegistryClient, RegistryError } from '../registry/client.ts';
import { CHALLENGER_ALIAS, CHAMPION_ALIAS, PRIMARY_MODEL } from '../schema.ts';
import { type ActionDeps, execute } from './actions.ts';
import { EventLog, eventsHandler } from './events.ts';
import { ChampionPoll, type Drift, Measurement, RETENTION_MS, scrapeTargets } from './measure.ts';
import { createMetrics } from './metrics.ts';
import { RetrainJob } from './retrain.ts';
import {
  ALERT_NAMES,
  analyzeCanary,
  type CanaryPlan,
  type CanaryVerdict,
  type ControllerState,
  canaryDecision,
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

interface CanaryRun {
  status: 'running' | 'promoted' | 'aborted';
  version: string;
  stable_version: string | null;
  steps: number[];
  step_seconds: number;
  step_index: number;
  weight: number;
  started_at: string;
  step_started_ms: number;
  finished_at: string | null;
  reason: string | null;
  last_verdict: CanaryVerdict | null;
  history: { step_index: number; weight: number; verdict: CanaryVerdict['verdict']; at: string }[];
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
  const actionDeps: ActionDeps = { registry, modelName, t, events, metrics: m, log, retrain };

  let state: ControllerState = initialState();
  let lastResults: RuleResult[] = [];
  let evaluatedVersion: string | null = null;
  let lastEvaluationAt: number | null = null;
  let maxPsi: Drift | null = null;
  let canary: CanaryRun | null = null;
  let timer: NodeJS.Timeout | undefined;
  let loopDone: Promise<void> = Promise.resolve();

  // ---- canary ----

  async function setGatewayWeight(weight: number) {
    if (!gatewayUrl) throw new Error('no gateway configured (GATEWAY_URL)');
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (config.adminToken) headers.authorization = `Bearer ${config.adminToken}`;
    const res = await fetch(`${gatewayUrl}/v1/admin/canary`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ weight }),
      signal: AbortSignal.timeout(3000),
    });
    const text = await res.text();
    if (!res.ok)
      throw new Error(`gateway PUT /v1/admin/canary ${weight}: HTTP ${res.status} ${text.slice(0, 300)}`);
    m.canaryWeight.set(weight);
  }

  async function endCanary(run: CanaryRun, outcome: 'promoted' | 'aborted', reason: string, now: number) {
    const problems: string[] = [];
    if (outcome === 'promoted') {
      try {
        await registry.setAlias(modelName, CHAMPION_ALIAS, run.version);
      } catch (e) {
        problems.push(`promote: ${(e as Error).message}`);
        outcome = 'aborted';
        reason = 'promotion_failed';
      }
    }
    // Traffic back to the stable pool first, then the challenger alias goes away.
    await setGatewayWeight(0).catch((e: Error) => problems.push(`weight 0: ${e.message}`));
    await registry
      .deleteAlias(modelName, CHALLENGER_ALIAS)
      .catch((e: Error) => problems.push(`delete challenger: ${e.message}`));
    run.status = outcome;
    run.reason = reason;
    run.weight = 0;
    run.finished_at = new Date(now).toISOString();
    const details = {
      steps: run.steps,
      step_seconds: run.step_seconds,
      step_index: run.step_index,
      verdict: run.last_verdict,
      history: run.history,
      problems,
    };
    if (outcome === 'promoted') {
      m.promotions.inc();
      events.append({
        type: 'promotion',
        reason,
        from_version: run.stable_version,
        to_version: run.version,
        details,
      });
    } else {
      m.canaryAborts.inc({ reason });
      events.append({
        type: 'canary_abort',
        reason,
        from_version: run.stable_version,
        to_version: run.version,
        details,
      });
    }
    log.info({ outcome, reason, version: run.version }, 'canary finished');
  }

  async function advanceCanary(now: number) {
    const run = canary;
    if (run?.status !== 'running') return;
    const windowMs = Math.min(Math.max(now - run.step_started_ms, evalMs), RETENTION_MS);
    const c = measurement.versionStats(run.version, windowMs, now);
    const stable = state.champion ? measurement.versionStats(state.champion, windowMs, now) : null;
    const baseline = state.lastGood ? measurement.baseline(state.lastGood) : null;
    const verdict = analyzeCanary(measurement.modelTargets.length ? c : null, stable, baseline, t);
    run.last_verdict = verdict;
    const plan: CanaryPlan = { steps: run.steps, stepMs: run.step_seconds * 1000, maxStepFactor: 3 };
    const decision = canaryDecision(plan, run.step_index, run.step_started_ms, now, verdict);
    if (decision === 'wait') return;
    run.history.push({
      step_index: run.step_index,
      weight: run.weight,
      verdict: verdict.verdict,
      at: new Date(now).toISOString(),
    });
    if (decision === 'abort') {
      await endCanary(
        run,
        'aborted',
        verdict.verdict === 'fail' ? 'analysis_failed' : 'insufficient_samples',
        now,
      );
    } else if (decision === 'promote') {
      await endCanary(run, 'promoted', 'analysis_passed', now);
    } else {
      const next = run.steps[run.step_index + 1];
      try {
        await setGatewayWeight(next);
      } catch (e) {
        run.last_verdict = { ...verdict, reasons: [...verdict.reasons, (e as Error).message] };
        await endCanary(run, 'aborted', 'gateway_error', now);
        return;
      }
      run.step_index++;
      run.weight = next;
      run.step_started_ms = now;
    }
  }

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
    await advanceCanary(now);
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
      canary,
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

  svc.route('GET', '/v1/canary', () => ({ canary }));

  svc.route('POST', '/v1/canary', async (req) => {
    requireAdmin(req);
    const body = parseBody(CanaryRequest, await req.json());
    if (canary?.status === 'running') {
      throw new HttpError(
        409,
        'CANARY_IN_PROGRESS',
        `version: a canary of version ${canary.version} is still running (DELETE /v1/canary aborts it)`,
        'version',
      );
    }
    if (!gatewayUrl)
      throw new HttpError(
        409,
        'NO_GATEWAY',
        'no gateway configured (GATEWAY_URL): the canary weight cannot be set',
      );
    if (body.version === state.champion)
      throw badRequest('version', `version ${body.version} is already the champion`);
    try {
      await registry.getModelVersion(modelName, body.version);
      await registry.setAlias(modelName, CHALLENGER_ALIAS, body.version);
    } catch (e) {
      if (e instanceof RegistryError && e.errorCode === 'RESOURCE_DOES_NOT_EXIST') {
        throw badRequest('version', `model version ${modelName}/${body.version} does not exist`);
      }
      throw new HttpError(502, 'REGISTRY_UNAVAILABLE', `registry: ${(e as Error).message}`);
    }
    const steps = body.steps ?? config.canarySteps ?? [10, 50];
    try {
      await setGatewayWeight(steps[0]);
    } catch (e) {
      await registry.deleteAlias(modelName, CHALLENGER_ALIAS).catch(() => undefined);
      throw new HttpError(502, 'GATEWAY_UNAVAILABLE', `gateway: ${(e as Error).message}`);
    }
    const now = Date.now();
    canary = {
      status: 'running',
      version: body.version,
      stable_version: state.champion,
      steps,
      step_seconds: body.step_seconds ?? config.canaryStepSeconds ?? 30,
      step_index: 0,
      weight: steps[0],
      started_at: new Date(now).toISOString(),
      step_started_ms: now,
      finished_at: null,
      reason: null,
      last_verdict: null,
      history: [],
    };
    log.info({ version: body.version, steps, step_seconds: canary.step_seconds }, 'canary started');
    return { status: 202, body: { canary } };
  });

  svc.route('DELETE', '/v1/canary', async (req) => {
    requireAdmin(req);
    if (canary?.status !== 'running') throw new HttpError(409, 'NO_CANARY', 'no canary is running');
    await endCanary(canary, 'aborted', 'manual', Date.now());
    return { canary };
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
