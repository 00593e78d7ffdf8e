// Canary rollouts: start (alias `challenger` + first gateway weight), advance one step per evaluation
// on the verdict of rules.ts (analyzeCanary / canaryDecision), and end by promotion or abort. The run is
// what GET /v1/canary shows.
import type { Logger } from 'pino';
import { badRequest, HttpError } from '../common/service.ts';
import { type RegistryClient, RegistryError } from '../registry/client.ts';
import { CHALLENGER_ALIAS, CHAMPION_ALIAS } from '../schema.ts';
import type { EventLog } from './events.ts';
import { type Measurement, RETENTION_MS } from './measure.ts';
import type { ControllerMetrics } from './metrics.ts';
import {
  analyzeCanary,
  type CanaryPlan,
  type CanaryVerdict,
  type ControllerState,
  canaryDecision,
  type Thresholds,
} from './rules.ts';

export interface CanaryRun {
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

export interface CanaryStart {
  version: string;
  steps?: number[];
  step_seconds?: number;
}

export interface CanaryDeps {
  registry: RegistryClient;
  modelName: string;
  /** Base URL of the gateway whose canary weight is set; without one no canary can start. */
  gatewayUrl?: string;
  adminToken?: string;
  measurement: Measurement;
  t: Thresholds;
  evalMs: number;
  /** Used when the request omits them. */
  defaultSteps?: number[];
  defaultStepSeconds?: number;
  events: EventLog;
  metrics: Pick<ControllerMetrics, 'promotions' | 'canaryAborts' | 'canaryWeight'>;
  log: Logger;
}

export class Canary {
  /** The current or last run; replaced when a new one starts. */
  run: CanaryRun | null = null;
  private readonly deps: CanaryDeps;

  constructor(deps: CanaryDeps) {
    this.deps = deps;
  }

  private async setGatewayWeight(weight: number) {
    const { gatewayUrl, adminToken } = this.deps;
    if (!gatewayUrl) throw new Error('no gateway configured (GATEWAY_URL)');
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (adminToken) headers.authorization = `Bearer ${adminToken}`;
    const res = await fetch(`${gatewayUrl}/v1/admin/canary`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ weight }),
      signal: AbortSignal.timeout(3000),
    });
    const text = await res.text();
    if (!res.ok)
      throw new Error(`gateway PUT /v1/admin/canary ${weight}: HTTP ${res.status} ${text.slice(0, 300)}`);
    this.deps.metrics.canaryWeight.set(weight);
  }

  /**
   * Starts a run (POST /v1/canary); refusals are HttpErrors for the caller. `champion` is read again
   * after the registry and gateway calls, since an evaluation may move it meanwhile.
   */
  async begin(req: CanaryStart, champion: () => string | null): Promise<CanaryRun> {
    const { registry, modelName, gatewayUrl, log } = this.deps;
    if (this.run?.status === 'running') {
      throw new HttpError(
        409,
        'CANARY_IN_PROGRESS',
        `version: a canary of version ${this.run.version} is still running (DELETE /v1/canary aborts it)`,
        'version',
      );
    }
    if (!gatewayUrl)
      throw new HttpError(
        409,
        'NO_GATEWAY',
        'no gateway configured (GATEWAY_URL): the canary weight cannot be set',
      );
    if (req.version === champion())
      throw badRequest('version', `version ${req.version} is already the champion`);
    try {
      await registry.getModelVersion(modelName, req.version);
      await registry.setAlias(modelName, CHALLENGER_ALIAS, req.version);
    } catch (e) {
      if (e instanceof RegistryError && e.errorCode === 'RESOURCE_DOES_NOT_EXIST') {
        throw badRequest('version', `model version ${modelName}/${req.version} does not exist`);
      }
      throw new HttpError(502, 'REGISTRY_UNAVAILABLE', `registry: ${(e as Error).message}`);
    }
    const steps = req.steps ?? this.deps.defaultSteps ?? [10, 50];
    try {
      await this.setGatewayWeight(steps[0]);
    } catch (e) {
      await registry.deleteAlias(modelName, CHALLENGER_ALIAS).catch(() => undefined);
      throw new HttpError(502, 'GATEWAY_UNAVAILABLE', `gateway: ${(e as Error).message}`);
    }
    const now = Date.now();
    const run: CanaryRun = {
      status: 'running',
      version: req.version,
      stable_version: champion(),
      steps,
      step_seconds: req.step_seconds ?? this.deps.defaultStepSeconds ?? 30,
      step_index: 0,
      weight: steps[0],
      started_at: new Date(now).toISOString(),
      step_started_ms: now,
      finished_at: null,
      reason: null,
      last_verdict: null,
      history: [],
    };
    this.run = run;
    log.info({ version: req.version, steps, step_seconds: run.step_seconds }, 'canary started');
    return run;
  }

  async end(run: CanaryRun, outcome: 'promoted' | 'aborted', reason: string, now: number) {
    const { registry, modelName, events, metrics: m, log } = this.deps;
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
    await this.setGatewayWeight(0).catch((e: Error) => problems.push(`weight 0: ${e.message}`));
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

  /** One evaluation's step: judge the canary against stable over the step so far, then act on it. */
  async advance(now: number, state: ControllerState) {
    const run = this.run;
    if (run?.status !== 'running') return;
    const { measurement, t, evalMs } = this.deps;
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
      await this.end(
        run,
        'aborted',
        verdict.verdict === 'fail' ? 'analysis_failed' : 'insufficient_samples',
        now,
      );
    } else if (decision === 'promote') {
      await this.end(run, 'promoted', 'analysis_passed', now);
    } else {
      const next = run.steps[run.step_index + 1];
      try {
        await this.setGatewayWeight(next);
      } catch (e) {
        run.last_verdict = { ...verdict, reasons: [...verdict.reasons, (e as Error).message] };
        await this.end(run, 'aborted', 'gateway_error', now);
        return;
      }
      run.step_index++;
      run.weight = next;
      run.step_started_ms = now;
    }
  }
}
