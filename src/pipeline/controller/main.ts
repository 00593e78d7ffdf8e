// Controller entry point: environment → config → start(). Thresholds are documented in README.md here.
import { disabled, envNumber, envString } from '../common/config.ts';
import type { Thresholds } from './rules.ts';
import { start } from './server.ts';

function envBool(name: string): boolean | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new Error(`environment variable ${name}: expected true or false, found "${v}"`);
}

const num = (name: string): number | undefined => (process.env[name] ? envNumber(name) : undefined);

function argv(name: string): string[] | undefined {
  const v = process.env[name];
  if (!v) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch (e) {
    throw new Error(
      `environment variable ${name}: expected a JSON array of strings (${(e as Error).message})`,
    );
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((x) => typeof x === 'string')) {
    throw new Error(
      `environment variable ${name}: expected a non-empty JSON array of strings, e.g. ["node","src/pipeline/trainer/main.ts"]`,
    );
  }
  return parsed;
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const thresholds: Partial<Thresholds> = {};
const set = <K extends keyof Thresholds>(k: K, v: Thresholds[K] | undefined) => {
  if (v !== undefined) thresholds[k] = v;
};
set('windowS', num('WINDOW_S'));
set('errorRate', num('ROLLBACK_ERROR_RATE'));
set('p99Ms', num('ROLLBACK_P99_MS'));
set('scoreShiftAbs', num('ROLLBACK_SCORE_SHIFT'));
set('scoreShiftFactor', num('ROLLBACK_SCORE_SHIFT_FACTOR'));
set('meanScoreShift', num('ROLLBACK_MEAN_SCORE_SHIFT'));
set('driftPsi', num('ROLLBACK_DRIFT_PSI'));
set('rollbackOnDrift', envBool('ROLLBACK_ON_DRIFT'));
set('breachEvaluations', num('BREACH_EVALUATIONS'));
set('alertEvaluations', num('ALERT_EVALUATIONS'));
set('clearEvaluations', num('CLEAR_EVALUATIONS'));
set('minSamples', num('MIN_SAMPLES'));
set('cooldownS', num('COOLDOWN_S'));
set('goodAfterS', num('GOOD_AFTER_S'));
set('retrainPsi', num('DRIFT_PSI_THRESHOLD'));
set('retrainAfterS', num('RETRAIN_AFTER_S'));
set('retrainCooldownS', num('RETRAIN_COOLDOWN_S'));
set('trustInitialChampion', envBool('TRUST_INITIAL_CHAMPION'));

const steps = list(process.env.CANARY_STEPS).map(Number);
if (steps.some((s) => !Number.isInteger(s) || s < 1 || s > 100)) {
  throw new Error(
    `environment variable CANARY_STEPS: expected a comma list of weights 1-100, found "${process.env.CANARY_STEPS}"`,
  );
}

await start({
  port: envNumber('PORT', 0),
  host: envString('HOST', '127.0.0.1'),
  registryUrl: envString('REGISTRY_URL'),
  gatewayUrl: process.env.GATEWAY_URL || undefined,
  modelServerUrls: [...list(process.env.MODEL_SERVER_URLS), ...list(process.env.CANARY_MODEL_SERVER_URLS)],
  adminToken: process.env.ADMIN_TOKEN || undefined,
  disabled: disabled(),
  evalIntervalMs: num('EVAL_INTERVAL_MS'),
  thresholds,
  eventsFile: process.env.EVENTS_FILE || undefined,
  retrainCommand: argv('RETRAIN_COMMAND'),
  retrainTimeoutMs:
    num('RETRAIN_TIMEOUT_S') !== undefined ? envNumber('RETRAIN_TIMEOUT_S') * 1000 : undefined,
  modelName: process.env.MODEL_NAME || undefined,
  canarySteps: steps.length ? steps : undefined,
  canaryStepSeconds: num('CANARY_STEP_SECONDS'),
});
