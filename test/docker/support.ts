// Shared setup of the tests that need a Docker engine (test/docker/): import it in each such file.
// It sets Testcontainers' environment (read when a container is first started, not on import) and
// says whether an engine answers, so those tests are skipped, with the reason in their name, on a
// machine without one, unless FAULTLINE_REQUIRE_DOCKER=1 (CI starts the engine first): then they fail.
import { GenericContainer, getContainerRuntimeClient, Wait } from 'testcontainers';
import { describe, it } from 'vitest';

// Testcontainers finds the host of mapped ports by inspecting the engine, and where it believes it
// runs inside a container (this VM has /.dockerenv) it starts an `alpine` container to look: an image
// no registry here can supply. A local engine publishes ports on the host's loopback, so say so
// (an engine reached over TCP publishes them on its own host, which Testcontainers finds itself).
const dockerHost = process.env.DOCKER_HOST ?? '';
if (!dockerHost || dockerHost.startsWith('unix:')) process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
// Ryuk, Testcontainers' reaper, is an image no registry here can supply either; containers are
// removed by the tests themselves (and by Faultline's label cleanup for the platform's runs).
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';

async function probe(): Promise<string | undefined> {
  try {
    const client = await getContainerRuntimeClient();
    await client.info;
    return undefined;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

/** Why no engine can be used, or undefined when one answers. */
export const noEngine = await probe();
const required = process.env.FAULTLINE_REQUIRE_DOCKER === '1';

/**
 * `describe` for tests that need a Docker engine: runs them when one answers; without one, skips
 * them with the reason in the suite's name, or (FAULTLINE_REQUIRE_DOCKER=1) fails with it.
 */
export function describeDocker(name: string, fn: () => void): void {
  if (!noEngine) {
    describe(name, fn);
  } else if (required) {
    describe(name, () => {
      it('needs a Docker engine (FAULTLINE_REQUIRE_DOCKER=1)', () => {
        throw new Error(`no Docker engine answers: ${noEngine}. Start one with scripts/start-docker.`);
      });
    });
  } else {
    // The default reporter does not list skipped tests by name: say why on the console too.
    console.warn(`${name}: skipped, no Docker engine answers (${noEngine}); scripts/start-docker starts one`);
    describe.skip(
      `${name} [skipped: no Docker engine answers (${noEngine}); scripts/start-docker starts one]`,
      fn,
    );
  }
}

/**
 * Runs a Node script (ES module) to completion in a one-shot container of the pipeline image and
 * returns the last line it printed that parses as JSON. The container is removed afterwards.
 */
export async function runNodeScript(
  image: string,
  script: string,
  configure: (c: GenericContainer) => GenericContainer = (c) => c,
): Promise<unknown> {
  const job = await configure(new GenericContainer(image))
    .withEntrypoint(['node'])
    .withCommand(['--input-type=module', '-e', script])
    .withWaitStrategy(Wait.forOneShotStartup())
    .withStartupTimeout(60_000)
    .start();
  try {
    const out = await new Promise<string>((resolve, reject) => {
      let text = '';
      job
        .logs()
        .then((s) => s.on('data', (d) => (text += d)).on('end', () => resolve(text)))
        .catch(reject);
    });
    const line = out
      .split('\n')
      .reverse()
      .find((l) => l.startsWith('{'));
    if (!line) throw new Error(`the script printed no JSON line:\n${out}`);
    return JSON.parse(line);
  } finally {
    await job.stop();
  }
}
