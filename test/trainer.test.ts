import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureServer, start as startFeatureServer } from '../src/pipeline/feature-server/server.ts';
import { RegistryClient } from '../src/pipeline/registry/client.ts';
import { type RegistryHandle, start as startRegistry } from '../src/pipeline/registry/server.ts';
import {
  CHALLENGER_ALIAS,
  CHAMPION_ALIAS,
  deriveInputs,
  FALLBACK_MODEL,
  MONITORED_REQUEST_FEATURES,
  ModelArtifact,
  PRIMARY_MODEL,
  STORE_FEATURE_NAMES,
  score,
  Transaction,
} from '../src/pipeline/schema.ts';
import { generateTransactions, generateUsers, PayloadGenerator } from '../src/pipeline/trainer/data.ts';
import { runTrainer } from '../src/pipeline/trainer/job.ts';
import {
  auc,
  BROKEN_INPUT,
  degrade,
  evaluate,
  trainModel,
  userLookup,
} from '../src/pipeline/trainer/train.ts';

// Smaller than production (5000 users, 30k rows) to keep the suite light; the AUC bounds are the same.
const users = generateUsers(42, 2000);
const lookup = userLookup(users);
const rows = generateTransactions(7, users, 24_000);
const primary = trainModel(rows, lookup, { role: 'primary', seed: 7 });
const fallback = trainModel(rows, lookup, { role: 'fallback', seed: 7 });
// Fresh traffic the models never saw.
const fresh = generateTransactions(8, users, 12_000);

describe('auc', () => {
  it('matches hand-counted pairs, ties counting one half', () => {
    // Positives 0.8, 0.4; negatives 0.5, 0.4, 0.1. Pairs: (0.8>0.5,0.4,0.1)=3, (0.4 vs 0.5)=0,
    // (0.4 = 0.4)=0.5, (0.4>0.1)=1 → 4.5 of 6.
    expect(auc([0.8, 0.5, 0.4, 0.4, 0.1], [1, 0, 1, 0, 0])).toBeCloseTo(4.5 / 6, 12);
    expect(auc([1, 2, 3], [0, 0, 1])).toBe(1);
    expect(auc([1, 2, 3], [1, 0, 0])).toBe(0);
    expect(Number.isNaN(auc([1, 2], [1, 1]))).toBe(true);
  });
});

describe('synthetic data', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    expect(generateUsers(42, 50)).toEqual(generateUsers(42, 50));
    expect(generateUsers(43, 50)).not.toEqual(generateUsers(42, 50));
    expect(generateTransactions(7, users, 200)).toEqual(rows.slice(0, 200));
  });

  it('produces valid transactions for existing users with a 0.5–2% fraud rate', () => {
    const rate = rows.reduce((a, r) => a + r.label, 0) / rows.length;
    expect(rate).toBeGreaterThanOrEqual(0.005);
    expect(rate).toBeLessThanOrEqual(0.02);
    const ids = new Set(users.map((u) => u.user_id));
    for (const r of rows.slice(0, 2000)) {
      expect(Transaction.safeParse(r.tx).success).toBe(true);
      expect(ids.has(r.tx.user_id)).toBe(true);
    }
    expect(users[0].user_id).toBe('u00000');
    expect(users[1999].user_id).toBe('u01999');
  });

  it('fraud concentrates on the risky patterns the design names', () => {
    const share = (pred: (r: (typeof rows)[number]) => boolean) => {
      const sel = rows.filter(pred);
      return sel.reduce((a, r) => a + r.label, 0) / sel.length;
    };
    const transferDrain = share(
      (r) => r.tx.type === 'TRANSFER' && r.tx.new_balance === 0 && r.tx.old_balance > 0,
    );
    const cashIn = share((r) => r.tx.type === 'CASH_IN');
    expect(transferDrain).toBeGreaterThan(5 * cashIn);
    const velocityHigh = share((r) => (lookup.get(r.tx.user_id)?.txn_count_24h ?? 0) >= 10);
    const velocityLow = share((r) => (lookup.get(r.tx.user_id)?.txn_count_24h ?? 0) <= 2);
    expect(velocityHigh).toBeGreaterThan(3 * velocityLow);
  });

  it('PayloadGenerator is seeded and sends for users of the default population', () => {
    const a = new PayloadGenerator(7);
    const b = new PayloadGenerator(7);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xs);
    const population = new Set(generateUsers(42, 5000).map((u) => u.user_id));
    for (const tx of xs) {
      expect(Transaction.safeParse(tx).success).toBe(true);
      expect(population.has(tx.user_id)).toBe(true);
    }
    expect(new Set(xs.map((t) => t.transaction_id)).size).toBe(100);
  });
});

describe('training', () => {
  it('is deterministic: same seed and data → identical artifacts', () => {
    const again = trainModel(rows, lookup, { role: 'fallback', seed: 7 });
    expect(again).toEqual(fallback);
    expect(trainModel(rows, lookup, { role: 'fallback', seed: 8 })).not.toEqual(fallback);
  });

  it('produces schema-valid artifacts whose inputs are what deriveInputs computes', () => {
    for (const m of [primary, fallback]) expect(ModelArtifact.safeParse(m).success).toBe(true);
    expect(primary.inputs).toEqual(Object.keys(deriveInputs(rows[0].tx, lookup.get(rows[0].tx.user_id))));
    expect(fallback.inputs).toEqual(Object.keys(deriveInputs(rows[0].tx)));
    expect(primary.name).toBe(PRIMARY_MODEL);
    expect(fallback.name).toBe(FALLBACK_MODEL);
  });

  it('primary AUC ≥ 0.90, fallback ≥ 0.75 and clearly below primary (holdout and fresh traffic)', () => {
    expect(primary.metrics?.auc).toBeGreaterThanOrEqual(0.9);
    expect(fallback.metrics?.auc).toBeGreaterThanOrEqual(0.75);
    const p = evaluate(primary, fresh, lookup).auc;
    const f = evaluate(fallback, fresh, lookup).auc;
    expect(p).toBeGreaterThanOrEqual(0.9);
    expect(f).toBeGreaterThanOrEqual(0.75);
    expect(p - f).toBeGreaterThan(0.05);
  });

  it('thresholds are holdout percentiles: ~3% reviewed, decline above review', () => {
    expect(primary.thresholds.decline).toBeGreaterThan(primary.thresholds.review);
    expect(primary.metrics?.positive_rate).toBeCloseTo(0.03, 2);
    const ev = evaluate(primary, fresh, lookup);
    expect(ev.positive_rate).toBeGreaterThan(0.015);
    expect(ev.positive_rate).toBeLessThan(0.05);
    // Calibrated despite subsampling legitimate rows: mean score near the fraud rate.
    expect(ev.mean_score).toBeGreaterThan(ev.fraud_rate * 0.6);
    expect(ev.mean_score).toBeLessThan(ev.fraud_rate * 1.6);
  });

  it('reference holds ≤ 1000 raw values of every monitored feature', () => {
    const names = [...MONITORED_REQUEST_FEATURES, ...STORE_FEATURE_NAMES];
    expect(Object.keys(primary.reference).sort()).toEqual([...names].sort());
    for (const n of names) {
      const v = primary.reference[n].values;
      expect(v.length).toBe(1000);
      expect(v.every(Number.isFinite)).toBe(true);
    }
    // Raw, not derived: hours are integers 0..23.
    expect(primary.reference.hour.values.every((h) => Number.isInteger(h) && h >= 0 && h <= 23)).toBe(true);
  });

  it('trains 30k rows quickly (generous bound)', () => {
    const big = generateTransactions(11, users, 30_000);
    const t = performance.now();
    trainModel(big, lookup, { role: 'primary', seed: 11 });
    expect(performance.now() - t).toBeLessThan(5000);
  });
});

describe('degraded versions', () => {
  it('skewed flags a much larger share with the same thresholds', () => {
    const bad = degrade(primary, 'skewed');
    expect(bad.degraded).toBe('skewed');
    const good = evaluate(primary, fresh, lookup).positive_rate;
    const ev = evaluate(bad, fresh, lookup);
    expect(ev.positive_rate).toBeGreaterThan(0.5);
    expect(ev.positive_rate).toBeGreaterThan(10 * good);
  });

  it('inverted collapses the AUC below 0.5', () => {
    const bad = degrade(primary, 'inverted');
    expect(evaluate(bad, fresh, lookup).auc).toBeLessThan(0.5);
  });

  it('broken needs an input nobody derives, so scoring throws', () => {
    const bad = degrade(primary, 'broken');
    expect(ModelArtifact.safeParse(bad).success).toBe(true);
    expect(bad.inputs).toContain(BROKEN_INPUT);
    const tx = fresh[0].tx;
    expect(() => score(bad, deriveInputs(tx, lookup.get(tx.user_id)))).toThrow(BROKEN_INPUT);
    // The original is untouched.
    expect(primary.inputs).not.toContain(BROKEN_INPUT);
    expect(primary.degraded).toBeUndefined();
  });
});

describe('trainer job against a real registry and feature-server', () => {
  const TOKEN = 'trainer-test-token';
  let dir: string;
  let registry: RegistryHandle;
  let features: FeatureServer;
  let client: RegistryClient;
  const base = () => ({
    registryUrl: registry.url,
    featureServerUrl: features.url,
    adminToken: TOKEN,
    seed: 5,
    users: 600,
    rows: 12_000,
  });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-trainer-'));
    registry = await startRegistry({
      db: path.join(dir, 'registry.db'),
      artifactRoot: path.join(dir, 'artifacts'),
      adminToken: TOKEN,
    });
    features = await startFeatureServer({
      store: path.join(dir, 'features.db'),
      adminToken: TOKEN,
      handleSignals: false,
    });
    client = new RegistryClient({ url: registry.url, token: TOKEN });
  });
  afterAll(async () => {
    await features?.close();
    await registry?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('bootstrap registers v1, v2 and the fallback, sets champions and materializes every user', async () => {
    const r = await runTrainer({ ...base(), mode: 'bootstrap', materializeBatch: 250 });
    expect(r.versions[PRIMARY_MODEL]).toEqual({ v1: '1', v2: '2' });
    expect(r.versions[FALLBACK_MODEL]).toEqual({ v1: '1' });
    expect(r.created).toHaveLength(3);
    expect((await client.getAlias(PRIMARY_MODEL, CHAMPION_ALIAS))?.version).toBe('2');
    expect((await client.getAlias(FALLBACK_MODEL, CHAMPION_ALIAS))?.version).toBe('1');
    expect(r.auc.primary).toBeGreaterThanOrEqual(0.9);
    expect(r.auc.fallback).toBeGreaterThanOrEqual(0.75);
    expect(r.materialized).toMatchObject({ rows: 600, written: 600, skipped: 0, duplicate_runs: 0 });
    expect(r.materialized?.run_ids).toEqual(['bootstrap-5-1of3', 'bootstrap-5-2of3', 'bootstrap-5-3of3']);

    // The champion artifact is downloadable and valid; the store serves the user's features.
    const champ = await client.getAlias(PRIMARY_MODEL, CHAMPION_ALIAS);
    const art = ModelArtifact.parse(
      JSON.parse((await client.downloadArtifact(champ!.source)).toString('utf8')),
    );
    expect(art.role).toBe('primary');
    const res = await fetch(`${features.url}/v1/features/u00599`);
    const body = (await res.json()) as { features: Record<string, { value: number; status: string }> };
    const u = generateUsers(42, 600)[599];
    for (const n of STORE_FEATURE_NAMES) {
      expect(body.features[n].status).toBe('PRESENT');
      expect(body.features[n].value).toBe(u.features[n]);
    }
  });

  it('running bootstrap again registers nothing new and rewrites nothing', async () => {
    const r = await runTrainer({ ...base(), mode: 'bootstrap', materializeBatch: 250 });
    expect(r.created).toEqual([]);
    expect(r.reused).toHaveLength(3);
    expect(r.versions[PRIMARY_MODEL]).toEqual({ v1: '1', v2: '2' });
    expect(r.auc.primary).toBeGreaterThanOrEqual(0.9);
    expect(r.materialized).toMatchObject({ written: 0, duplicate_runs: 3 });
    const rm = await client.getRegisteredModel(PRIMARY_MODEL);
    expect(rm.latest_versions?.[0].version).toBe('2');
  });

  it('retrain registers a challenger and leaves the champion alone', async () => {
    const r = await runTrainer({ ...base(), mode: 'retrain' });
    expect(r.version).toBe('3');
    expect((await client.getAlias(PRIMARY_MODEL, CHALLENGER_ALIAS))?.version).toBe('3');
    expect((await client.getAlias(PRIMARY_MODEL, CHAMPION_ALIAS))?.version).toBe('2');
    expect(r.auc.primary).toBeGreaterThanOrEqual(0.9);
  });

  it('degraded:skewed registers a degraded copy of the champion without promoting it', async () => {
    const r = await runTrainer({ ...base(), mode: 'degraded:skewed' });
    expect(r.version).toBe('4');
    const mv = await client.getModelVersion(PRIMARY_MODEL, '4');
    const art = ModelArtifact.parse(JSON.parse((await client.downloadArtifact(mv.source)).toString('utf8')));
    expect(art.degraded).toBe('skewed');
    expect(art.metrics?.positive_rate).toBeGreaterThan(0.5);
    expect((await client.getAlias(PRIMARY_MODEL, CHAMPION_ALIAS))?.version).toBe('2');
    // Idempotent too.
    expect((await runTrainer({ ...base(), mode: 'degraded:skewed' })).version).toBe('4');
    await expect(runTrainer({ ...base(), mode: 'degraded:melted' })).rejects.toThrow(/unknown degradation/);
  });

  it('main.ts exits 2 on bad configuration and 1 with a clear message when the registry is down', () => {
    const node = process.execPath;
    const entry = path.resolve('src/pipeline/trainer/main.ts');
    const bad = spawnSync(node, [entry], {
      env: { ...process.env, REGISTRY_URL: registry.url, MODE: 'nonsense' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/MODE/);
    const down = spawnSync(node, [entry], {
      env: { ...process.env, REGISTRY_URL: 'http://127.0.0.1:9', MODE: 'degraded:inverted' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/registry unreachable/);
    expect(down.stdout).toBe('');
  });
});
