// The trainer job: trains, registers and (for bootstrap) materializes user features. Every mode is
// idempotent: each version it registers carries a `faultline.trainer_key` tag naming what it is
// (`bootstrap:42:primary:v2`, `retrain:42:primary`, `degraded:skewed:of:2`); a re-run finds that tag
// and reuses the version instead of registering a duplicate. Training is deterministic for a seed, so
// a reused version is exactly what a new run would have produced.

import { RegistryClient, RegistryError } from '../registry/client.ts';
import {
  CHALLENGER_ALIAS,
  CHAMPION_ALIAS,
  FALLBACK_MODEL,
  ModelArtifact,
  PRIMARY_MODEL,
  STORE_FEATURE_NAMES,
} from '../schema.ts';
import { cachedTraining } from './cache.ts';
import {
  DEFAULT_POPULATION_SEED,
  DEFAULT_POPULATION_SIZE,
  type GenerationShift,
  generateTransactions,
  generateUsers,
  type SyntheticUser,
} from './data.ts';
import {
  DEGRADED_KINDS,
  degrade,
  evaluate,
  isDegradedKind,
  type Role,
  trainModel,
  userLookup,
} from './train.ts';

export type TrainerMode = 'bootstrap' | 'retrain' | `degraded:${string}`;

export interface TrainerOptions {
  registryUrl: string;
  /** Needed by bootstrap to materialize user features; without it bootstrap only registers models. */
  featureServerUrl?: string;
  adminToken?: string;
  seed: number;
  mode: TrainerMode;
  /** Population size (users u00000…); default 5000. */
  users?: number;
  /** Seed of the user population; default DEFAULT_POPULATION_SEED, the one the load generator assumes. */
  populationSeed?: number;
  /** Training rows for the main models; default 30 000 (v1 of bootstrap uses a third). */
  rows?: number;
  /** retrain: train on shifted traffic (e.g. the drift the controller saw). */
  shift?: GenerationShift;
  /** Rows per materialization request (bodies stay well under the feature-server's 1 MiB). Default 2000. */
  materializeBatch?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface TrainerResult {
  mode: TrainerMode;
  seed: number;
  /** The version this run produced (retrain: the challenger; degraded: the degraded version). */
  version?: string;
  /** Version per label for each registered model this run dealt with, e.g. { 'fraud-primary': { v1: '1', v2: '2' } }. */
  versions: Record<string, Record<string, string>>;
  /** Aliases after the run. */
  aliases: Record<string, Record<string, string>>;
  /** Holdout AUC of the models this run produced (null: not computable, e.g. a broken model). */
  auc: { primary: number | null; fallback: number | null };
  /** Labels registered by this run / found already registered and reused. */
  created: string[];
  reused: string[];
  materialized?: {
    run_ids: string[];
    rows: number;
    written: number;
    skipped: number;
    duplicate_runs: number;
  };
}

const KEY_TAG = 'faultline.trainer_key';
const AUC_TAG = 'faultline.auc';
/** Offsets keep the data of each purpose independent for one SEED. */
const V1_SEED_OFFSET = 1_000;
const RETRAIN_SEED_OFFSET = 2_000;
const EVAL_SEED_OFFSET = 3_000;

export async function runTrainer(opts: TrainerOptions): Promise<TrainerResult> {
  const log = opts.log ?? (() => {});
  if (!Number.isInteger(opts.seed)) throw new Error(`seed: expected an integer, found ${opts.seed}`);
  const registry = new RegistryClient({ url: opts.registryUrl, token: opts.adminToken, timeoutMs: 10_000 });
  const users = generateUsers(
    opts.populationSeed ?? DEFAULT_POPULATION_SEED,
    opts.users ?? DEFAULT_POPULATION_SIZE,
  );
  const ctx: Ctx = { opts, registry, users, log, created: [], reused: [] };
  if (opts.mode === 'bootstrap') return bootstrap(ctx);
  if (opts.mode === 'retrain') return retrain(ctx);
  if (opts.mode.startsWith('degraded:')) {
    const kind = opts.mode.slice('degraded:'.length);
    if (!isDegradedKind(kind))
      throw new Error(
        `MODE ${opts.mode}: unknown degradation "${kind}" (expected degraded:${DEGRADED_KINDS.join(' | degraded:')})`,
      );
    return degraded(ctx, kind);
  }
  throw new Error(
    `MODE "${opts.mode}": expected bootstrap, retrain or degraded:<${DEGRADED_KINDS.join('|')}>`,
  );
}

interface Ctx {
  opts: TrainerOptions;
  registry: RegistryClient;
  users: SyntheticUser[];
  log: (msg: string, fields?: Record<string, unknown>) => void;
  created: string[];
  reused: string[];
}

interface Registered {
  version: string;
  auc: number | null;
}

/** Version already registered under `key`, from the tags of every version of `name`. */
async function findByKey(
  registry: RegistryClient,
  name: string,
  key: string,
): Promise<Registered | undefined> {
  let latest: number;
  try {
    const rm = await registry.getRegisteredModel(name);
    latest = Math.max(0, ...(rm.latest_versions ?? []).map((v) => Number(v.version)).filter(Number.isFinite));
  } catch (e) {
    if (e instanceof RegistryError && e.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
    throw e;
  }
  // Versions are 1..latest (MLflow numbering); newest first, since re-runs usually match recent ones.
  for (let v = latest; v >= 1; v--) {
    let mv: Awaited<ReturnType<RegistryClient['getModelVersion']>>;
    try {
      mv = await registry.getModelVersion(name, v);
    } catch (e) {
      if (e instanceof RegistryError && e.errorCode === 'RESOURCE_DOES_NOT_EXIST') continue;
      throw e;
    }
    const tags = mv.tags ?? [];
    if (tags.some((t) => t.key === KEY_TAG && t.value === key)) {
      const auc = Number(tags.find((t) => t.key === AUC_TAG)?.value);
      return { version: mv.version, auc: Number.isFinite(auc) ? auc : null };
    }
  }
  return undefined;
}

/** Registers what `make` builds under `key` unless a version with that key exists already. */
async function ensureVersion(
  ctx: Ctx,
  name: string,
  label: string,
  key: string,
  make: () => { artifact: ModelArtifact; auc: number | null },
): Promise<Registered> {
  await ctx.registry.ensureRegisteredModel(name);
  const found = await findByKey(ctx.registry, name, key);
  if (found) {
    ctx.reused.push(`${name}:${label}`);
    ctx.log('version already registered; reusing it', { model: name, label, key, version: found.version });
    return found;
  }
  const started = Date.now();
  // Only pure training is cached; a degraded version derives from whatever the champion is right now.
  const { artifact, auc, cached } = key.startsWith('degraded:')
    ? { ...make(), cached: false }
    : cachedTraining(
        `${key}:users=${ctx.users.length}:pop=${ctx.opts.populationSeed ?? DEFAULT_POPULATION_SEED}`,
        make,
      );
  ModelArtifact.parse(artifact);
  const tags: Record<string, string> = {
    [KEY_TAG]: key,
    'faultline.mode': ctx.opts.mode,
    'faultline.seed': String(ctx.opts.seed),
  };
  if (auc !== null) tags[AUC_TAG] = String(auc);
  if (artifact.degraded) tags['faultline.degraded'] = artifact.degraded;
  const version = await ctx.registry.registerModelJson(name, artifact, {
    description: `${label} (${key})`,
    tags,
    runId: key,
  });
  ctx.created.push(`${name}:${label}`);
  ctx.log('registered model version', {
    model: name,
    label,
    key,
    version,
    auc,
    train_ms: Date.now() - started,
    cached,
  });
  return { version, auc };
}

function trainFor(ctx: Ctx, role: Role, dataSeed: number, rows: number, shift?: GenerationShift) {
  const data = generateTransactions(dataSeed, ctx.users, rows, shift);
  const artifact = trainModel(data, userLookup(ctx.users), {
    role,
    seed: dataSeed,
    trainedAt: new Date().toISOString(),
  });
  return { artifact, auc: artifact.metrics?.auc ?? null };
}

async function bootstrap(ctx: Ctx): Promise<TrainerResult> {
  const { seed } = ctx.opts;
  const rows = ctx.opts.rows ?? 30_000;
  const k = (what: string) => `bootstrap:${seed}:${what}`;
  // v1: the "previous release" — an older seed and a third of the data; still a good model, so a
  // rollback to it is a sane mitigation.
  const v1 = await ensureVersion(ctx, PRIMARY_MODEL, 'v1', k('primary:v1'), () =>
    trainFor(ctx, 'primary', seed + V1_SEED_OFFSET, Math.max(2000, Math.floor(rows / 3))),
  );
  const v2 = await ensureVersion(ctx, PRIMARY_MODEL, 'v2', k('primary:v2'), () =>
    trainFor(ctx, 'primary', seed, rows),
  );
  const fb = await ensureVersion(ctx, FALLBACK_MODEL, 'v1', k('fallback:v1'), () =>
    trainFor(ctx, 'fallback', seed, rows),
  );
  // Bootstrap (re)establishes the baseline: champion → v2, fallback champion → its v1.
  await ctx.registry.setAlias(PRIMARY_MODEL, CHAMPION_ALIAS, v2.version);
  await ctx.registry.setAlias(FALLBACK_MODEL, CHAMPION_ALIAS, fb.version);

  let materialized: TrainerResult['materialized'];
  if (ctx.opts.featureServerUrl) materialized = await materialize(ctx, `bootstrap-${seed}`);
  else ctx.log('FEATURE_SERVER_URL not set: user features were not materialized');

  return {
    mode: ctx.opts.mode,
    seed,
    versions: { [PRIMARY_MODEL]: { v1: v1.version, v2: v2.version }, [FALLBACK_MODEL]: { v1: fb.version } },
    aliases: {
      [PRIMARY_MODEL]: { [CHAMPION_ALIAS]: v2.version },
      [FALLBACK_MODEL]: { [CHAMPION_ALIAS]: fb.version },
    },
    auc: { primary: v2.auc, fallback: fb.auc },
    created: ctx.created,
    reused: ctx.reused,
    ...(materialized ? { materialized } : {}),
  };
}

async function retrain(ctx: Ctx): Promise<TrainerResult> {
  const { seed, shift } = ctx.opts;
  const shiftKey = shift && Object.keys(shift).length ? `:shift=${JSON.stringify(shift)}` : '';
  const champion = await ctx.registry.getAlias(PRIMARY_MODEL, CHAMPION_ALIAS);
  const made = await ensureVersion(ctx, PRIMARY_MODEL, 'retrain', `retrain:${seed}:primary${shiftKey}`, () =>
    trainFor(ctx, 'primary', seed + RETRAIN_SEED_OFFSET, ctx.opts.rows ?? 30_000, shift),
  );
  // A retrained model is a candidate: canary analysis (or a person) promotes it, never the trainer.
  await ctx.registry.setAlias(PRIMARY_MODEL, CHALLENGER_ALIAS, made.version);
  const aliases: Record<string, string> = { [CHALLENGER_ALIAS]: made.version };
  if (champion) aliases[CHAMPION_ALIAS] = champion.version;
  return {
    mode: ctx.opts.mode,
    seed,
    version: made.version,
    versions: { [PRIMARY_MODEL]: { retrain: made.version } },
    aliases: { [PRIMARY_MODEL]: aliases },
    auc: { primary: made.auc, fallback: null },
    created: ctx.created,
    reused: ctx.reused,
  };
}

async function degraded(ctx: Ctx, kind: (typeof DEGRADED_KINDS)[number]): Promise<TrainerResult> {
  const champion = await ctx.registry.getAlias(PRIMARY_MODEL, CHAMPION_ALIAS);
  if (!champion) {
    throw new Error(
      `${PRIMARY_MODEL} has no "${CHAMPION_ALIAS}" alias: run the trainer with MODE=bootstrap first`,
    );
  }
  const raw = await ctx.registry.downloadArtifact(champion.source);
  const base = ModelArtifact.parse(JSON.parse(raw.toString('utf8')));
  if (base.degraded)
    throw new Error(
      `the champion (${PRIMARY_MODEL} v${champion.version}) is already degraded (${base.degraded}); roll back before degrading again`,
    );
  const made = await ensureVersion(
    ctx,
    PRIMARY_MODEL,
    `degraded_${kind}`,
    `degraded:${kind}:of:${champion.version}`,
    () => {
      const artifact = degrade(base, kind);
      artifact.trained_at = new Date().toISOString();
      if (kind === 'broken') return { artifact, auc: null };
      // Metrics of the bad model on fresh traffic, so the registry shows how bad it is.
      const holdout = generateTransactions(ctx.opts.seed + EVAL_SEED_OFFSET, ctx.users, 10_000);
      const ev = evaluate(artifact, holdout, userLookup(ctx.users));
      artifact.metrics = { auc: ev.auc, positive_rate: ev.positive_rate, mean_score: ev.mean_score };
      return { artifact, auc: ev.auc };
    },
  );
  return {
    mode: ctx.opts.mode,
    seed: ctx.opts.seed,
    version: made.version,
    versions: { [PRIMARY_MODEL]: { [`degraded_${kind}`]: made.version, champion: champion.version } },
    aliases: { [PRIMARY_MODEL]: { [CHAMPION_ALIAS]: champion.version } },
    auc: { primary: made.auc, fallback: null },
    created: ctx.created,
    reused: ctx.reused,
  };
}

/**
 * Writes every user's store features with event time now. One run id per request batch
 * (`<runId>` when it fits one request, else `<runId>-<i>of<n>`): the feature-server skips a repeated
 * run id, so a re-run changes nothing.
 */
async function materialize(ctx: Ctx, runId: string): Promise<NonNullable<TrainerResult['materialized']>> {
  const url = `${(ctx.opts.featureServerUrl as string).replace(/\/+$/, '')}/v1/materialize`;
  const now = new Date().toISOString();
  const batch = ctx.opts.materializeBatch ?? 2000;
  const parts = Math.max(1, Math.ceil(ctx.users.length / batch));
  const out = { run_ids: [] as string[], rows: 0, written: 0, skipped: 0, duplicate_runs: 0 };
  for (let p = 0; p < parts; p++) {
    const id = parts === 1 ? runId : `${runId}-${p + 1}of${parts}`;
    const rows = ctx.users.slice(p * batch, (p + 1) * batch).map((u) => ({
      user_id: u.user_id,
      event_timestamp: now,
      features: Object.fromEntries(STORE_FEATURE_NAMES.map((n) => [n, u.features[n]])),
    }));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (ctx.opts.adminToken) headers.authorization = `Bearer ${ctx.opts.adminToken}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ run_id: id, rows }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      throw new Error(
        `feature-server unreachable at ${url} (${(e as Error).message}): is it running? check FEATURE_SERVER_URL`,
      );
    }
    const text = await res.text();
    if (!res.ok) {
      const hint =
        res.status === 401 || res.status === 403
          ? ' (set ADMIN_TOKEN to the feature-server admin token)'
          : '';
      throw new Error(`materialize ${id}: HTTP ${res.status} ${text.slice(0, 300)}${hint}`);
    }
    const r = JSON.parse(text) as { written: number; skipped: number; duplicate_run: boolean };
    out.run_ids.push(id);
    out.rows += rows.length;
    out.written += r.written;
    out.skipped += r.skipped;
    if (r.duplicate_run) out.duplicate_runs++;
  }
  ctx.log('materialized user features', out);
  return out;
}
