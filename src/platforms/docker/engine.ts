// The Docker engine as the docker platform uses it: Testcontainers' environment on machines like
// these, the run labels every object carries, and removal of everything a run left (by label).
import type Dockerode from 'dockerode';
import { type ContainerRuntimeClient, getContainerRuntimeClient } from 'testcontainers';

/**
 * Testcontainers reads these when it first talks to the engine (not on import), so setting defaults
 * here, before any container starts, is enough. An explicit setting in the environment wins.
 * - TESTCONTAINERS_HOST_OVERRIDE: where this process runs inside something that looks like a
 *   container (this VM has /.dockerenv), Testcontainers starts an `alpine` container to find the
 *   host of mapped ports; a local engine publishes them on the host's loopback, so say so.
 * - TESTCONTAINERS_RYUK_DISABLED: Ryuk's image cannot be had without a registry here. Faultline
 *   removes its own objects by run label (stop(), and `faultline cleanup` after a kill -9), so the
 *   reaper is not needed; a user whose Ryuk works can set it to false.
 */
export function setTestcontainersDefaults(env: NodeJS.ProcessEnv = process.env): void {
  // Only for a local engine: one reached over TCP publishes ports on its own host, which
  // Testcontainers finds itself.
  const dockerHost = env.DOCKER_HOST ?? '';
  if (!dockerHost || dockerHost.startsWith('unix:')) env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
  env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
}

/** The label that ties a container, network or volume to one run (value: the run id). */
export const RUN_LABEL = 'faultline.io/run';
export const PART_OF_LABEL = 'app.kubernetes.io/part-of';
export const SERVICE_LABEL = 'faultline.io/service';
export const REPLICA_LABEL = 'faultline.io/replica';
/** `service` (a pipeline service replica), `job` (trainer) or `infra` (redis, toxiproxy, prometheus). */
export const ROLE_LABEL = 'faultline.io/role';

export function runLabels(runId: string): Record<string, string> {
  return { [RUN_LABEL]: runId, [PART_OF_LABEL]: 'faultline' };
}

export async function dockerClient(): Promise<ContainerRuntimeClient> {
  setTestcontainersDefaults();
  return getContainerRuntimeClient();
}

const byRun = (runId: string) => JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });

/** Containers of a run, running or not. */
export function runContainers(docker: Dockerode, runId: string): Promise<Dockerode.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: byRun(runId) });
}

/**
 * Removes every container (with its anonymous volumes), network and volume labelled with the run,
 * in that order (a network goes only once no container is attached). Returns what it removed.
 */
export async function removeRun(docker: Dockerode, runId: string): Promise<string[]> {
  const removed: string[] = [];
  const containers = await runContainers(docker, runId);
  await Promise.all(
    containers.map(async (c) => {
      try {
        await docker.getContainer(c.Id).remove({ force: true, v: true });
        removed.push(`container ${c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12)}`);
      } catch (e) {
        if (!isGone(e)) throw e;
      }
    }),
  );
  for (const n of await docker.listNetworks({ filters: byRun(runId) })) {
    // A container being removed may hold its endpoint a moment longer.
    for (let attempt = 0; ; attempt++) {
      try {
        await docker.getNetwork(n.Id).remove();
        removed.push(`network ${n.Name}`);
        break;
      } catch (e) {
        if (isGone(e)) break;
        if (attempt >= 20) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
  const { Volumes } = await docker.listVolumes({ filters: byRun(runId) });
  for (const v of Volumes ?? []) {
    try {
      await docker.getVolume(v.Name).remove();
      removed.push(`volume ${v.Name}`);
    } catch (e) {
      if (!isGone(e)) throw e;
    }
  }
  return removed;
}

/** A 404 (already gone) or 409 "removal already in progress" from the engine. */
export function isGone(e: unknown): boolean {
  const err = e as { statusCode?: number; message?: string };
  return err.statusCode === 404 || (err.statusCode === 409 && /already in progress/.test(err.message ?? ''));
}
