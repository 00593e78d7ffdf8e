// Trainer job entry point: `node src/pipeline/trainer/main.ts` configured by environment.
//   REGISTRY_URL (required), FEATURE_SERVER_URL (bootstrap materializes user features there),
//   ADMIN_TOKEN, SEED (default 42), MODE (bootstrap | retrain | degraded:<skewed|inverted|broken>;
//   default retrain, so the controller's retrain trigger can spawn the job as is),
//   USERS (population size, default 5000), POPULATION_SEED (default 42), WAIT_READY_MS (how long
//   to wait for the registry and feature-server to answer /readyz before starting, default 0: like
//   a Kubernetes Job, it may be started before its dependencies).
// stdout: exactly one JSON line, the result. Progress logs go to stderr as JSON lines.
// Exit code 0 on success, 1 on failure (message on stderr), 2 on invalid configuration.
import { envNumber, envString } from '../common/config.ts';
import { pollReady } from '../common/ready.ts';
import { DEFAULT_POPULATION_SEED, DEFAULT_POPULATION_SIZE } from './data.ts';
import { runTrainer, type TrainerMode } from './job.ts';
import { DEGRADED_KINDS, isDegradedKind } from './train.ts';

const log = (msg: string, fields: Record<string, unknown> = {}) =>
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), service: 'trainer', msg, ...fields })}\n`,
  );

let config: Parameters<typeof runTrainer>[0];
let waitReadyMs = 0;
try {
  const mode = envString('MODE', 'retrain') as TrainerMode;
  if (
    mode !== 'bootstrap' &&
    mode !== 'retrain' &&
    !(mode.startsWith('degraded:') && isDegradedKind(mode.slice(9)))
  ) {
    throw new Error(
      `environment variable MODE: expected bootstrap, retrain or degraded:<${DEGRADED_KINDS.join('|')}>, found "${mode}"`,
    );
  }
  const seed = envNumber('SEED', 42);
  if (!Number.isInteger(seed))
    throw new Error(`environment variable SEED: expected an integer, found "${process.env.SEED}"`);
  config = {
    registryUrl: envString('REGISTRY_URL'),
    featureServerUrl: process.env.FEATURE_SERVER_URL || undefined,
    adminToken: process.env.ADMIN_TOKEN || undefined,
    seed,
    mode,
    users: envNumber('USERS', DEFAULT_POPULATION_SIZE),
    populationSeed: envNumber('POPULATION_SEED', DEFAULT_POPULATION_SEED),
    log,
  };
  waitReadyMs = envNumber('WAIT_READY_MS', 0);
} catch (e) {
  process.stderr.write(`trainer: invalid configuration: ${(e as Error).message}\n`);
  process.exit(2);
}

try {
  const started = Date.now();
  log('trainer started', { mode: config.mode, seed: config.seed, registry: config.registryUrl });
  const deps = [config.registryUrl, config.featureServerUrl].filter((u): u is string => !!u);
  // Not ready in time is not fatal here: the job's own first call then says what is wrong.
  await Promise.all(deps.map((u) => pollReady(u, waitReadyMs, { intervalMs: 25 })));
  const result = await runTrainer(config);
  log('trainer finished', { duration_ms: Date.now() - started });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (e) {
  process.stderr.write(`trainer: ${config.mode} failed: ${(e as Error).message}\n`);
  process.exit(1);
}
