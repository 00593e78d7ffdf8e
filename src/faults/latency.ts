import { nowMs } from '../load/clock.ts';
import { selectsLink } from '../pipeline/topology.ts';
import { type Fault, http, type Prepared } from './fault.ts';

export interface LatencySpec {
  link: string;
  toxic?: 'latency' | 'timeout' | 'reset_peer' | 'bandwidth' | 'down';
  latency?: number;
  jitter?: number;
  timeout?: number;
  /** KB/s, for bandwidth. */
  rate?: number;
  toxicity?: number;
  stream?: 'upstream' | 'downstream';
}

/** Network faults on a named link, through a Toxiproxy API (built-in on local, real Toxiproxy elsewhere). */
export const latency: Fault<'latency', LatencySpec> = {
  type: 'latency',
  fromScenario: (f) => ({
    link: f.link,
    toxic: f.toxic,
    latency: f.latency,
    jitter: f.jitter,
    timeout: f.timeout,
    rate: f.rate,
    toxicity: f.toxicity,
    stream: f.stream,
  }),
  links: (f) => [f.link],
  async prepare(spec, ctx) {
    const { links } = ctx.endpoints;
    // `gateway->model-server` means every replica's link; `gateway->model-server-1` just one.
    const targets = links.filter((l) => selectsLink(spec.link, l));
    if (targets.length === 0) {
      throw new Error(`latency: unknown link "${spec.link}" (this pipeline has: ${links.join(', ')})`);
    }
    if (targets.length === 1)
      return prepareLink(spec, targets[0], ctx.endpoints.toxiproxy, ctx.endpoints.adminToken);
    const parts = targets.map((l) => prepareLink(spec, l, ctx.endpoints.toxiproxy, ctx.endpoints.adminToken));
    return {
      undo: { kind: 'many', undos: parts.map((p) => p.undo) },
      plan: { links: targets, ...parts[0].plan },
      inject: async () => {
        // The first link's toxic is where the fault starts acting.
        const results = [];
        for (const p of parts) results.push(await p.inject());
        return { t0: Math.min(...results.map((r) => r.t0)), details: { links: targets } };
      },
    };
  },
};

// The local fault proxy wants the admin token for writes; a real Toxiproxy ignores it.
function prepareLink(spec: LatencySpec, link: string, toxiproxy: string, token: string): Prepared {
  {
    spec = { ...spec, link };
    const kind = spec.toxic ?? 'latency';
    if (kind === 'down') {
      return {
        undo: { kind: 'link-enabled', link: spec.link },
        plan: { link: spec.link, toxic: 'down' },
        inject: async () => {
          // Link down: connections may be cut before the API call returns.
          const t0 = nowMs();
          await http(
            'POST',
            `${toxiproxy}/proxies/${encodeURIComponent(spec.link)}`,
            { enabled: false },
            token,
          );
          return { t0 };
        },
      };
    }
    const name = `faultline_${kind}_${Date.now().toString(36)}`;
    const attributes: Record<string, number> =
      kind === 'latency'
        ? { latency: spec.latency ?? 0, jitter: spec.jitter ?? 0 }
        : kind === 'bandwidth'
          ? { rate: spec.rate ?? 0 }
          : { timeout: spec.timeout ?? 0 };
    const toxic = {
      name,
      type: kind,
      stream: spec.stream ?? 'downstream',
      toxicity: spec.toxicity ?? 1,
      attributes,
    };
    return {
      undo: { kind: 'toxic', link: spec.link, toxic: name },
      plan: { link: spec.link, toxic },
      inject: async () => {
        // Toxic added: the proxy applies it to traffic as soon as it is stored, before the API answers.
        const t0 = nowMs();
        await http('POST', `${toxiproxy}/proxies/${encodeURIComponent(spec.link)}/toxics`, toxic, token);
        return { t0 };
      },
    };
  }
}
