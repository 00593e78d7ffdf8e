// The network the engine scripts/start-docker starts gives containers: they reach each other on
// their network (by alias), and nothing outside the machine (no MASQUERADE, no forwarding).
import dns from 'node:dns/promises';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedisContainer, type StartedRedisContainer } from '@testcontainers/redis';
import { getContainerRuntimeClient, Network, type StartedNetwork } from 'testcontainers';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { imageName } from '../../src/platforms/docker/images.ts';
import { describeDocker, runNodeScript } from './support.ts';

const real = (p: string) => (fs.existsSync(p) ? fs.realpathSync(p) : path.resolve(p));
const startDockerRoot = real(
  path.join(process.env.FAULTLINE_CACHE ?? path.join(os.homedir(), '.cache', 'faultline'), 'docker-data'),
);

describeDocker('docker engine network', () => {
  let network: StartedNetwork | undefined;
  let redis: StartedRedisContainer | undefined;
  let engineRoot = '';

  beforeAll(async () => {
    engineRoot = real((await (await getContainerRuntimeClient()).container.dockerode.info()).DockerRootDir);
    network = await new Network().start();
    redis = await new RedisContainer(imageName('redis'))
      .withNetwork(network)
      .withNetworkAliases('redis')
      .start();
  });
  afterAll(async () => {
    await redis?.stop();
    await network?.stop();
  });

  it('containers reach each other by alias, and no public address', async (ctx) => {
    // Another engine's network policy is its owner's (Docker Desktop gives containers the internet).
    ctx.skip(
      engineRoot !== startDockerRoot,
      `the engine (data root ${engineRoot}) was not started by scripts/start-docker`,
    );
    // An address this machine itself reaches (it installs packages from there): a container must not.
    // Resolved here: names outside the machine do not resolve inside a container (EAI_AGAIN after 10 s).
    const npm = await dns.lookup('registry.npmjs.org').then(
      (a) => a.address,
      () => '1.0.0.1',
    );
    const script = `
      import net from 'node:net';
      const probe = (host, port) => new Promise((resolve) => {
        const s = net.connect({ host, port, timeout: 3000 });
        s.on('connect', () => { s.destroy(); resolve('connected'); });
        s.on('timeout', () => { s.destroy(); resolve('timeout'); });
        s.on('error', (e) => resolve(e.code));
      });
      // Probed at once: each unreachable one waits out its timeout.
      const targets = [['redis', 6379], ['1.1.1.1', 443], ['8.8.8.8', 53], ['${npm}', 443]];
      const results = await Promise.all(targets.map(([h, p]) => probe(h, p)));
      const out = Object.fromEntries(targets.map(([h, p], i) => [h + ':' + p, results[i]]));
      console.log(JSON.stringify(out));`;
    const result = (await runNodeScript(imageName('pipeline'), script, (c) =>
      c.withNetwork(network as StartedNetwork),
    )) as Record<string, string>;
    expect(result['redis:6379']).toBe('connected');
    expect(result['1.1.1.1:443']).not.toBe('connected');
    expect(result['8.8.8.8:53']).not.toBe('connected');
    expect(result[`${npm}:443`]).not.toBe('connected');
  });
});
