// Model loading from the real registry: readiness, hot reload when the alias moves, rejection of a bad
// artifact, serving through a registry outage, primary_error and no_primary_model, a non-default alias.
import { afterEach, describe, expect, it } from 'vitest';
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

type ModelServer = Awaited<ReturnType<typeof start>>;
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function pipeline(): Promise<Pipeline> {
  const p = await startPipeline();
  cleanup.push(() => p.close());
  return p;
}

async function modelServer(
  p: Pipeline,
  extra: Partial<Parameters<typeof start>[0]> = {},
): Promise<ModelServer> {
  const ms = await start({
    registryUrl: p.registryUrl,
    featureServerUrl: p.featureServerUrl,
    adminToken: TOKEN,
    ...extra,
  });
  cleanup.push(() => ms.close());
  return ms;
}

const ready = async (ms: ModelServer) => (await http('GET', `${ms.url}/readyz`)).status === 200;

describe('model-server model loading', () => {
  it('is not ready until primary and fallback are loaded; serves the fallback with no_primary_model meanwhile', async () => {
    const p = await pipeline();
    const ms = await modelServer(p, { reloadIntervalMs: 100 });
    expect(await ready(ms)).toBe(false);
    const fb = await publish(p.registry, 'fraud-fallback', fallbackArtifact());
    await waitFor(
      async () => (await http('GET', `${ms.url}/v1/model`)).body.fallback?.version === fb,
      5000,
      'fallback loaded',
    );
    expect(await ready(ms)).toBe(false);
    const r = expectStatus(200)(await predict(ms.url, TX));
    expect(r.body).toMatchObject({
      model_name: 'fraud-fallback',
      model_version: fb,
      fallback: { used: true, reason: 'no_primary_model' },
    });
    await publish(p.registry, 'fraud-primary', primaryArtifact());
    await waitFor(() => ready(ms), 5000, 'ready');
    expect((await predict(ms.url, TX)).body.fallback.used).toBe(false);
  });

  it('with the fallback disabled only the primary is needed to be ready', async () => {
    const p = await pipeline();
    await publish(p.registry, 'fraud-primary', primaryArtifact());
    const ms = await modelServer(p, { disabled: new Set(['fallback']) });
    await waitFor(() => ready(ms), 5000, 'ready');
  });

  it('hot-reloads when the alias moves, rejects a bad artifact, and keeps serving through a registry outage', async () => {
    const p = await pipeline();
    const v1 = await publish(p.registry, 'fraud-primary', primaryArtifact());
    await publish(p.registry, 'fraud-fallback', fallbackArtifact());
    const ms = await modelServer(p); // default RELOAD_INTERVAL_MS 500
    await waitFor(() => ready(ms), 5000, 'ready');
    expect((await predict(ms.url, TX)).headers.get('x-model-version')).toBe(v1);

    // A new champion with different weights: served within 2 s, scored with the new weights.
    const v2Artifact = primaryArtifact({ bias: -1, weights: [0.1, 0.2, 0.3, 0.4, 0.5] });
    const v2 = await publish(p.registry, 'fraud-primary', v2Artifact);
    const moved = Date.now();
    await waitFor(async () => (await predict(ms.url, TX)).body.model_version === v2, 2000, 'v2 served');
    expect(Date.now() - moved).toBeLessThan(2000);
    const r = await predict(ms.url, TX);
    expect(r.body.score).toBe(score(v2Artifact, deriveInputs(TX, GOOD_FEATURES)).score);
    expect(
      await metric(ms.url, 'model_server_model_info', { model_name: 'fraud-primary', version: v2 }),
    ).toBe(1);
    expect(
      Number.isNaN(
        await metric(ms.url, 'model_server_model_info', { model_name: 'fraud-primary', version: v1 }),
      ),
    ).toBe(true);

    // Rollback by moving the alias back.
    await p.registry.setAlias('fraud-primary', 'champion', v1);
    await waitFor(
      async () => (await predict(ms.url, TX)).body.model_version === v1,
      2000,
      'rolled back to v1',
    );

    // Malformed artifacts are rejected and counted; the loaded model keeps serving.
    const bad = await publish(p.registry, 'fraud-primary', { ...primaryArtifact(), weights: [1, 2] });
    await waitFor(
      async () =>
        (await metric(ms.url, 'model_server_model_load_failures_total', { model_role: 'primary' })) >= 1,
      3000,
      'rejection counted',
    );
    expect((await predict(ms.url, TX)).body.model_version).toBe(v1);
    const notJson = await p.registry.registerModelJson('fraud-primary', {});
    await p.registry.uploadArtifact(
      `${(await p.registry.getModelVersion('fraud-primary', notJson)).source.replace('mlflow-artifacts:/', '')}/model.json`,
      'not json{',
    );
    await p.registry.setAlias('fraud-primary', 'champion', notJson);
    await waitFor(
      async () =>
        (await metric(ms.url, 'model_server_model_load_failures_total', { model_role: 'primary' })) >= 2,
      3000,
      'second rejection',
    );
    expect((await http('GET', `${ms.url}/v1/model`)).body.primary.version).toBe(v1);
    // A rejected version is not downloaded again on every poll.
    await new Promise((r) => setTimeout(r, 1200));
    expect(await metric(ms.url, 'model_server_model_load_failures_total', { model_role: 'primary' })).toBe(2);
    expect(bad).not.toBe(v1);

    // Registry outage: polls fail and are counted, serving is unaffected, readiness holds.
    await p.closeRegistry();
    await waitFor(
      async () => (await metric(ms.url, 'model_server_registry_poll_errors_total')) >= 2,
      5000,
      'poll errors',
    );
    const during = expectStatus(200)(await predict(ms.url, TX));
    expect(during.body).toMatchObject({ model_version: v1, fallback: { used: false } });
    expect(await ready(ms)).toBe(true);
  });

  it('a schema-valid artifact that cannot score loads, and its failures fall back with primary_error', async () => {
    const p = await pipeline();
    const broken = await publish(
      p.registry,
      'fraud-primary',
      primaryArtifact({
        inputs: ['log_amount', 'merchant_risk', 'txn_count_24h', 'chargebacks_90d', 'no_such_input'],
        degraded: 'broken',
      }),
    );
    const fb = await publish(p.registry, 'fraud-fallback', fallbackArtifact());
    const ms = await modelServer(p);
    await waitFor(() => ready(ms), 5000, 'ready');
    expect((await http('GET', `${ms.url}/v1/model`)).body.primary).toMatchObject({
      version: broken,
      degraded: 'broken',
    });
    const r = expectStatus(200)(await predict(ms.url, TX));
    expect(r.body).toMatchObject({
      model_name: 'fraud-fallback',
      model_version: fb,
      fallback: { used: true, reason: 'primary_error' },
    });
    expect(r.headers.get('x-fallback')).toBe('primary_error');
    expect(await metric(ms.url, 'model_server_fallback_total', { reason: 'primary_error' })).toBe(1);

    const strict = await modelServer(p, { disabled: new Set(['fallback']) });
    await waitFor(() => ready(strict), 5000, 'ready');
    const e = await predict(strict.url, TX);
    expect(e.status).toBe(503);
    expect(e.body).toMatchObject({ error_code: 'PRIMARY_ERROR', reason: 'primary_error' });
  });

  it('serves the alias it is configured with (canary replicas serve challenger)', async () => {
    const p = await pipeline();
    await publish(p.registry, 'fraud-primary', primaryArtifact());
    const challenger = await publish(
      p.registry,
      'fraud-primary',
      primaryArtifact({ bias: -2 }),
      'challenger',
    );
    await publish(p.registry, 'fraud-fallback', fallbackArtifact());
    const ms = await modelServer(p, { modelAlias: 'challenger', replica: 3 });
    await waitFor(() => ready(ms), 5000, 'ready');
    const r = await predict(ms.url, TX);
    expect(r.body.model_version).toBe(challenger);
    expect(
      await metric(ms.url, 'model_server_predictions_total', {
        replica: '3',
        model_role: 'primary',
        version: challenger,
      }),
    ).toBe(1);
  });
});
