// model-server against a real registry and feature-server: primary scoring, each feature-driven
// fallback reason, the request validation gate, /v1/model and the drift monitor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start } from '../src/pipeline/model-server/server.ts';
import { deriveInputs, score } from '../src/pipeline/schema.ts';
import {
  expectStatus,
  fallbackArtifact,
  GOOD_FEATURES,
  http,
  metric,
  type Pipeline,
  predict,
  primaryArtifact,
  publish,
  startPipeline,
  TOKEN,
  TX,
  waitFor,
} from './model-server-fixtures.ts';

describe('model-server: scoring, fallback reasons, validation, drift', () => {
  let p: Pipeline;
  let ms: Awaited<ReturnType<typeof start>>;
  let primaryVersion: string;
  let fallbackVersion: string;

  beforeAll(async () => {
    p = await startPipeline();
    primaryVersion = await publish(p.registry, 'fraud-primary', primaryArtifact());
    fallbackVersion = await publish(p.registry, 'fraud-fallback', fallbackArtifact());
    ms = await start({
      registryUrl: p.registryUrl,
      featureServerUrl: p.featureServerUrl,
      adminToken: TOKEN,
      replica: 0,
      driftIntervalMs: 200,
      driftMinSamples: 100,
    });
    await waitFor(
      async () => (await http('GET', `${ms.url}/readyz`)).status === 200,
      5000,
      'model-server ready',
    );
  });

  afterAll(async () => {
    await ms?.close();
    await p?.close();
  });

  it('scores with the primary model and the user’s online features', async () => {
    const r = expectStatus(200)(await predict(ms.url, { ...TX, transaction_id: 't-1' }));
    const want = score(primaryArtifact(), deriveInputs(TX, GOOD_FEATURES));
    expect(r.body).toEqual({
      transaction_id: 't-1',
      score: want.score,
      decision: want.decision,
      model_name: 'fraud-primary',
      model_version: primaryVersion,
      fallback: { used: false, reason: null },
    });
    expect(r.headers.get('x-model-version')).toBe(primaryVersion);
    expect(r.headers.get('x-fallback')).toBe('none');
    // The fallback model would have given a different score: the primary really used the store features.
    expect(want.score).not.toBeCloseTo(score(fallbackArtifact(), deriveInputs(TX)).score, 6);
    expect(
      await metric(ms.url, 'model_server_predictions_total', {
        model_role: 'primary',
        version: primaryVersion,
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await metric(ms.url, 'model_server_prediction_score_count', { version: primaryVersion }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await metric(ms.url, 'model_server_feature_fetch_total', { outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    expect(await metric(ms.url, 'model_server_circuit_breaker_state')).toBe(0);
    expect(
      await metric(ms.url, 'model_server_model_info', {
        model_name: 'fraud-primary',
        version: primaryVersion,
      }),
    ).toBe(1);
  });

  it('generates a transaction id when the caller sends none', async () => {
    const r = expectStatus(200)(await predict(ms.url, TX));
    expect(r.body.transaction_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  const fallbackExpect = (r: Awaited<ReturnType<typeof predict>>, reason: string) => {
    expectStatus(200)(r);
    const want = score(fallbackArtifact(), deriveInputs(TX));
    expect(r.body).toMatchObject({
      score: want.score,
      decision: want.decision,
      model_name: 'fraud-fallback',
      model_version: fallbackVersion,
      fallback: { used: true, reason },
    });
    expect(r.headers.get('x-fallback')).toBe(reason);
    expect(r.headers.get('x-model-version')).toBe(fallbackVersion);
  };

  it('falls back with features_missing for a user the store does not know', async () => {
    const before = await metric(ms.url, 'model_server_fallback_total', { reason: 'features_missing' });
    fallbackExpect(await predict(ms.url, { ...TX, user_id: 'u-nobody' }), 'features_missing');
    expect(await metric(ms.url, 'model_server_fallback_total', { reason: 'features_missing' })).toBe(
      before + 1,
    );
  });

  it('falls back with features_stale when the row is older than the feature-server TTL', async () => {
    fallbackExpect(await predict(ms.url, { ...TX, user_id: 'u-stale' }), 'features_stale');
  });

  it('falls back with features_missing for a NULL value and features_invalid for NaN, wrong type, range and non-integers', async () => {
    const ts = new Date().toISOString();
    const rows = [
      { user_id: 'u-null', event_timestamp: ts, features: { ...GOOD_FEATURES, chargebacks_90d: null } },
      { user_id: 'u-nan', event_timestamp: ts, features: { ...GOOD_FEATURES, avg_amount_30d: 'NaN' } },
      { user_id: 'u-inf', event_timestamp: ts, features: { ...GOOD_FEATURES, avg_amount_30d: 'Infinity' } },
      { user_id: 'u-type', event_timestamp: ts, features: { ...GOOD_FEATURES, txn_count_24h: '3' } },
      { user_id: 'u-range', event_timestamp: ts, features: { ...GOOD_FEATURES, distinct_devices_7d: 51 } },
      { user_id: 'u-negative', event_timestamp: ts, features: { ...GOOD_FEATURES, avg_amount_30d: -1 } },
      { user_id: 'u-fraction', event_timestamp: ts, features: { ...GOOD_FEATURES, account_age_days: 10.5 } },
    ];
    expectStatus(200)(await http('PUT', `${p.featureServerUrl}/v1/admin/rows`, { rows }, TOKEN));
    fallbackExpect(await predict(ms.url, { ...TX, user_id: 'u-null' }), 'features_missing');
    for (const id of ['u-nan', 'u-inf', 'u-type', 'u-range', 'u-negative', 'u-fraction']) {
      const r = await predict(ms.url, { ...TX, user_id: id });
      expect(r.body.fallback, id).toEqual({ used: true, reason: 'features_invalid' });
      fallbackExpect(r, 'features_invalid');
    }
    // The boundaries themselves are valid.
    await http(
      'PUT',
      `${p.featureServerUrl}/v1/admin/rows`,
      {
        rows: [
          {
            user_id: 'u-edge',
            event_timestamp: ts,
            features: { ...GOOD_FEATURES, distinct_devices_7d: 50, avg_amount_30d: 0 },
          },
        ],
      },
      TOKEN,
    ).then(expectStatus(200));
    expect((await predict(ms.url, { ...TX, user_id: 'u-edge' })).body.fallback).toEqual({
      used: false,
      reason: null,
    });
  });

  it('answers 400 naming the field for bad bodies, and never scores them', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...TX, amount: 'NaN' }, 'amount'],
      [{ ...TX, amount: null }, 'amount'],
      [{ ...TX, amount: -5 }, 'amount'],
      [{ ...TX, old_balance: '2000' }, 'old_balance'],
      [{ ...TX, hour: 3.5 }, 'hour'],
      [{ ...TX, hour: 24 }, 'hour'],
      [{ ...TX, merchant_risk: 1.5 }, 'merchant_risk'],
      [{ ...TX, type: 'BOGUS' }, 'type'],
      [{ ...TX, user_id: '' }, 'user_id'],
      [{ ...TX, user_id: undefined }, 'user_id'],
      [{ ...TX, promo_code: 'x' }, 'promo_code'],
    ];
    const before = await metric(ms.url, 'model_server_predictions_total');
    for (const [body, field] of cases) {
      const r = await predict(ms.url, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.field, JSON.stringify(body)).toBe(field);
      expect(r.body.message.startsWith(`${field}: `)).toBe(true);
      expect(r.body.error_code).toBe('INVALID_PARAMETER_VALUE');
    }
    const malformed = await http('POST', `${ms.url}/v1/predict`, undefined, undefined, '{"amount": NaN}');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error_code).toBe('MALFORMED_REQUEST');
    const array = await http('POST', `${ms.url}/v1/predict`, [TX]);
    expect(array.status).toBe(400);
    expect(await metric(ms.url, 'model_server_predictions_total')).toBe(before);
  });

  it('describes the loaded models', async () => {
    const r = expectStatus(200)(await http('GET', `${ms.url}/v1/model`));
    expect(r.body).toMatchObject({
      alias: 'champion',
      ready: true,
      primary: { name: 'fraud-primary', alias: 'champion', version: primaryVersion },
      fallback: { name: 'fraud-fallback', alias: 'champion', version: fallbackVersion },
    });
    expect(Date.parse(r.body.primary.loaded_at)).toBeGreaterThan(0);
  });

  it('monitors drift against the champion reference, exports gauges and resets on an admin request', async () => {
    // Reset first: earlier tests pushed values.
    expectStatus(200)(await http('POST', `${ms.url}/v1/admin/drift/reset`, undefined, TOKEN));
    const send = async (amounts: number[]) => {
      for (let i = 0; i < amounts.length; i += 20) {
        await Promise.all(
          amounts
            .slice(i, i + 20)
            .map((amount) => predict(ms.url, { ...TX, amount }).then(expectStatus(200))),
        );
      }
    };
    // Below the 100-value minimum: no statistics yet.
    await send(Array.from({ length: 60 }, (_, i) => 5000 + i));
    await new Promise((r) => setTimeout(r, 500));
    let d = expectStatus(200)(await http('GET', `${ms.url}/v1/drift`)).body;
    expect(d.window_size).toBe(1000);
    expect(d.features.amount).toMatchObject({ n: 60, psi: null, ks_statistic: null });
    expect(Number.isNaN(await metric(ms.url, 'model_server_feature_drift_psi', { feature: 'amount' }))).toBe(
      true,
    );

    // A shifted amount distribution (reference is 50..250).
    await send(Array.from({ length: 60 }, (_, i) => 5060 + i));
    d = await waitFor(
      async () => {
        const body = (await http('GET', `${ms.url}/v1/drift`)).body;
        return body.features.amount.psi !== null ? body : undefined;
      },
      5000,
      'drift statistics',
    );
    expect(d.features.amount.n).toBe(120);
    expect(d.features.amount.psi).toBeGreaterThan(1);
    expect(d.features.amount.ks_statistic).toBe(1);
    expect(d.features.amount.ks_pvalue).toBeLessThan(1e-6);
    expect(d.features.amount.js_distance).toBeGreaterThan(0.5);
    // hour (14 every time) also drifted; store features were pushed too (txn_count_24h = 3 each time).
    expect(d.features.txn_count_24h.n).toBe(120);
    expect(await metric(ms.url, 'model_server_feature_drift_psi', { feature: 'amount' })).toBeCloseTo(
      d.features.amount.psi,
      6,
    );
    expect(await metric(ms.url, 'model_server_feature_drift_ks_pvalue', { feature: 'amount' })).toBeLessThan(
      1e-6,
    );

    expect((await http('POST', `${ms.url}/v1/admin/drift/reset`)).status).toBe(401);
    expect((await http('POST', `${ms.url}/v1/admin/drift/reset`, undefined, 'wrong')).status).toBe(401);
    expectStatus(200)(await http('POST', `${ms.url}/v1/admin/drift/reset`, undefined, TOKEN));
    d = (await http('GET', `${ms.url}/v1/drift`)).body;
    expect(d.features.amount).toMatchObject({ n: 0, psi: null });
    expect(Number.isNaN(await metric(ms.url, 'model_server_feature_drift_psi', { feature: 'amount' }))).toBe(
      true,
    );

    // Values drawn from the reference distribution itself: no drift by any measure.
    const ref = primaryArtifact().reference;
    await Promise.all(
      ref.amount.values.slice(0, 150).map((amount, i) =>
        predict(ms.url, {
          ...TX,
          amount,
          old_balance: ref.old_balance.values[i],
          new_balance: 0,
          hour: ref.hour.values[i],
        }),
      ),
    );
    d = await waitFor(
      async () => {
        const body = (await http('GET', `${ms.url}/v1/drift`)).body;
        return body.features.amount.psi !== null ? body : undefined;
      },
      5000,
      'drift statistics after reset',
    );
    expect(d.features.amount.psi).toBeLessThan(0.1);
    expect(d.features.amount.ks_pvalue).toBeGreaterThan(0.05);
    expect(d.features.hour.psi).toBeLessThan(0.1);
  });
});
