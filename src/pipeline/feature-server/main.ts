// Entry point: configuration from the environment only (docs/architecture.md "feature-server").
// SIGTERM/SIGINT are handled by the service skeleton: it stops listening, drains, then closes the store.
import { envNumber, envString } from '../common/config.ts';
import { DEFAULT_TTL_SECONDS, start } from './server.ts';

try {
  await start({
    port: envNumber('PORT', 0),
    host: envString('HOST', '127.0.0.1'),
    store: envString('FEATURE_STORE', '.faultline/features.db'),
    ttlSeconds: envNumber('FEATURE_TTL_SECONDS', DEFAULT_TTL_SECONDS),
    adminToken: process.env.ADMIN_TOKEN || undefined,
  });
} catch (err) {
  console.error(JSON.stringify({ level: 'fatal', service: 'feature-server', msg: (err as Error).message }));
  process.exit(1);
}
