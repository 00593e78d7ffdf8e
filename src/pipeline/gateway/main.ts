// Entry point: configuration from the environment only (see docs/architecture.md "gateway").
import { disabled, envNumber, envString } from '../common/config.ts';
import { start } from './server.ts';

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

try {
  await start({
    port: envNumber('PORT', 0),
    host: envString('HOST', '127.0.0.1'),
    upstreams: list(envString('UPSTREAMS')),
    canaryUpstreams: list(process.env.CANARY_UPSTREAMS),
    canaryWeight: envNumber('CANARY_WEIGHT', 0),
    upstreamTimeoutMs: envNumber('UPSTREAM_TIMEOUT_MS', 1000),
    maxRetries: envNumber('MAX_RETRIES', 2),
    retryBudgetPercent: envNumber('RETRY_BUDGET_PERCENT', 20),
    retryBudgetMin: envNumber('RETRY_BUDGET_MIN', 3),
    outlierConsecutiveFailures: envNumber('OUTLIER_CONSECUTIVE_FAILURES', 3),
    outlierBaseEjectionMs: envNumber('OUTLIER_BASE_EJECTION_MS', 5000),
    outlierMaxEjectionMs: envNumber('OUTLIER_MAX_EJECTION_MS', 60_000),
    outlierMaxEjectionPercent: envNumber('OUTLIER_MAX_EJECTION_PERCENT', 50),
    disabled: disabled(),
    adminToken: process.env.ADMIN_TOKEN || undefined,
  });
} catch (err) {
  process.stderr.write(
    `${JSON.stringify({ level: 'fatal', service: 'gateway', msg: (err as Error).message })}\n`,
  );
  process.exit(1);
}
