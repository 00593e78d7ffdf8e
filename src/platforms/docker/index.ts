import type { PlatformProvider } from '../platform.ts';
import { attachDocker } from './attach.ts';
import { DockerPlatform } from './docker-platform.ts';

export const dockerProvider: PlatformProvider = {
  kind: 'docker',
  description:
    'containers through Testcontainers: a network per run, Redis, Toxiproxy and Prometheus (needs a Docker engine)',
  create: (options) => new DockerPlatform(options),
  attach: attachDocker,
};
