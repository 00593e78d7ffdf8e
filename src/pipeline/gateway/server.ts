// The pipeline's front door (a Kubernetes Service + Envoy in one process): spreads /v1/predict over
// model-server replicas, retries failures on another replica within a retry budget, ejects outliers,
// splits canary traffic by weight and serves the synthetic user's web page.

import { performance } from 'node:perf_hooks';
import client from 'prom-client';
import { Pool } from 'undici';
import { z } from 'zod';
import { adminGuard } from '../common/auth.ts';
import type { Mechanism } from '../common/config.ts';
import { exchange } from '../common/exchange.ts';
import { createService, HttpError, type Request } from '../common/service.ts';
import { parseBody } from '../common/validate.ts';
import { RetryBudget } from './budget.ts';
import { PAGE_CSP, renderPage } from './page.ts';
import { type Upstream, UpstreamSet } from './pool.ts';

export interface GatewayConfig {
  port?: number;
  host?: string;
  /** model-server base URLs serving `champion`. */
  upstreams: string[];
  /** model-server base URLs serving `challenger`. */
  canaryUpstreams?: string[];
  /** Share of requests (0–100) sent to the canary upstreams. */
  canaryWeight?: number;
  /** Per-attempt timeout (connect + response), ms. */
  upstreamTimeoutMs?: number;
  /** Retries per request on other replicas (default 2). */
  maxRetries?: number;
  retryBudgetPercent?: number;
  retryBudgetMin?: number;
  outlierConsecutiveFailures?: number;
  outlierBaseEjectionMs?: number;
  outlierMaxEjectionMs?: number;
  outlierMaxEjectionPercent?: number;
  disabled?: Set<Mechanism>;
  adminToken?: string;
  /** Largest accepted /v1/predict body (default 64 KiB). */
  maxBodyBytes?: number;
  /** Exit on SIGTERM/SIGINT (default true; tests that embed the gateway pass false). */
  handleSignals?: boolean;
}

export interface Gateway {
  url: string;
  port: number;
  close(): Promise<void>;
}

type Outcome = 'success' | 'client_error' | 'server_error' | 'timeout' | 'connect_error' | 'reset' | 'error';

interface Attempt {
  upstream: Upstream;
  outcome: Outcome;
  status?: number;
  body?: Buffer;
  headers?: Record<string, string | string[] | undefined>;
  error?: string;
}

const CanaryWeight = z.object({ weight: z.number().min(0).max(100) }).strict();

// Header values become label values: anything unexpected collapses to `other` to bound cardinality.
const SAFE_LABEL = /^[A-Za-z0-9_.:-]{1,40}$/;
const label = (v: string | string[] | undefined, missing: string) =>
  typeof v !== 'string' || v === '' ? missing : SAFE_LABEL.test(v) ? v : 'other';

export async function start(config: GatewayConfig): Promise<Gateway> {
  const upstreamUrls = config.upstreams.map((u) => checkUrl(u, 'upstreams'));
  const canaryUrls = (config.canaryUpstreams ?? []).map((u) => checkUrl(u, 'canaryUpstreams'));
  const disabled = config.disabled ?? new Set<Mechanism>();
  const timeoutMs = config.upstreamTimeoutMs ?? 1000;
  const maxRetries = disabled.has('retries') ? 0 : (config.maxRetries ?? 2);
  const budget = new RetryBudget(config.retryBudgetPercent ?? 20, config.retryBudgetMin ?? 3);

  const svc = createService({
    name: 'gateway',
    port: config.port,
    host: config.host,
    maxBodyBytes: config.maxBodyBytes ?? 64 * 1024,
    handleSignals: config.handleSignals,
    onShutdown: async () => {
      upstreams.close();
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    },
  });
  const log = svc.log;
  const reg = svc.metrics;

  const m = {
    requests: new client.Counter({
      name: 'gateway_requests_total',
      help: 'Predict requests answered by the gateway, by HTTP status and whether the fallback model served',
      labelNames: ['code', 'fallback'],
      registers: [reg],
    }),
    duration: new client.Histogram({
      name: 'gateway_request_duration_seconds',
      help: 'Predict request time at the gateway, all attempts included',
      buckets: [
        0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5,
        0.75, 1, 1.5, 2.5,
      ],
      registers: [reg],
    }),
    upstreamRequests: new client.Counter({
      name: 'gateway_upstream_requests_total',
      help: 'Attempts sent to each upstream, by outcome',
      labelNames: ['upstream', 'outcome'],
      registers: [reg],
    }),
    upstreamDuration: new client.Histogram({
      name: 'gateway_upstream_request_duration_seconds',
      help: 'Time of one attempt against one upstream',
      labelNames: ['upstream'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2.5],
      registers: [reg],
    }),
    retries: new client.Counter({
      name: 'gateway_retries_total',
      help: 'Retries sent to another replica',
      registers: [reg],
    }),
    budgetExhausted: new client.Counter({
      name: 'gateway_retry_budget_exhausted_total',
      help: 'Retries not sent because the retry budget was used up',
      registers: [reg],
    }),
    ejections: new client.Counter({
      name: 'gateway_ejections_total',
      help: 'Outlier ejections per upstream',
      labelNames: ['upstream'],
      registers: [reg],
    }),
    ejected: new client.Gauge({
      name: 'gateway_upstream_ejected',
      help: '1 while the upstream is ejected by outlier detection',
      labelNames: ['upstream'],
      registers: [reg],
    }),
    responses: new client.Counter({
      name: 'gateway_responses_total',
      help: 'Predictions returned, by serving model version and whether the fallback model served',
      labelNames: ['model_version', 'fallback'],
      registers: [reg],
    }),
    fallbacks: new client.Counter({
      name: 'gateway_fallback_responses_total',
      help: 'Predictions served by the fallback model, by reason',
      labelNames: ['reason'],
      registers: [reg],
    }),
    active: new client.Gauge({
      name: 'gateway_active_requests',
      help: 'Predict requests in flight',
      registers: [reg],
    }),
  };
  new client.Gauge({
    name: 'gateway_canary_weight',
    help: 'Share of requests (0–100) routed to the canary upstreams',
    registers: [reg],
    collect() {
      this.set(upstreams.canaryWeight);
    },
  });
  new client.Gauge({
    name: 'gateway_upstream_active_requests',
    help: 'Attempts in flight per upstream',
    labelNames: ['upstream'],
    registers: [reg],
    collect() {
      for (const u of upstreams.all) this.set({ upstream: u.label }, u.active);
    },
  });

  const upstreams = new UpstreamSet(
    upstreamUrls,
    canaryUrls,
    config.canaryWeight ?? 0,
    {
      consecutiveFailures: config.outlierConsecutiveFailures ?? 3,
      baseEjectionMs: config.outlierBaseEjectionMs ?? 5000,
      maxEjectionMs: config.outlierMaxEjectionMs ?? 60_000,
      maxEjectionPercent: config.outlierMaxEjectionPercent ?? 50,
      decayIntervalMs: 10_000,
      enabled: !disabled.has('ejection'),
    },
    {
      onEject: (u, ms) => {
        m.ejections.labels(u.label).inc();
        m.ejected.labels(u.label).set(1);
        log.warn(
          { upstream: u.label, url: u.url, ejection_ms: ms, times_ejected: u.timesEjected },
          'upstream ejected',
        );
      },
      onReturn: (u) => {
        m.ejected.labels(u.label).set(0);
        log.info({ upstream: u.label, url: u.url }, 'upstream returned from ejection');
      },
    },
  );
  for (const u of upstreams.all) {
    m.ejected.labels(u.label).set(0);
    m.ejections.labels(u.label).inc(0);
  }

  const clients = upstreams.all.map(
    (u) =>
      new Pool(new URL(u.url).origin, {
        connections: 128,
        keepAliveTimeout: 30_000,
        connect: { timeout: timeoutMs },
      }),
  );
  const predictPaths = upstreams.all.map((u) => `${new URL(u.url).pathname.replace(/\/+$/, '')}/v1/predict`);
  const outcomeCounters = new Map<string, client.Counter.Internal>();
  const countOutcome = (u: Upstream, o: Outcome) => {
    const key = `${u.slot}:${o}`;
    let c = outcomeCounters.get(key);
    if (!c) {
      c = m.upstreamRequests.labels(u.label, o);
      outcomeCounters.set(key, c);
    }
    c.inc();
  };

  async function attempt(u: Upstream, body: Buffer, requestId: string | undefined): Promise<Attempt> {
    u.active++;
    const started = performance.now();
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
    let result: Attempt;
    try {
      const res = await exchange(
        clients[u.slot],
        {
          path: predictPaths[u.slot],
          method: 'POST',
          headers: requestId
            ? { 'content-type': 'application/json', 'x-request-id': requestId }
            : { 'content-type': 'application/json' },
          body,
        },
        ac.signal,
      );
      const s = res.statusCode;
      result = {
        upstream: u,
        outcome: s >= 500 ? 'server_error' : s >= 400 ? 'client_error' : 'success',
        status: s,
        body: res.body,
        headers: res.headers,
      };
    } catch (err) {
      const outcome: Outcome = timedOut ? 'timeout' : classify(err);
      result = {
        upstream: u,
        outcome,
        error: timedOut ? `no response within ${timeoutMs} ms` : describe(err),
      };
    } finally {
      clearTimeout(timer);
      u.active--;
    }
    m.upstreamDuration.labels(u.label).observe((performance.now() - started) / 1000);
    countOutcome(u, result.outcome);
    if (result.outcome === 'success' || result.outcome === 'client_error') upstreams.reportSuccess(u);
    else upstreams.reportFailure(u);
    return result;
  }

  async function predict(req: Request) {
    const started = performance.now();
    let status = 500;
    let fallback = 'false';
    try {
      const parsed = await req.json();
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new HttpError(
          400,
          'MALFORMED_REQUEST',
          `request body: expected a JSON object (a transaction), found ${parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : typeof parsed}`,
          '(body)',
        );
      }
      // Forward the client's bytes untouched: no re-serialization on the hot path.
      const body = await req.raw();
      const rid = req.headers['x-request-id'];
      const requestId = typeof rid === 'string' ? rid : undefined;
      budget.begin();
      m.active.inc();
      let last: Attempt;
      let budgetDenied = false;
      try {
        const first = upstreams.choose();
        last = await attempt(first, body, requestId);
        const tried = [first];
        while (retryable(last.outcome) && tried.length <= maxRetries) {
          const next = upstreams.chooseRetry(first.pool, tried);
          if (!next) break;
          if (!budget.tryAcquire()) {
            m.budgetExhausted.inc();
            budgetDenied = true;
            break;
          }
          m.retries.inc();
          tried.push(next);
          try {
            last = await attempt(next, body, requestId);
          } finally {
            budget.release();
          }
        }
        const attempts = String(tried.length);
        if (last.status !== undefined && last.body !== undefined) {
          status = last.status;
          const h = last.headers ?? {};
          const headers: Record<string, string> = {
            'content-type': typeof h['content-type'] === 'string' ? h['content-type'] : 'application/json',
            'x-upstream': last.upstream.label,
            'x-attempts': attempts,
          };
          const version = h['x-model-version'];
          const fb = h['x-fallback'];
          if (typeof version === 'string') headers['x-model-version'] = version;
          if (typeof fb === 'string') headers['x-fallback'] = fb;
          if (status < 300 && typeof version === 'string') {
            const used = typeof fb === 'string' && fb !== '' && fb !== 'none';
            fallback = used ? 'true' : 'false';
            m.responses.labels(label(version, 'unknown'), fallback).inc();
            if (used) m.fallbacks.labels(label(fb, 'unknown')).inc();
          }
          return { status, text: last.body, headers };
        }
        // Transport failure on the last attempt: a gateway-made error (returned, not thrown, so an
        // outage does not turn into one error log line per request).
        const timeout = last.outcome === 'timeout';
        status = timeout ? 504 : 502;
        return {
          status,
          headers: { 'x-upstream': last.upstream.label, 'x-attempts': attempts },
          body: {
            error_code: timeout ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE',
            message: `upstream ${last.upstream.label} (${last.upstream.url}): ${last.error}`,
            upstream: last.upstream.label,
            outcome: last.outcome,
            attempts: tried.length,
            ...(budgetDenied ? { retry_budget_exhausted: true } : {}),
          },
        };
      } finally {
        budget.end();
        m.active.dec();
      }
    } catch (err) {
      status = err instanceof HttpError ? err.status : 500;
      throw err;
    } finally {
      m.requests.labels(String(status), fallback).inc();
      m.duration.observe((performance.now() - started) / 1000);
    }
  }

  const requireAdmin = adminGuard(config.adminToken, { whenUnset: 'deny', service: 'gateway' });

  const page = renderPage();
  svc.route('POST', '/v1/predict', predict);
  svc.route('GET', '/', () => ({
    text: page,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': PAGE_CSP,
      'cache-control': 'no-cache',
    },
  }));
  svc.route('GET', '/v1/upstreams', () => ({
    canary_weight: upstreams.canaryWeight,
    retry_budget: {
      percent: budget.percent,
      min: budget.min,
      active_requests: budget.active,
      active_retries: budget.retriesActive,
    },
    disabled: [...disabled].filter((d) => d === 'retries' || d === 'ejection'),
    upstreams: upstreams.snapshot(),
  }));
  svc.route('PUT', '/v1/admin/canary', async (req) => {
    requireAdmin(req);
    const { weight } = parseBody(CanaryWeight, await req.json());
    if (upstreams.canary.length === 0 && weight > 0) {
      throw new HttpError(
        409,
        'NO_CANARY_UPSTREAMS',
        'weight: no canary upstreams are configured (CANARY_UPSTREAMS)',
        'weight',
      );
    }
    const previous = upstreams.canaryWeight;
    upstreams.setCanaryWeight(weight);
    log.info({ weight, previous }, 'canary weight changed');
    return { weight, previous_weight: previous };
  });

  const port = await svc.listen();
  const host = config.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () => svc.close(),
  };
}

function retryable(o: Outcome): boolean {
  return o !== 'success' && o !== 'client_error';
}

function classify(err: unknown): Outcome {
  const e = err as { code?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code ?? '';
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EHOSTUNREACH' ||
    code === 'ENETUNREACH' ||
    code === 'EAI_AGAIN' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  ) {
    return 'connect_error';
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED')
    return 'reset';
  return 'error';
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code;
  const msg = e?.message ?? String(err);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

function checkUrl(u: string, what: string): string {
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    throw new Error(`${what}: "${u}" is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`${what}: "${u}" must be an http(s) URL`);
  }
  return u;
}
