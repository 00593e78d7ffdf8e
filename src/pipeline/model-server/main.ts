// Entry point: configuration from the environment only (see docs/architecture.md, model-server).
import { disabled, envNumber, envString } from '../common/config.ts';
import { start } from './server.ts';

await start({
  port: envNumber('PORT', 0),
  host: envString('HOST', '127.0.0.1'),
  registryUrl: envString('REGISTRY_URL'),
  featureServerUrl: envString('FEATURE_SERVER_URL'),
  modelAlias: envString('MODEL_ALIAS', 'champion'),
  replica: process.env.REPLICA || undefined,
  reloadIntervalMs: envNumber('RELOAD_INTERVAL_MS', 500),
  featureTimeoutMs: envNumber('FEATURE_TIMEOUT_MS', 80),
  driftWindow: envNumber('DRIFT_WINDOW', 1000),
  driftMinSamples: envNumber('DRIFT_MIN_SAMPLES', 500),
  driftKsAlpha: envNumber('DRIFT_KS_ALPHA', 0.05),
  driftKsMinStatistic: envNumber('DRIFT_KS_MIN_STATISTIC', 0.15),
  disabled: disabled(),
  adminToken: process.env.ADMIN_TOKEN || undefined,
});
