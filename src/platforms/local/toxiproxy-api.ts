// The subset of Toxiproxy's HTTP API that the harness uses, served over the built-in proxies, so one
// network-fault client works against the local platform and a real Toxiproxy alike.
import { z } from 'zod';
import { adminGuard } from '../../pipeline/common/auth.ts';
import { createService, HttpError, type Service } from '../../pipeline/common/service.ts';
import { parseBody } from '../../pipeline/common/validate.ts';
import { FaultProxy, ProxyError, type ToxicType } from './proxy.ts';

const ToxicBody = z
  .object({
    name: z.string().min(1).max(100).optional(),
    type: z.enum(['latency', 'timeout', 'reset_peer', 'bandwidth', 'slow_close', 'limit_data']),
    stream: z.enum(['upstream', 'downstream']).optional(),
    toxicity: z.number().min(0).max(1).optional(),
    attributes: z.record(z.string(), z.number().finite().min(0)).default({}),
  })
  .strict();

const ProxyBody = z
  .object({
    name: z.string().min(1).max(100),
    listen: z.string().min(3),
    upstream: z.string().min(3),
    enabled: z.boolean().optional(),
  })
  .strict();

export class ProxyHub {
  readonly proxies = new Map<string, FaultProxy>();

  async add(name: string, listen: string, upstream: string): Promise<FaultProxy> {
    if (this.proxies.has(name)) throw new ProxyError(409, `proxy ${name} already exists`);
    const p = new FaultProxy({ name, listen, upstream });
    await p.start();
    this.proxies.set(name, p);
    return p;
  }

  get(name: string): FaultProxy {
    const p = this.proxies.get(name);
    if (!p)
      throw new ProxyError(404, `proxy ${name} not found (known: ${[...this.proxies.keys()].join(', ')})`);
    return p;
  }

  /** Toxiproxy's /reset: every proxy enabled, every toxic removed. */
  async reset(): Promise<void> {
    for (const p of this.proxies.values()) {
      p.resetToxics();
      await p.setEnabled(true);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    this.proxies.clear();
  }
}

/**
 * With `adminToken`, every write (create, enable/disable, toxics, reset) needs it as a bearer token;
 * reads stay open. Toxiproxy itself has no auth and ignores the header, so one client serves both.
 */
export function toxiproxyApi(
  hub: ProxyHub,
  opts: { port?: number; host?: string; adminToken?: string } = {},
): Service {
  const requireAdmin = adminGuard(opts.adminToken);
  const svc = createService({
    name: 'faultline-proxy',
    port: opts.port,
    host: opts.host,
    handleSignals: false,
    processMetrics: false,
    logLevel: 'warn',
  });
  const wrap = <T>(fn: () => T | Promise<T>) =>
    Promise.resolve()
      .then(fn)
      .catch((e) => {
        if (e instanceof ProxyError)
          throw new HttpError(e.status, e.status === 404 ? 'NOT_FOUND' : 'CONFLICT', e.message);
        throw e;
      });
  svc.route('GET', '/version', () => ({ text: 'faultline-toxiproxy-compatible/1' }));
  svc.route('GET', '/proxies', () => Object.fromEntries([...hub.proxies].map(([n, p]) => [n, p.state()])));
  svc.route('POST', '/proxies', async (req) => {
    requireAdmin(req);
    const b = parseBody(ProxyBody, await req.json());
    return wrap(async () => {
      const p = await hub.add(b.name, b.listen, b.upstream);
      if (b.enabled === false) await p.setEnabled(false);
      return { status: 201, body: p.state() };
    });
  });
  svc.route('POST', '/reset', (req) => {
    requireAdmin(req);
    return wrap(() => hub.reset().then(() => ({ status: 204, text: '' })));
  });
  svc.route('GET', '/proxies/:proxy', (req) => wrap(() => hub.get(req.params.proxy).state()));
  svc.route('POST', '/proxies/:proxy', async (req) => {
    requireAdmin(req);
    const b = parseBody(z.object({ enabled: z.boolean() }).strict(), await req.json());
    return wrap(async () => {
      const p = hub.get(req.params.proxy);
      await p.setEnabled(b.enabled);
      return p.state();
    });
  });
  svc.route('GET', '/proxies/:proxy/toxics', (req) => wrap(() => hub.get(req.params.proxy).state().toxics));
  svc.route('POST', '/proxies/:proxy/toxics', async (req) => {
    requireAdmin(req);
    const b = parseBody(ToxicBody, await req.json());
    return wrap(() => hub.get(req.params.proxy).addToxic({ ...b, type: b.type as ToxicType }));
  });
  svc.route('DELETE', '/proxies/:proxy/toxics/:toxic', (req) => {
    requireAdmin(req);
    return wrap(() => {
      hub.get(req.params.proxy).removeToxic(req.params.toxic);
      return { status: 204, text: '' };
    });
  });
  return svc;
}
