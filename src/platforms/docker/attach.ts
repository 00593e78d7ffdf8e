// Reaching a docker pipeline from another process (cleanup, `pipeline down|status`): its endpoints
// are in the state dir's docker-state.json, its containers and network carry the run's label. The
// containers outlive their owner (nothing reaps them without Ryuk), so a service an outage stopped
// can be started again after the runner died.
import fs from 'node:fs';
import path from 'node:path';
import { forgetActive, isAlive, waitGone } from '../active.ts';
import type { AttachedPlatform, AttachRecord } from '../platform.ts';
import type { DockerState } from './docker-platform.ts';
import { dockerClient, removeRun, runContainers, SERVICE_LABEL } from './engine.ts';
import { PIPELINE_PORT } from './images.ts';

export const STATE_FILE = 'docker-state.json';

export async function attachDocker(record: AttachRecord): Promise<AttachedPlatform> {
  const state = readState(record.stateDir);
  const docker = async () => (await dockerClient()).container.dockerode;
  return {
    record,
    endpoints: state?.endpoints ?? undefined,
    ownerAlive: () => isAlive(record.ownerPid),
    async startService(service) {
      const d = await docker();
      const stopped = (await runContainers(d, record.runId)).filter(
        (c) => c.Labels[SERVICE_LABEL] === service && c.State !== 'running',
      );
      if (stopped.length === 0) return `${service} was running`;
      for (const c of stopped) await d.getContainer(c.Id).start();
      return `started ${service} again (${stopped.map((c) => c.Names[0]?.replace(/^\//, '')).join(', ')})`;
    },
    async status() {
      const d = await docker();
      return (await runContainers(d, record.runId))
        .filter((c) => c.Labels[SERVICE_LABEL])
        .map((c) => {
          const port = c.Ports.find((p) => p.PrivatePort === PIPELINE_PORT && p.PublicPort);
          return {
            name: c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12),
            state: c.State,
            restarts: 0,
            url: port ? `http://127.0.0.1:${port.PublicPort}` : '',
          };
        });
    },
    async teardown() {
      const removed: string[] = [];
      if (record.ownerPid !== process.pid && isAlive(record.ownerPid)) {
        // The owner stops its own pipeline (and reverts its own faults) on SIGTERM.
        process.kill(record.ownerPid, 'SIGTERM');
        await waitGone([record.ownerPid], 15_000);
        removed.push(`owner ${record.ownerPid}`);
      }
      // Whatever the owner left (all of it after a SIGKILL): by the run's label.
      removed.push(...(await removeRun(await docker(), record.runId)));
      forgetActive(record);
      return { removed };
    },
  };
}

function readState(stateDir: string): DockerState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, STATE_FILE), 'utf8')) as DockerState;
  } catch {
    return undefined;
  }
}
