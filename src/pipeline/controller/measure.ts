// Measurement: scrapes the gateway and model-servers each evaluation, keeps a short metric history and
// the long-run prediction baseline per version, and turns them into the per-version numbers rules.ts
// judges. Also polls the registry's champion alias. No decisions here.
import type { Logger } from 'pino';
import type client from 'prom-client';
import type { RegistryClient } from '../registry/client.ts';
import { CHAMPION_ALIAS } from '../schema.ts';
import type { Baseline, VersionStats } from './rules.ts';
import {
  histogramQuantile,
  MetricHistory,
  type Sample,
  type Served,
  type Snapshot,
  scrape,
  snapshotIncrease,
  sumOf,
} from './scrape.ts';

/** Fallback reasons that mean the primary model itself failed (counted as errors of its version). */
const MODEL_FAULT_REASONS = new Set(['primary_error', 'no_primary_model']);
const PREDICT = '/v1/predict';
const KEEP_NAMES = new Set([
  'http_requests_total',
  'http_request_duration_seconds_bucket',
  'model_server_predictions_total',
  'model_server_fallback_total',
  'model_server_prediction_score_sum',
  'model_server_prediction_score_count',
  'model_server_feature_drift_psi',
  'model_server_model_info',
  'gateway_requests_total',
  'gateway_request_duration_seconds_bucket',
]);
// The canary window is capped by the history kept; three minutes covers default plans many times over.
export const RETENTION_MS = 180_000;

export interface Target {
  name: string;
  url: string;
  kind: 'gateway' | 'model';
  up: boolean;
  lastError: string | null;
  lastScrapeMs: number | null;
}

export interface Drift {
  value: number;
  feature?: string;
}

/** The gateway (when given) and one target per model-server, named as /v1/state and the metrics show them. */
export function scrapeTargets(gatewayUrl: string | undefined, modelServerUrls: string[]): Target[] {
  const targets: Target[] = [];
  if (gatewayUrl)
    targets.push({
      name: 'gateway',
      url: `${gatewayUrl}/metrics`,
      kind: 'gateway',
      up: false,
      lastError: null,
      lastScrapeMs: null,
    });
  for (const [i, u] of modelServerUrls.entries()) {
    targets.push({
      name: `model-server-${i}`,
      url: `${u.replace(/\/+$/, '')}/metrics`,
      kind: 'model',
      up: false,
      lastError: null,
      lastScrapeMs: null,
    });
  }
  return targets;
}

export class Measurement {
  readonly targets: Target[];
  /** Names of the model-server targets: with none, the gateway stands in for the champion. */
  readonly modelTargets: string[];
  private readonly scrapeTimeoutMs: number;
  private readonly scrapeErrors: client.Counter<'target'>;
  private readonly history = new MetricHistory({
    retentionMs: RETENTION_MS,
    keep: (s) => KEEP_NAMES.has(s.name) && (!s.name.startsWith('http_') || s.labels.route === PREDICT),
  });
  // Long-run prediction distribution per version: the baseline a new version is compared with.
  private readonly cumulative = new Map<string, Baseline>();

  constructor(opts: { targets: Target[]; scrapeTimeoutMs: number; scrapeErrors: client.Counter<'target'> }) {
    this.targets = opts.targets;
    this.modelTargets = opts.targets.filter((x) => x.kind === 'model').map((x) => x.name);
    this.scrapeTimeoutMs = opts.scrapeTimeoutMs;
    this.scrapeErrors = opts.scrapeErrors;
  }

  /** The long-run baseline of `version`, or null before it served anything while watched. */
  baseline(version: string): Baseline | null {
    return this.cumulative.get(version) ?? null;
  }

  /** Which version a target served over the window (for /v1/state). */
  served(target: string, now: number, windowMs: number): Served | null {
    return this.history.served(target, now, windowMs);
  }

  private accumulate(prev: Snapshot | undefined, snap: Snapshot) {
    if (!prev) return;
    const primary = (l: Record<string, string>) => l.model_role === undefined || l.model_role === 'primary';
    const add = (name: string, match: (l: Record<string, string>) => boolean, field: keyof Baseline) => {
      for (const [version, inc] of snapshotIncrease(prev, snap, { name, match, groupBy: 'version' })) {
        if (!version) continue;
        let b = this.cumulative.get(version);
        if (!b) {
          b = { predictions: 0, positives: 0, scoreSum: 0, scoreCount: 0 };
          this.cumulative.set(version, b);
        }
        b[field] += inc;
      }
    };
    add('model_server_predictions_total', primary, 'predictions');
    add('model_server_predictions_total', (l) => primary(l) && l.decision !== 'approve', 'positives');
    add('model_server_prediction_score_sum', primary, 'scoreSum');
    add('model_server_prediction_score_count', primary, 'scoreCount');
  }

  async scrapeAll(now: number) {
    await Promise.all(
      this.targets.map(async (x) => {
        let samples: Sample[];
        try {
          samples = await scrape(x.url, this.scrapeTimeoutMs);
        } catch (e) {
          // A dead replica is normal during chaos: count it and evaluate with what answered.
          x.up = false;
          x.lastError = (e as Error).message;
          this.scrapeErrors.inc({ target: x.name });
          return;
        }
        x.up = true;
        x.lastError = null;
        x.lastScrapeMs = now;
        const { prev, snap } = this.history.ingest(x.name, now, samples);
        if (x.kind === 'model') this.accumulate(prev, snap);
      }),
    );
  }

  /** What `version` did in the window, attributed per replica by the model it served at each scrape. */
  versionStats(version: string, windowMs: number, now: number): VersionStats | null {
    const { history, modelTargets } = this;
    if (modelTargets.length === 0) return this.gatewayStats(windowMs, now);
    const predict = (l: Record<string, string>) => l.route === PREDICT;
    const codes = history.increase(
      modelTargets,
      { name: 'http_requests_total', match: predict, version, groupBy: 'code' },
      windowMs,
      now,
    );
    const faults = history.increase(
      modelTargets,
      { name: 'model_server_fallback_total', match: (l) => MODEL_FAULT_REASONS.has(l.reason), version },
      windowMs,
      now,
    );
    const buckets = history.increase(
      modelTargets,
      { name: 'http_request_duration_seconds_bucket', match: predict, version, groupBy: 'le' },
      windowMs,
      now,
    );
    const primary = (l: Record<string, string>) =>
      l.version === version && (l.model_role === undefined || l.model_role === 'primary');
    const decisions = history.increase(
      modelTargets,
      { name: 'model_server_predictions_total', match: primary, groupBy: 'decision' },
      windowMs,
      now,
    );
    const primarySum = (name: string) =>
      sumOf(history.increase(modelTargets, { name, match: primary }, windowMs, now));
    const scoreSum = primarySum('model_server_prediction_score_sum');
    const scoreCount = primarySum('model_server_prediction_score_count');
    const requests = sumOf(codes);
    const predictions = sumOf(decisions);
    if (requests === 0 && predictions === 0) return null;
    let errors = sumOf(faults);
    for (const [code, n] of codes) if (code.startsWith('5')) errors += n;
    const p99 = histogramQuantile(0.99, buckets);
    return {
      requests,
      errors,
      p99Ms: p99 === null ? null : p99 * 1000,
      predictions,
      positives: predictions - (decisions.get('approve') ?? 0),
      scoreSum,
      scoreCount,
    };
  }

  /** Without model-server targets the gateway's view stands in for the champion (no distribution). */
  private gatewayStats(windowMs: number, now: number): VersionStats | null {
    const codes = this.history.increase(
      ['gateway'],
      { name: 'gateway_requests_total', groupBy: 'code' },
      windowMs,
      now,
    );
    const requests = sumOf(codes);
    if (requests === 0) return null;
    let errors = 0;
    for (const [code, n] of codes) if (code.startsWith('5')) errors += n;
    const p99 = histogramQuantile(
      0.99,
      this.history.increase(
        ['gateway'],
        { name: 'gateway_request_duration_seconds_bucket', groupBy: 'le' },
        windowMs,
        now,
      ),
    );
    return {
      requests,
      errors,
      p99Ms: p99 === null ? null : p99 * 1000,
      predictions: 0,
      positives: 0,
      scoreSum: 0,
      scoreCount: 0,
    };
  }

  /** Front-door SLIs over the window, for /v1/state (the rules judge versions, not the gateway). */
  gatewayView(windowMs: number, now: number) {
    const s = this.gatewayStats(windowMs, now);
    return {
      requests: s?.requests ?? 0,
      error_rate: s && s.requests > 0 ? s.errors / s.requests : null,
      p99_ms: s?.p99Ms ?? null,
    };
  }

  /** The largest feature PSI any replica reported within the window. */
  drift(now: number, windowMs: number): Drift | null {
    const gauges = this.history.latest(
      this.modelTargets,
      { name: 'model_server_feature_drift_psi' },
      now,
      windowMs,
    );
    let best: Drift | null = null;
    for (const g of gauges)
      if (Number.isFinite(g.value) && (!best || g.value > best.value))
        best = { value: g.value, feature: g.labels.feature };
    return best;
  }
}

export interface ChampionPollDeps {
  registry: RegistryClient;
  modelName: string;
  scrapeErrors: client.Counter<'target'>;
  log: Logger;
}

/** The registry's champion alias, polled each evaluation; `up` is reported in /v1/state. */
export class ChampionPoll {
  up = false;
  private readonly deps: ChampionPollDeps;
  constructor(deps: ChampionPollDeps) {
    this.deps = deps;
  }

  async poll(): Promise<string | null> {
    const { registry, modelName, scrapeErrors, log } = this.deps;
    try {
      const mv = await registry.getAlias(modelName, CHAMPION_ALIAS);
      this.up = true;
      return mv?.version ?? null;
    } catch (e) {
      this.up = false;
      scrapeErrors.inc({ target: 'registry' });
      log.warn({ err: (e as Error).message }, 'registry poll failed');
      return null;
    }
  }
}
