// model-server: scores transactions with the champion model, falling back to a simpler model when the
// online features are missing, stale, invalid or unreachable, or when the primary fails. Every answer
// names the model version that produced it and whether (and why) the fallback was used.

import { randomUUID } from 'node:crypto';
import client from 'prom-client';
import { adminGuard } from '../common/auth.ts';
import type { Mechanism } from '../common/config.ts';
import { createService } from '../common/service.ts';
import { RegistryClient } from '../registry/client.ts';
import {
  CHAMPION_ALIAS,
  type Decision,
  deriveInputs,
  MONITORED_REQUEST_FEATURES,
  STORE_FEATURE_NAMES,
  score,
  type Transaction,
} from '../schema.ts';
import { DriftMonitor } from './drift.ts';
import { FeatureFetcher } from './features.ts';
import { type LoadedModel, ModelManager, type ModelSource } from './models.ts';
import { checkStoreFeatures, parseTransaction } from './validation.ts';

export const FALLBACK_REASONS = [
  'feature_store_unavailable',
  'breaker_open',
  'features_missing',
  'features_stale',
  'features_invalid',
  'primary_error',
  'no_primary_model',
] as const;
export type FallbackReason = (typeof FALLBACK_REASONS)[number];

/** error_code of the 503 answered instead of a fallback when the fallback is disabled. */
export const UNAVAILABLE_CODES: Record<FallbackReason, string> = {
  feature_store_unavailable: 'FEATURES_UNAVAILABLE',
  breaker_open: 'FEATURES_UNAVAILABLE',
  features_missing: 'FEATURES_MISSING',
  features_stale: 'FEATURES_STALE',
  features_invalid: 'FEATURES_INVALID',
  primary_error: 'PRIMARY_ERROR',
  no_primary_model: 'NO_PRIMARY_MODEL',
};

export interface ModelServerConfig {
  port?: number;
  host?: string;
  registryUrl: string;
  featureServerUrl: string;
  /** Alias of `fraud-primary` to serve (default `champion`; canary replicas serve `challenger`). */
  modelAlias?: string;
  replica?: string | number;
  reloadIntervalMs?: number;
  featureTimeoutMs?: number;
  driftWindow?: number;
  /** Values a feature's window needs before statistics are published (default 500). */
  driftMinSamples?: number;
  /** KS p-value at or below which the drift monitor flags a feature (default 0.05). */
  driftKsAlpha?: number;
  /** Smallest KS statistic that can flag a feature (default 0.15): an effect-size floor for the p-value. */
  driftKsMinStatistic?: number;
  disabled?: Set<Mechanism>;
  adminToken?: string;
  /** Breaker tuning (defaults: 5 consecutive failed calls, half-open after 2000 ms). */
  breakerThreshold?: number;
  breakerHalfOpenAfterMs?: number;
  /** Drift statistics recompute period, ms (default 1000). */
  driftIntervalMs?: number;
  /** Tests inject a registry client; normally built from registryUrl. */
  registry?: ModelSource;
}

export interface PredictResponse {
  transaction_id: string;
  score: number;
  decision: Decision;
  model_name: string;
  model_version: string;
  fallback: { used: boolean; reason: FallbackReason | null };
}

export async function start(
  config: ModelServerConfig,
): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const disabled = config.disabled ?? new Set<Mechanism>();
  const fallbackEnabled = !disabled.has('fallback');
  const alias = config.modelAlias ?? CHAMPION_ALIAS;

  let models: ModelManager | undefined;
  let fetcher: FeatureFetcher | undefined;
  let drift: DriftMonitor | undefined;
  const svc = createService({
    name: 'model-server',
    port: config.port,
    host: config.host,
    ready: () => models?.ready() ?? false,
    onShutdown: async () => {
      drift?.stop();
      await models?.stop();
      await fetcher?.close();
    },
  });
  if (config.replica !== undefined) svc.metrics.setDefaultLabels({ replica: String(config.replica) });
  const registers = [svc.metrics];
  const log = svc.log;
  if (!config.adminToken)
    log.warn('ADMIN_TOKEN is not set: admin endpoints are open to anyone who can reach this port');

  const predictions = new client.Counter({
    name: 'model_server_predictions_total',
    help: 'Predictions served, by model role, version and decision',
    labelNames: ['model_role', 'version', 'decision'],
    registers,
  });
  const fallbacks = new client.Counter({
    name: 'model_server_fallback_total',
    help: 'Predictions answered by the fallback model, by reason',
    labelNames: ['reason'],
    registers,
  });
  const unavailable = new client.Counter({
    name: 'model_server_unavailable_total',
    help: 'Requests answered 503 because the primary could not serve and no fallback was available (or it is disabled), by reason',
    labelNames: ['reason'],
    registers,
  });
  const scores = new client.Histogram({
    name: 'model_server_prediction_score',
    help: 'Distribution of prediction scores, by model version and role',
    labelNames: ['version', 'model_role'],
    buckets: [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
    registers,
  });
  for (const reason of FALLBACK_REASONS) fallbacks.inc({ reason }, 0);

  drift = new DriftMonitor({
    windowSize: config.driftWindow ?? 1000,
    features: [...MONITORED_REQUEST_FEATURES, ...STORE_FEATURE_NAMES],
    intervalMs: config.driftIntervalMs ?? 1000,
    // PSI over a few hundred values is mostly noise (a 0.26 false alarm was seen at warm-up with 100).
    minSamples: config.driftMinSamples ?? 500,
    ksAlpha: config.driftKsAlpha ?? 0.05,
    ksMinStatistic: config.driftKsMinStatistic ?? 0.15,
    metrics: svc.metrics,
  });
  const monitor = drift;
  models = new ModelManager({
    registry: config.registry ?? new RegistryClient({ url: config.registryUrl, timeoutMs: 2000 }),
    alias,
    withFallback: fallbackEnabled,
    intervalMs: config.reloadIntervalMs ?? 500,
    metrics: svc.metrics,
    log,
    onSwap: (m) => {
      if (m.role === 'primary') monitor.setReference(m.artifact, m.version);
    },
  });
  const manager = models;
  fetcher = new FeatureFetcher({
    baseUrl: config.featureServerUrl,
    timeoutMs: config.featureTimeoutMs ?? 80,
    retries: !disabled.has('retries'),
    breaker: !disabled.has('breaker'),
    breakerThreshold: config.breakerThreshold,
    halfOpenAfterMs: config.breakerHalfOpenAfterMs,
    metrics: svc.metrics,
    log,
  });
  const features = fetcher;

  const answer = (
    tx: Transaction,
    model: LoadedModel,
    s: { score: number; decision: Decision },
    reason: FallbackReason | null,
  ) => {
    predictions.inc({ model_role: model.role, version: model.version, decision: s.decision });
    scores.observe({ version: model.version, model_role: model.role }, s.score);
    if (reason) fallbacks.inc({ reason });
    const body: PredictResponse = {
      transaction_id: tx.transaction_id ?? randomUUID(),
      score: s.score,
      decision: s.decision,
      model_name: model.name,
      model_version: model.version,
      fallback: { used: reason !== null, reason },
    };
    return {
      body,
      headers: {
        'x-model-version': model.version,
        'x-model-name': model.name,
        'x-fallback': reason ?? 'none',
      },
    };
  };

  const degrade = (tx: Transaction, reason: FallbackReason, detail: string) => {
    const fb = manager.fallback;
    if (!fallbackEnabled || !fb) {
      unavailable.inc({ reason });
      const code = fallbackEnabled ? 'NO_FALLBACK_MODEL' : UNAVAILABLE_CODES[reason];
      return {
        status: 503,
        body: {
          error_code: code,
          message: `${reason}: ${detail}${fallbackEnabled ? ' (no fallback model loaded)' : ''}`,
          reason,
        },
        headers: { 'x-fallback': fallbackEnabled ? reason : 'disabled', 'retry-after': '1' },
      };
    }
    let s: { score: number; decision: Decision };
    try {
      s = score(fb.artifact, deriveInputs(tx));
    } catch (e) {
      unavailable.inc({ reason });
      log.error({ err: e, version: fb.version }, 'fallback model failed to score');
      return {
        status: 503,
        body: {
          error_code: 'FALLBACK_ERROR',
          message: `${reason}: ${detail}; fallback model failed: ${(e as Error).message}`,
          reason,
        },
        headers: { 'x-fallback': reason, 'retry-after': '1' },
      };
    }
    return answer(tx, fb, s, reason);
  };

  svc.route('POST', '/v1/predict', async (req) => {
    const tx = parseTransaction(await req.json());
    for (const f of MONITORED_REQUEST_FEATURES) monitor.push(f, tx[f]);
    const primary = manager.primary;
    if (!primary)
      return degrade(tx, 'no_primary_model', `no version of the primary model is loaded (alias ${alias})`);
    const fetched = await features.fetch(tx.user_id);
    if (!fetched.ok) return degrade(tx, fetched.reason, fetched.error);
    const checked = checkStoreFeatures(fetched.features);
    for (const [name, value] of checked.valid) monitor.push(name, value);
    if (!checked.values) return degrade(tx, checked.reason!, `${checked.feature}: ${checked.detail}`);
    let s: { score: number; decision: Decision };
    try {
      s = score(primary.artifact, deriveInputs(tx, checked.values));
    } catch (e) {
      return degrade(
        tx,
        'primary_error',
        `model ${primary.name} v${primary.version}: ${(e as Error).message}`,
      );
    }
    return answer(tx, primary, s, null);
  });

  svc.route('GET', '/v1/model', () => ({
    alias,
    ready: manager.ready(),
    fallback_enabled: fallbackEnabled,
    primary: describe(manager.primary),
    fallback: describe(manager.fallback),
  }));

  svc.route('GET', '/v1/drift', () => monitor.report());

  const requireAdmin = adminGuard(config.adminToken);
  svc.route('POST', '/v1/admin/drift/reset', (req) => {
    requireAdmin(req);
    monitor.reset();
    log.info('drift window reset');
    return { reset: true, window_size: monitor.report().window_size };
  });

  // Listen first so /healthz answers while the registry is still unreachable; /readyz waits for models.
  const port = await svc.listen();
  void manager.start();
  monitor.start();
  return {
    url: `http://${config.host ?? '127.0.0.1'}:${port}`,
    port,
    close: () => svc.close(),
  };
}

function describe(m: LoadedModel | undefined) {
  if (!m) return null;
  return {
    name: m.name,
    alias: m.alias,
    version: m.version,
    source: m.source,
    loaded_at: m.loadedAt.toISOString(),
    ts_ms: m.loadedAt.getTime(),
    degraded: m.artifact.degraded ?? null,
  };
}

/** Admin writes need `Authorization: Bearer <ADMIN_TOKEN>` when a token is configured. */
