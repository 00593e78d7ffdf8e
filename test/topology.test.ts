// One source of truth for the pipeline's names: the scenario format accepts exactly the link names
// that select a link the platform can proxy (src/pipeline/topology.ts).
import { describe, expect, it } from 'vitest';
import { isLinkSelector, LINKS, pipelineLinks, SERVICES, selectsLink } from '../src/pipeline/topology.ts';
import { wantsProxy } from '../src/platforms/local/local-platform.ts';
import { LatencyFault } from '../src/scenario/schema.ts';

const acceptsLink = (link: string) =>
  LatencyFault.safeParse({ type: 'latency', at: '1s', duration: '1s', link, latency: '10ms' }).success;

describe('pipeline topology: names shared by the scenario format and the platforms', () => {
  it('the scenario schema accepts exactly the names that select a link the platform proxies', () => {
    const replicas = 2;
    const links = pipelineLinks({ replicas });
    // Every ordered pair of services, bare and with replica-like suffixes (in range, canary, garbage).
    const candidates = SERVICES.flatMap((a) =>
      SERVICES.flatMap((b) => ['', '-0', '-1', '-canary', '-x', '-'].map((sfx) => `${a}->${b}${sfx}`)),
    );
    const accepted = candidates.filter(acceptsLink).sort();
    const proxiable = candidates.filter((c) => links.some((l) => selectsLink(c, l))).sort();
    expect(accepted).toEqual(proxiable);
    expect(accepted).toContain('gateway->model-server');
    for (const l of links) expect(acceptsLink(l), l).toBe(true);
    for (const family of LINKS)
      expect(
        links.some((l) => selectsLink(family, l)),
        family,
      ).toBe(true);
  });

  it('the canary link exists only with a canary replica, which a scenario run never starts', () => {
    const canaryLinks = pipelineLinks({ replicas: 2, canary: true }).filter(
      (l) => !pipelineLinks({ replicas: 2 }).includes(l),
    );
    expect(canaryLinks).toEqual(['gateway->model-server-canary']);
    // `pipeline up --canary --fault-links …` may name it; a scenario may not (it would fail at injection).
    expect(isLinkSelector('gateway->model-server-canary', { canary: true })).toBe(true);
    expect(isLinkSelector('gateway->model-server-canary')).toBe(false);
    expect(acceptsLink('gateway->model-server-canary')).toBe(false);
    // The family name still reaches the canary's link when one runs, on the proxy side as in a fault.
    expect(wantsProxy(['gateway->model-server'], 'gateway->model-server-canary')).toBe(true);
  });

  it('one link per replica, in the order the platform proxies them', () => {
    expect(pipelineLinks({ replicas: 3 })).toEqual([
      'model-server->feature-server',
      'model-server->registry',
      'gateway->model-server-0',
      'gateway->model-server-1',
      'gateway->model-server-2',
    ]);
  });
});
