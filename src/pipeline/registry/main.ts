// Entry point: configuration from the environment only (see docs/architecture.md, registry section).
import { envNumber, envString } from '../common/config.ts';
import { start } from './server.ts';

await start({
  port: envNumber('PORT', 0),
  host: envString('HOST', '127.0.0.1'),
  db: envString('REGISTRY_DB', '.faultline/registry.db'),
  artifactRoot: envString('ARTIFACT_ROOT', '.faultline/artifacts'),
  // Unset → writes are open; fine on a developer laptop, never in a shared environment.
  adminToken: process.env.ADMIN_TOKEN || undefined,
  maxArtifactBytes: envNumber('MAX_ARTIFACT_BYTES', 20 * 1024 * 1024),
});
