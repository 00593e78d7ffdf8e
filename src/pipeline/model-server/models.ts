// The serving models: the primary behind MODEL_ALIAS and the fallback behind `champion`, loaded from
// the registry and hot-reloaded when an alias moves. A swap is one reference assignment, so a request
// scores entirely with the old or entirely with the new model. A bad artifact never replaces a good one.

import type { Logger } from 'pino';
import client from 'prom-client';
import {
  CHAMPION_ALIAS,
  deriveInputs,
  FALLBACK_MODEL,
  type ModelArtifact,
  PRIMARY_MODEL,
} from '../schema.ts';
import { checkArtifact } from './validation.ts';

/** The part of the registry client the model-server needs (src/pipeline/registry/client.ts). */
export interface ModelSource {
  getAlias(name: string, alias: string): Promise<{ version: string; source: string } | undefined>;
  downloadArtifact(source: string): Promise<Buffer>;
}

export type ModelRole = 'primary' | 'fallback';

export interface LoadedModel {
  role: ModelRole;
  /** Registered model name. */
  name: string;
  alias: string;
  version: string;
  source: string;
  artifact: ModelArtifact;
  loadedAt: Date;
}

interface Slot {
  role: ModelRole;
  name: string;
  alias: string;
  current?: LoadedModel;
  /** Version whose artifact failed validation: not downloaded again until the alias moves on. */
  rejected?: string;
  /** "alias not set yet" is logged once, not at every startup poll. */
  warnedUnset?: boolean;
}

/** Registry poll period while the first models are not loaded yet. */
const STARTUP_POLL_MS = 100;

export interface ModelManagerOptions {
  registry: ModelSource;
  alias: string;
  /** Load the fallback model too (false when the fallback mechanism is disabled). */
  withFallback: boolean;
  intervalMs: number;
  metrics: client.Registry;
  log: Logger;
  /** Called after a model is swapped in (the drift monitor follows the primary's reference). */
  onSwap?: (model: LoadedModel) => void;
}

export class ModelManager {
  private readonly slots: Slot[];
  private readonly opts: ModelManagerOptions;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private polling?: Promise<void>;
  private readonly info: client.Gauge<'alias' | 'model_name' | 'model_role' | 'version'>;
  private readonly reloads: client.Counter<'model_role'>;
  private readonly failures: client.Counter<'model_role'>;
  private readonly pollErrors: client.Counter;
  private lastPollWarn = 0;
  private suppressedWarns = 0;

  constructor(opts: ModelManagerOptions) {
    this.opts = opts;
    this.slots = [{ role: 'primary', name: PRIMARY_MODEL, alias: opts.alias }];
    if (opts.withFallback) this.slots.push({ role: 'fallback', name: FALLBACK_MODEL, alias: CHAMPION_ALIAS });
    const registers = [opts.metrics];
    this.info = new client.Gauge({
      name: 'model_server_model_info',
      help: 'Model version being served (value 1), by alias, registered model name and role',
      labelNames: ['alias', 'model_name', 'model_role', 'version'],
      registers,
    });
    this.reloads = new client.Counter({
      name: 'model_server_model_reloads_total',
      help: 'Model versions swapped in (initial load included)',
      labelNames: ['model_role'],
      registers,
    });
    this.failures = new client.Counter({
      name: 'model_server_model_load_failures_total',
      help: 'Model artifacts rejected by validation (the previous model kept serving)',
      labelNames: ['model_role'],
      registers,
    });
    this.pollErrors = new client.Counter({
      name: 'model_server_registry_poll_errors_total',
      help: 'Registry polls or downloads that failed (serving continues with the loaded models)',
      registers,
    });
  }

  get primary(): LoadedModel | undefined {
    return this.slots[0].current;
  }

  get fallback(): LoadedModel | undefined {
    return this.slots[1]?.current;
  }

  /** Ready once every model it is responsible for has been loaded. */
  ready(): boolean {
    return this.slots.every((s) => s.current !== undefined);
  }

  /** Polls now, then every intervalMs until stop(). Never rejects: errors are logged and counted. */
  start(): Promise<void> {
    const first = this.pollOnce();
    const loop = () => {
      if (this.stopped) return;
      // Until the first models load (a replica may boot before the trainer registers them), poll
      // often: readiness waits on it.
      const every = this.ready() ? this.opts.intervalMs : Math.min(this.opts.intervalMs, STARTUP_POLL_MS);
      this.timer = setTimeout(async () => {
        await this.pollOnce();
        loop();
      }, every);
    };
    void first.then(loop);
    return first;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }

  /** One pass over every slot (no overlap: a slow registry delays the next pass, never stacks them). */
  pollOnce(): Promise<void> {
    this.polling ??= Promise.all(this.slots.map((s) => this.pollSlot(s))).then(
      () => {
        this.polling = undefined;
      },
      () => {
        this.polling = undefined;
      },
    );
    return this.polling;
  }

  /** During a registry outage every poll fails: log the first failure, then one summary per 10 s. */
  private warnThrottled(obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - this.lastPollWarn < 10_000) {
      this.suppressedWarns++;
      return;
    }
    this.opts.log.warn({ ...obj, suppressed: this.suppressedWarns }, msg);
    this.lastPollWarn = now;
    this.suppressedWarns = 0;
  }

  private async pollSlot(slot: Slot): Promise<void> {
    const { registry, log } = this.opts;
    let target: { version: string; source: string } | undefined;
    try {
      target = await registry.getAlias(slot.name, slot.alias);
    } catch (e) {
      this.pollErrors.inc();
      this.warnThrottled(
        { err: e, model: slot.name, alias: slot.alias },
        'registry poll failed; keeping the loaded model',
      );
      return;
    }
    if (!target) {
      if (!slot.current && !slot.warnedUnset) {
        slot.warnedUnset = true;
        log.info({ model: slot.name, alias: slot.alias }, 'alias not set yet; waiting for it');
      }
      return;
    }
    if (target.version === slot.current?.version || target.version === slot.rejected) return;
    let raw: Buffer;
    try {
      raw = await registry.downloadArtifact(target.source);
    } catch (e) {
      this.pollErrors.inc();
      this.warnThrottled(
        { err: e, model: slot.name, version: target.version },
        'artifact download failed; will retry',
      );
      return;
    }
    const checked = checkArtifact(raw, slot.role);
    if (!checked.ok) {
      slot.rejected = target.version;
      this.failures.inc({ model_role: slot.role });
      log.error(
        {
          model: slot.name,
          version: target.version,
          error: checked.error,
          serving: slot.current?.version ?? null,
        },
        'rejected model artifact; keeping the loaded model',
      );
      return;
    }
    if (this.stopped) return;
    const unknown = checked.artifact.inputs.filter((i) => !derivable(slot.role).has(i));
    if (unknown.length) {
      log.warn(
        { model: slot.name, version: target.version, unknown },
        'model uses inputs this server does not derive; scoring will fail',
      );
    }
    const previous = slot.current;
    const loaded: LoadedModel = {
      role: slot.role,
      name: slot.name,
      alias: slot.alias,
      version: target.version,
      source: target.source,
      artifact: checked.artifact,
      loadedAt: new Date(),
    };
    slot.current = loaded;
    slot.rejected = undefined;
    if (previous)
      this.info.remove({
        alias: slot.alias,
        model_name: slot.name,
        model_role: slot.role,
        version: previous.version,
      });
    this.info.set(
      { alias: slot.alias, model_name: slot.name, model_role: slot.role, version: loaded.version },
      1,
    );
    this.reloads.inc({ model_role: slot.role });
    log.info(
      { model: slot.name, alias: slot.alias, version: loaded.version, previous: previous?.version ?? null },
      'model loaded',
    );
    try {
      this.opts.onSwap?.(loaded);
    } catch (e) {
      log.error({ err: e, model: slot.name, version: loaded.version }, 'post-swap hook failed');
    }
  }
}

const SAMPLE_TX = {
  user_id: 'x',
  type: 'PAYMENT',
  amount: 1,
  old_balance: 1,
  new_balance: 0,
  hour: 0,
  merchant_risk: 0,
} as const;
const SAMPLE_STORE = {
  txn_count_24h: 0,
  avg_amount_30d: 0,
  account_age_days: 0,
  chargebacks_90d: 0,
  distinct_devices_7d: 0,
};
const DERIVABLE = {
  primary: new Set(Object.keys(deriveInputs(SAMPLE_TX, SAMPLE_STORE))),
  fallback: new Set(Object.keys(deriveInputs(SAMPLE_TX))),
};
const derivable = (role: ModelRole) => DERIVABLE[role];
