// The skeleton every reference-pipeline service shares: routing, bounded JSON bodies, 4xx errors that
// name the field, /healthz /readyz /metrics, JSON logs and graceful shutdown on SIGTERM.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, pino } from 'pino';
import client from 'prom-client';

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export const badRequest = (field: string, reason: string, code = 'INVALID_PARAMETER_VALUE') =>
  new HttpError(400, code, `${field}: ${reason}`, field);
export const notFound = (message: string, code = 'RESOURCE_DOES_NOT_EXIST') =>
  new HttpError(404, code, message);

export interface Request {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON body; throws a 400 naming the problem when it is not valid JSON. */
  json(): Promise<unknown>;
  raw(): Promise<Buffer>;
}

export interface Reply {
  status?: number;
  body?: unknown;
  /** Sent as-is instead of JSON. */
  text?: string | Buffer;
  headers?: Record<string, string>;
}

export type Handler = (req: Request) => Promise<Reply | unknown> | Reply | unknown;

/** Lets a handler take over the raw response (SSE, streaming). */
export type RawHandler = (req: Request, res: http.ServerResponse) => void | Promise<void>;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
  raw?: RawHandler;
}

export interface ServiceOptions {
  name: string;
  port?: number;
  host?: string;
  /** Largest request body accepted, bytes. */
  maxBodyBytes?: number;
  /** Readiness beyond "listening": e.g. model loaded, store reachable. */
  ready?: () => boolean | Promise<boolean>;
  /** Exit on SIGTERM/SIGINT after a graceful close (default true; false when embedded in another program). */
  handleSignals?: boolean;
  /** pino level (default LOG_LEVEL or info). */
  logLevel?: string;
  /** Collect Node process metrics (default true). */
  processMetrics?: boolean;
  /** Runs after the server stops accepting connections, before exit. */
  onShutdown?: () => Promise<void> | void;
}

export interface Service {
  readonly name: string;
  readonly log: Logger;
  readonly metrics: client.Registry;
  route(method: string, pattern: string, handler: Handler): Service;
  rawRoute(method: string, pattern: string, handler: RawHandler): Service;
  listen(): Promise<number>;
  close(): Promise<void>;
  readonly port: number;
}

export function createService(opts: ServiceOptions): Service {
  const log = pino({
    level: opts.logLevel ?? process.env.LOG_LEVEL ?? 'info',
    base: { service: opts.name, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
  const metrics = new client.Registry();
  if (opts.processMetrics !== false) {
    // The event-loop delay monitor samples on a timer: at the default 10 ms it woke every idle
    // service 100 times a second, most of the idle pipeline's CPU on this VM (BENCHMARKS.md).
    const prefix = `${opts.name.replace(/-/g, '_')}_`;
    client.collectDefaultMetrics({ register: metrics, prefix, eventLoopMonitoringPrecision: 100 });
    // prom-client's nodejs_active_{handles,requests,resources}_total are gauges named like counters,
    // which `promtool check metrics` rejects. Each is the sum over `type` of the gauge of the same
    // name without _total (sum(<prefix>nodejs_active_handles)), so dropping them loses nothing.
    for (const kind of ['handles', 'requests', 'resources'])
      metrics.removeSingleMetric(`${prefix}nodejs_active_${kind}_total`);
  }
  const requests = new client.Counter({
    name: 'http_requests_total',
    help: 'HTTP requests served, by route pattern and status class',
    labelNames: ['method', 'route', 'code'],
    registers: [metrics],
  });
  const duration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request handling time',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [metrics],
  });
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const routes: Route[] = [];
  let shuttingDown = false;
  let boundPort = 0;

  const svc: Service = {
    name: opts.name,
    log,
    metrics,
    get port() {
      return boundPort;
    },
    route(method, pattern, handler) {
      routes.push({ method, parts: split(pattern), handler });
      return svc;
    },
    rawRoute(method, pattern, raw) {
      routes.push({ method, parts: split(pattern), handler: () => undefined, raw });
      return svc;
    },
    listen,
    close,
  };

  svc.route('GET', '/healthz', () => ({ body: { status: 'ok' } }));
  svc.route('GET', '/readyz', async () => {
    const ok = !shuttingDown && (opts.ready ? await opts.ready() : true);
    return { status: ok ? 200 : 503, body: { ready: ok } };
  });
  svc.route('GET', '/metrics', async () => ({
    text: await metrics.metrics(),
    headers: { 'content-type': metrics.contentType },
  }));

  const server = http.createServer((req, res) => {
    void handle(req, res);
  });
  server.keepAliveTimeout = 65_000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'http://local');
    const method = req.method ?? 'GET';
    let match: ReturnType<typeof find>;
    let badPath: HttpError | undefined;
    try {
      match = find(method, url.pathname);
    } catch {
      badPath = new HttpError(
        400,
        'MALFORMED_REQUEST',
        `path: invalid percent-encoding in ${url.pathname}`,
        'path',
      );
    }
    const routeLabel = match ? `/${match.route.parts.join('/')}` : 'unmatched';
    let bodyPromise: Promise<Buffer> | undefined;
    const request: Request = {
      method,
      path: url.pathname,
      params: match?.params ?? {},
      query: url.searchParams,
      headers: req.headers,
      raw: () => {
        bodyPromise ??= readBody(req, maxBody);
        return bodyPromise;
      },
      json: async () => {
        const buf = await request.raw();
        // A body declared as something else is refused before it is parsed (curl -d without
        // -H 'content-type: application/json' sends a form); no content-type at all is taken as JSON.
        const type = String(req.headers['content-type'] ?? '')
          .split(';')[0]
          .trim()
          .toLowerCase();
        if (type !== '' && type !== 'application/json' && !/^[\w.-]+\/[\w.-]+\+json$/.test(type))
          throw new HttpError(
            415,
            'UNSUPPORTED_MEDIA_TYPE',
            `content-type: expected application/json, found ${JSON.stringify(type.slice(0, 100))}`,
            'content-type',
          );
        if (buf.length === 0)
          throw new HttpError(
            400,
            'MALFORMED_REQUEST',
            'request body: expected a JSON document, found an empty body',
            '(body)',
          );
        const text = buf.toString('utf8');
        // Nesting is bounded before parsing: handlers and logs serialize values recursively, and a
        // 1 MiB body of brackets would overflow the stack there (a 500 instead of a 400).
        const depth = jsonDepth(text);
        if (depth > MAX_JSON_DEPTH)
          throw new HttpError(
            400,
            'MALFORMED_REQUEST',
            `request body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`,
            '(body)',
          );
        try {
          return JSON.parse(text);
        } catch (e) {
          throw new HttpError(
            400,
            'MALFORMED_REQUEST',
            `request body: invalid JSON (${(e as Error).message})`,
            '(body)',
          );
        }
      },
    };
    let status = 500;
    try {
      if (badPath) throw badPath;
      if (!match) {
        const allowed = routes.some((r) => matchParts(r.parts, split(url.pathname)));
        throw allowed
          ? new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}`)
          : new HttpError(404, 'ENDPOINT_NOT_FOUND', `no endpoint ${method} ${url.pathname}`);
      }
      if (match.route.raw) {
        status = 200;
        await match.route.raw(request, res);
        return;
      }
      const out = await match.route.handler(request);
      const reply: Reply = isReply(out) ? out : { body: out ?? {} };
      status = reply.status ?? 200;
      if (reply.text !== undefined) {
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...reply.headers });
        res.end(reply.text);
      } else {
        const payload = JSON.stringify(reply.body ?? {});
        res.writeHead(status, { 'content-type': 'application/json', ...reply.headers });
        res.end(payload);
      }
    } catch (err) {
      const e =
        err instanceof HttpError
          ? err
          : new HttpError(500, 'INTERNAL_ERROR', (err as Error)?.message ?? String(err));
      status = e.status;
      // 503 is an expected answer during chaos (dependency down): one warn line, no stack.
      if (status === 503) log.warn({ path: url.pathname, code: e.code }, e.message);
      else if (status >= 500) log.error({ err, path: url.pathname }, 'request failed');
      if (!res.headersSent) {
        res.writeHead(status, {
          'content-type': 'application/json',
          ...(e.status === 413 ? { connection: 'close' } : {}),
        });
      }
      res.end(
        JSON.stringify({ error_code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) }),
      );
    } finally {
      const secs = Number(process.hrtime.bigint() - started) / 1e9;
      requests.inc({ method, route: routeLabel, code: `${Math.floor(status / 100)}xx` });
      duration.observe({ method, route: routeLabel }, secs);
    }
  }

  function find(method: string, path: string) {
    const parts = split(path);
    for (const route of routes) {
      if (route.method !== method) continue;
      const params = matchParts(route.parts, parts);
      if (params) return { route, params };
    }
    return undefined;
  }

  async function listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
    boundPort = (server.address() as AddressInfo).port;
    log.info({ port: boundPort }, 'listening');
    process.send?.({ type: 'listening', service: opts.name, port: boundPort });
    if (opts.handleSignals !== false) registerForSignals(close, log);
    return boundPort;
  }

  async function close() {
    if (shuttingDown) return;
    shuttingDown = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // In-flight requests get a grace period; then connections are cut so shutdown stays bounded.
    const grace = setTimeout(() => server.closeAllConnections(), 3000);
    await closed;
    clearTimeout(grace);
    await opts.onShutdown?.();
    log.info('stopped');
  }

  return svc;
}

// One signal handler per process closes every service in it (tests start many in one process).
const closers = new Set<() => Promise<void>>();
let signalsHooked = false;
function registerForSignals(close: () => Promise<void>, log: Logger) {
  closers.add(close);
  if (signalsHooked) return;
  signalsHooked = true;
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    Promise.all([...closers].map((c) => c())).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

function isReply(v: unknown): v is Reply {
  return (
    typeof v === 'object' &&
    v !== null &&
    ('body' in v || 'text' in v || 'status' in v) &&
    Object.keys(v).every((k) => k === 'body' || k === 'text' || k === 'status' || k === 'headers')
  );
}

function split(path: string): string[] {
  return path.split('/').filter(Boolean);
}

function matchParts(pattern: string[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === '*') {
      params['*'] = parts.slice(i).map(decodeURIComponent).join('/');
      return parts.length > i ? params : undefined;
    }
    if (i >= parts.length) return undefined;
    if (p.startsWith(':')) params[p.slice(1)] = decodeURIComponent(parts[i]);
    else if (p !== parts[i]) return undefined;
  }
  return pattern.length === parts.length ? params : undefined;
}

/** Deepest nesting of arrays/objects in a JSON text (brackets inside strings do not count). */
export const MAX_JSON_DEPTH = 64;
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 93 || c === 125) depth--;
  }
  return max;
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      reject(
        new HttpError(
          413,
          'PAYLOAD_TOO_LARGE',
          `request body: ${declared} bytes exceeds the limit of ${limit} bytes`,
          '(body)',
        ),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(
          new HttpError(
            413,
            'PAYLOAD_TOO_LARGE',
            `request body: exceeds the limit of ${limit} bytes`,
            '(body)',
          ),
        );
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
