// Online feature fetch from the feature-server, wrapped in the resilience policy:
// circuit breaker (outermost, fails fast when open) → retry with exponential backoff + jitter →
// per-attempt timeout (aggressive: the caller stops waiting at once, and the abort signal cancels the
// HTTP request so the connection is not held).
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IPolicy,
  retry,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import type { Logger } from 'pino';
import client from 'prom-client';
import { Pool } from 'undici';
import { type BufferedResponse, exchange } from '../common/exchange.ts';

const ACCEPT_JSON = { accept: 'application/json' };

export interface FeatureFetchOptions {
  baseUrl: string;
  /** Per-attempt timeout, ms. */
  timeoutMs: number;
  retries: boolean;
  breaker: boolean;
  /** Retries after the first attempt. */
  maxRetries?: number;
  /** Consecutive failed calls (after retries) that open the breaker. */
  breakerThreshold?: number;
  halfOpenAfterMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  connections?: number;
  metrics: client.Registry;
  log: Logger;
}

export type FetchResult =
  | { ok: true; features: unknown }
  | { ok: false; reason: 'feature_store_unavailable' | 'breaker_open'; error: string };

/** A non-retryable answer (4xx other than 404): the store works, the request is the problem. */
class ClientError extends Error {}
/** 5xx or an unparsable success: the store is failing. */
class UpstreamError extends Error {}

const isFailure = (e: Error) => !(e instanceof ClientError) && !(e instanceof BrokenCircuitError);

export class FeatureFetcher {
  readonly breaker?: CircuitBreakerPolicy;
  private readonly pool: Pool;
  private readonly policy: IPolicy;
  private readonly fetchTotal: client.Counter<'outcome'>;
  private readonly duration: client.Histogram;
  private readonly basePath: string;

  constructor(opts: FeatureFetchOptions) {
    const url = new URL(opts.baseUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.pool = new Pool(url.origin, {
      connections: opts.connections ?? 64,
      keepAliveTimeout: 30_000,
      // Bounded connect time: a black-holed feature-server must not pin sockets past the timeout policy.
      connectTimeout: Math.max(opts.timeoutMs * 4, 1000),
    });
    const reg = [opts.metrics];
    this.fetchTotal = new client.Counter({
      name: 'model_server_feature_fetch_total',
      help: 'Feature fetch attempts by outcome (ok, not_found, http_5xx, throttled, client_error, timeout, network_error, bad_response), plus breaker_open for calls refused by the open breaker',
      labelNames: ['outcome'],
      registers: reg,
    });
    const retries = new client.Counter({
      name: 'model_server_feature_fetch_retries_total',
      help: 'Feature fetch retries (attempts after the first)',
      registers: reg,
    });
    this.duration = new client.Histogram({
      name: 'model_server_feature_fetch_duration_seconds',
      help: 'Feature fetch time including retries and backoff',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.08, 0.1, 0.25, 0.5, 1],
      registers: reg,
    });

    const policies: IPolicy[] = [];
    if (opts.breaker) {
      const b = circuitBreaker(handleWhen(isFailure), {
        breaker: new ConsecutiveBreaker(opts.breakerThreshold ?? 5),
        halfOpenAfter: opts.halfOpenAfterMs ?? 2000,
      });
      b.onStateChange((s) =>
        opts.log.warn({ state: CircuitState[s] }, 'feature-server circuit breaker state changed'),
      );
      this.breaker = b;
      policies.push(b);
    }
    if (opts.retries) {
      const r = retry(handleWhen(isFailure), {
        maxAttempts: opts.maxRetries ?? 2,
        // Default generator is decorrelated jitter (Polly's), so concurrent retries spread out.
        backoff: new ExponentialBackoff({
          initialDelay: opts.backoffInitialMs ?? 10,
          maxDelay: opts.backoffMaxMs ?? 50,
        }),
      });
      r.onRetry(() => retries.inc());
      policies.push(r);
    }
    // abortOnReturn off: aborting after every successful call costs a DOMException (with a stack) per
    // request, and the response body has been consumed by then anyway.
    policies.push(timeout(opts.timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false }));
    this.policy = wrap(...policies);

    const breaker = this.breaker;
    new client.Gauge({
      name: 'model_server_circuit_breaker_state',
      help: 'Feature-server circuit breaker: 0 closed, 1 open, 2 half-open (isolated counts as open)',
      registers: reg,
      collect() {
        const s = breaker?.state ?? CircuitState.Closed;
        this.set(s === CircuitState.HalfOpen ? 2 : s === CircuitState.Closed ? 0 : 1);
      },
    });
  }

  /** The user's feature-server answer, or why there is none. Never throws. */
  async fetch(userId: string): Promise<FetchResult> {
    const started = performance.now();
    try {
      const features = await this.policy.execute(({ signal }) => this.attempt(userId, signal));
      return { ok: true, features };
    } catch (e) {
      if (e instanceof BrokenCircuitError) {
        this.fetchTotal.inc({ outcome: 'breaker_open' });
        return { ok: false, reason: 'breaker_open', error: 'circuit breaker open' };
      }
      return { ok: false, reason: 'feature_store_unavailable', error: (e as Error)?.message ?? String(e) };
    } finally {
      this.duration.observe((performance.now() - started) / 1000);
    }
  }

  private async attempt(userId: string, signal: AbortSignal): Promise<unknown> {
    let res: BufferedResponse;
    try {
      res = await exchange(
        this.pool,
        {
          method: 'GET',
          path: `${this.basePath}/v1/features/${encodeURIComponent(userId)}`,
          headers: ACCEPT_JSON,
        },
        signal,
      );
    } catch (e) {
      // An abort means the timeout policy fired; cockatiel has already reported TaskCancelledError.
      this.fetchTotal.inc({ outcome: signal.aborted ? 'timeout' : 'network_error' });
      throw signal.aborted ? new TaskCancelledError('feature fetch timed out') : e;
    }
    const status = res.statusCode;
    if (status === 200) {
      let doc: unknown;
      try {
        doc = JSON.parse(res.body.toString('utf8'));
      } catch (e) {
        this.fetchTotal.inc({ outcome: 'bad_response' });
        throw new UpstreamError(`feature-server: unreadable response (${(e as Error).message})`);
      }
      const features = (doc as { features?: unknown } | null)?.features;
      if (typeof features !== 'object' || features === null) {
        this.fetchTotal.inc({ outcome: 'bad_response' });
        throw new UpstreamError('feature-server: response has no features object');
      }
      this.fetchTotal.inc({ outcome: 'ok' });
      return features;
    }
    if (status === 404) {
      // An unknown entity is data, not a failure: every feature is NOT_FOUND.
      this.fetchTotal.inc({ outcome: 'not_found' });
      return {};
    }
    if (status >= 500 || status === 429) {
      this.fetchTotal.inc({ outcome: status === 429 ? 'throttled' : 'http_5xx' });
      throw new UpstreamError(`feature-server answered ${status}`);
    }
    this.fetchTotal.inc({ outcome: 'client_error' });
    throw new ClientError(`feature-server answered ${status}`);
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => this.pool.destroy());
  }
}
