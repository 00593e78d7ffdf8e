// The controller's HTTP API: the event stream, /v1/state (what the last evaluation saw) and the admin
// canary endpoints. Handlers only read the other modules or delegate to Canary.

import { z } from 'zod';
import { adminGuard } from '../common/auth.ts';
import { HttpError, type Service } from '../common/service.ts';
import { parseBody } from '../common/validate.ts';
import type { Canary } from './canary.ts';
import { type EventLog, eventsHandler } from './events.ts';
import type { EvaluationView } from './loop.ts';
import type { ChampionPoll, Measurement } from './measure.ts';
import { ALERT_NAMES, type Thresholds } from './rules.ts';

const CanaryRequest = z
  .object({
    version: z
      .union([z.string().regex(/^\d+$/, 'expected a version number'), z.number().int().positive()])
      .transform(String),
    steps: z.array(z.number().int().min(1).max(100)).min(1).max(20).optional(),
    step_seconds: z.number().positive().max(3600).optional(),
  })
  .strict();

export interface HttpDeps {
  modelName: string;
  registryUrl: string;
  hasGateway: boolean;
  rollbackDisabled: boolean;
  t: Thresholds;
  /** Without one the admin endpoints are open. */
  adminToken?: string;
  events: EventLog;
  /** Ends open SSE streams and long-polls on shutdown. */
  shutdown: AbortSignal;
  evaluation: EvaluationView;
  measurement: Measurement;
  champions: ChampionPoll;
  canary: Canary;
}

export function registerRoutes(svc: Service, deps: HttpDeps) {
  const { modelName, rollbackDisabled, t, events, evaluation, measurement, canary } = deps;
  const requireAdmin = adminGuard(deps.adminToken);

  const iso = (ms: number | null) => (ms === null || ms === 0 ? null : new Date(ms).toISOString());

  svc.rawRoute('GET', '/v1/events', eventsHandler(events, deps.shutdown));

  svc.route('GET', '/v1/state', () => {
    const now = Date.now();
    const { state, lastResults, maxPsi } = evaluation;
    return {
      model_name: modelName,
      champion: state.champion,
      champion_since: iso(state.championSince),
      last_good: state.lastGood,
      cooldown_until: state.cooldownUntil > now ? iso(state.cooldownUntil) : null,
      rollback_disabled: rollbackDisabled,
      // The rules below were judged on this version (before any rollback that evaluation made).
      evaluated_version: evaluation.evaluatedVersion,
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
      gateway: deps.hasGateway ? measurement.gatewayView(t.windowS * 1000, now) : null,
      canary: canary.run,
      thresholds: t,
      targets: [
        ...measurement.targets.map((x) => ({
          name: x.name,
          url: x.url,
          up: x.up,
          last_error: x.lastError,
          served: measurement.served(x.name, now, t.windowS * 1000),
        })),
        { name: 'registry', url: deps.registryUrl, up: deps.champions.up, last_error: null, served: null },
      ],
      last_evaluation: iso(evaluation.lastEvaluationAt),
      last_seq: events.lastSeq,
    };
  });

  svc.route('GET', '/v1/canary', () => ({ canary: canary.run }));

  svc.route('POST', '/v1/canary', async (req) => {
    requireAdmin(req);
    const body = parseBody(CanaryRequest, await req.json());
    const run = await canary.begin(body, () => evaluation.state.champion);
    return { status: 202, body: { canary: run } };
  });

  svc.route('DELETE', '/v1/canary', async (req) => {
    requireAdmin(req);
    const run = canary.run;
    if (run?.status !== 'running') throw new HttpError(409, 'NO_CANARY', 'no canary is running');
    await canary.end(run, 'aborted', 'manual', Date.now());
    return { canary: canary.run };
  });
}
