// Backend-independent feature-server semantics, run against SQLite (feature-server.test.ts) and Redis
// (feature-server-redis.test.ts). Every test uses its own user ids, so they share one server.
import { expect, it } from 'vitest';
import { STORE_FEATURE_NAMES } from '../src/pipeline/schema.ts';

export interface Ctx {
  url: string;
  token: string;
}

export const TOKEN = 'test-admin-token';
export const HOUR = 3600_000;

export async function call(ctx: Ctx, method: string, path: string, body?: unknown, auth = true) {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = `Bearer ${ctx.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(ctx.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: assertions navigate arbitrary response JSON
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}

const full = (n: number) => Object.fromEntries(STORE_FEATURE_NAMES.map((f, i) => [f, n + i]));

export function semanticsSuite(getCtx: () => Ctx) {
  it('reports PRESENT, NULL_VALUE, NOT_FOUND and OUTSIDE_MAX_AGE per feature', async () => {
    const ctx = getCtx();
    const now = Date.now();
    const partial: Record<string, unknown> = full(10);
    partial.txn_count_24h = null;
    delete partial.chargebacks_90d;
    const m = await call(ctx, 'POST', '/v1/materialize', {
      run_id: 'status-run',
      rows: [
        { user_id: 's-fresh', event_timestamp: new Date(now - 60_000).toISOString(), features: full(1) },
        { user_id: 's-partial', event_timestamp: now - 60_000, features: partial },
        // The servers under test use a 1 h TTL.
        { user_id: 's-old', event_timestamp: new Date(now - 2 * HOUR).toISOString(), features: full(100) },
      ],
    });
    expect(m).toEqual({
      status: 200,
      body: { run_id: 'status-run', written: 3, skipped: 0, duplicate_run: false },
    });

    const fresh = await call(ctx, 'GET', '/v1/features/s-fresh', undefined, false);
    expect(fresh.status).toBe(200);
    expect(fresh.body.user_id).toBe('s-fresh');
    expect(Object.keys(fresh.body.features).sort()).toEqual([...STORE_FEATURE_NAMES].sort());
    for (const [i, f] of STORE_FEATURE_NAMES.entries()) {
      expect(fresh.body.features[f]).toEqual({
        value: 1 + i,
        status: 'PRESENT',
        event_timestamp: new Date(now - 60_000).toISOString(),
      });
    }

    const p = (await call(ctx, 'GET', '/v1/features/s-partial')).body.features;
    expect(p.txn_count_24h).toMatchObject({ value: null, status: 'NULL_VALUE' });
    expect(p.chargebacks_90d).toEqual({ value: null, status: 'NOT_FOUND', event_timestamp: null });
    expect(p.avg_amount_30d).toMatchObject({ value: 11, status: 'PRESENT' });

    const old = (await call(ctx, 'GET', '/v1/features/s-old')).body.features;
    // Past the TTL the value is still returned, flagged.
    expect(old.txn_count_24h).toEqual({
      value: 100,
      status: 'OUTSIDE_MAX_AGE',
      event_timestamp: new Date(now - 2 * HOUR).toISOString(),
    });

    const none = await call(ctx, 'GET', '/v1/features/s-nobody');
    expect(none.status).toBe(200);
    for (const f of STORE_FEATURE_NAMES)
      expect(none.body.features[f]).toEqual({ value: null, status: 'NOT_FOUND', event_timestamp: null });
  });

  it('materialization is idempotent: older or equal event times are skipped, a repeated run id changes nothing', async () => {
    const ctx = getCtx();
    const t = Date.now() - 10 * 60_000;
    const first = await call(ctx, 'POST', '/v1/materialize', {
      run_id: 'idem-1',
      rows: [{ user_id: 'i-1', event_timestamp: t, features: full(1) }],
    });
    expect(first.body).toMatchObject({ written: 1, skipped: 0, duplicate_run: false });

    const second = await call(ctx, 'POST', '/v1/materialize', {
      run_id: 'idem-2',
      rows: [
        { user_id: 'i-1', event_timestamp: t - 1000, features: full(50) }, // older
        { user_id: 'i-1', event_timestamp: t, features: full(60) }, // same time
        { user_id: 'i-2', event_timestamp: t, features: full(70) }, // new entity
      ],
    });
    expect(second.body).toEqual({ run_id: 'idem-2', written: 1, skipped: 2, duplicate_run: false });
    expect((await call(ctx, 'GET', '/v1/features/i-1')).body.features.txn_count_24h.value).toBe(1);

    const newer = await call(ctx, 'POST', '/v1/materialize', {
      run_id: 'idem-3',
      rows: [{ user_id: 'i-1', event_timestamp: t + 1000, features: full(80) }],
    });
    expect(newer.body).toMatchObject({ written: 1, skipped: 0 });
    expect((await call(ctx, 'GET', '/v1/features/i-1')).body.features.txn_count_24h.value).toBe(80);

    // Same run id again with even newer data: nothing changes.
    const repeat = await call(ctx, 'POST', '/v1/materialize', {
      run_id: 'idem-3',
      rows: [{ user_id: 'i-1', event_timestamp: t + 5000, features: full(90) }],
    });
    expect(repeat.body).toEqual({ run_id: 'idem-3', written: 0, skipped: 1, duplicate_run: true });
    expect((await call(ctx, 'GET', '/v1/features/i-1')).body.features.txn_count_24h.value).toBe(80);
  });

  it('answers /get-online-features in the Feast shape, entity column first', async () => {
    const ctx = getCtx();
    const ts = new Date(Date.now() - 1000).toISOString();
    await call(ctx, 'POST', '/v1/materialize', {
      run_id: 'feast-run',
      rows: [{ user_id: 'f-1', event_timestamp: ts, features: { txn_count_24h: 3, avg_amount_30d: null } }],
    });
    const r = await call(
      ctx,
      'POST',
      '/get-online-features',
      {
        features: ['user_stats:txn_count_24h', 'avg_amount_30d', 'chargebacks_90d'],
        entities: { user_id: ['f-1', 'f-missing'] },
      },
      false,
    );
    expect(r.status).toBe(200);
    expect(r.body.metadata).toEqual({
      feature_names: ['user_id', 'txn_count_24h', 'avg_amount_30d', 'chargebacks_90d'],
    });
    expect(r.body.results).toHaveLength(4);
    expect(r.body.results[0]).toEqual({
      values: ['f-1', 'f-missing'],
      statuses: ['PRESENT', 'PRESENT'],
      event_timestamps: ['1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000Z'],
    });
    expect(r.body.results[1]).toEqual({
      values: [3, null],
      statuses: ['PRESENT', 'NOT_FOUND'],
      event_timestamps: [ts, '1970-01-01T00:00:00.000Z'],
    });
    expect(r.body.results[2]).toMatchObject({ values: [null, null], statuses: ['NULL_VALUE', 'NOT_FOUND'] });
    expect(r.body.results[3]).toMatchObject({ statuses: ['NOT_FOUND', 'NOT_FOUND'] });

    const full_ = await call(ctx, 'POST', '/get-online-features', {
      features: ['user_stats:txn_count_24h'],
      entities: { user_id: ['f-1'] },
      full_feature_names: true,
    });
    expect(full_.body.metadata.feature_names).toEqual(['user_id', 'user_stats__txn_count_24h']);
  });

  it('raw admin rows round-trip exactly (NaN, Infinity, strings, null, wrong types) and PUT returns the previous rows', async () => {
    const ctx = getCtx();
    const original = {
      user_id: 'r-1',
      event_timestamp: new Date(Date.now() - 5000).toISOString(),
      features: full(7),
    };
    await call(ctx, 'POST', '/v1/materialize', { run_id: 'raw-run', rows: [original] });
    const before = await call(ctx, 'GET', '/v1/admin/rows?user_id=r-1&user_id=r-none');
    expect(before).toEqual({ status: 200, body: { rows: [original] } });

    const corrupted = {
      user_id: 'r-1',
      // Older than the stored row: PUT bypasses idempotency.
      event_timestamp: new Date(Date.now() - 3 * HOUR).toISOString(),
      features: {
        txn_count_24h: 'NaN',
        avg_amount_30d: 'Infinity',
        account_age_days: '-Infinity',
        chargebacks_90d: 'seven',
        distinct_devices_7d: null,
        extra_flag: true,
        nested: { a: [1, '2', null] },
        numeric_string: '12',
      },
    };
    const put = await call(ctx, 'PUT', '/v1/admin/rows', {
      rows: [corrupted, { user_id: 'r-new', event_timestamp: 0, features: {} }],
    });
    expect(put).toEqual({ status: 200, body: { written: 2, previous: [original] } });
    expect((await call(ctx, 'GET', '/v1/admin/rows?user_id=r-1')).body.rows).toEqual([corrupted]);

    // Lookups return values as stored, with their type.
    const f = (await call(ctx, 'GET', '/v1/features/r-1')).body.features;
    expect(f.txn_count_24h).toMatchObject({ value: 'NaN', status: 'OUTSIDE_MAX_AGE' });
    expect(f.chargebacks_90d.value).toBe('seven');
    expect(f.numeric_string.value).toBe('12');
    expect(f.distinct_devices_7d.status).toBe('NULL_VALUE');
    expect(f.nested.value).toEqual({ a: [1, '2', null] });

    // Exact revert: put back the previous rows, delete the entity that did not exist.
    const revert = await call(ctx, 'PUT', '/v1/admin/rows', { rows: put.body.previous });
    expect(revert.body.previous).toEqual([corrupted]);
    const del = await call(ctx, 'DELETE', '/v1/admin/rows?user_id=r-new&user_id=r-none');
    expect(del).toEqual({
      status: 200,
      body: {
        deleted: 1,
        previous: [{ user_id: 'r-new', event_timestamp: '1970-01-01T00:00:00.000Z', features: {} }],
      },
    });
    expect((await call(ctx, 'GET', '/v1/admin/rows?user_id=r-1&user_id=r-new')).body).toEqual(before.body);
    expect((await call(ctx, 'GET', '/v1/features/r-new')).body.features.txn_count_24h.status).toBe(
      'NOT_FOUND',
    );
  });

  it('lists rows page by page in user_id order', async () => {
    const ctx = getCtx();
    const rows = ['p-c', 'p-a', 'p-b'].map((user_id) => ({
      user_id,
      event_timestamp: Date.now(),
      features: { x: 1 },
    }));
    await call(ctx, 'PUT', '/v1/admin/rows', { rows });
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 100; i++) {
      const q: string = `/v1/admin/rows?limit=2${after ? `&after=${encodeURIComponent(after)}` : ''}`;
      const page = await call(ctx, 'GET', q);
      expect(page.status).toBe(200);
      seen.push(...page.body.rows.map((r: { user_id: string }) => r.user_id));
      after = page.body.next_after;
      if (!after) break;
    }
    expect(seen).toEqual([...seen].sort());
    expect(seen.filter((id) => id.startsWith('p-'))).toEqual(['p-a', 'p-b', 'p-c']);
    const stats = await call(ctx, 'GET', '/v1/stats', undefined, false);
    expect(stats.status).toBe(200);
    expect(stats.body.entities).toBe(seen.length);
    expect(stats.body.materialization_runs).toBeGreaterThanOrEqual(1);
    expect(stats.body.rows_written_total).toBeGreaterThanOrEqual(1);
  });

  it('admin endpoints need the bearer token; lookups do not', async () => {
    const ctx = getCtx();
    const cases: [string, string, unknown?][] = [
      ['POST', '/v1/materialize', { run_id: 'x', rows: [] }],
      ['GET', '/v1/admin/rows?user_id=a'],
      ['PUT', '/v1/admin/rows', { rows: [] }],
      ['DELETE', '/v1/admin/rows?user_id=a'],
    ];
    for (const [method, path, body] of cases) {
      const none = await call(ctx, method, path, body, false);
      expect(none.status, `${method} ${path}`).toBe(401);
      expect(none.body).toMatchObject({ error_code: 'UNAUTHENTICATED', field: 'authorization' });
      const wrong = await call({ ...ctx, token: 'nope' }, method, path, body);
      expect(wrong.status).toBe(401);
    }
    expect((await call(ctx, 'GET', '/v1/features/a', undefined, false)).status).toBe(200);
  });

  it('rejects bad input with 4xx JSON naming the field', async () => {
    const ctx = getCtx();
    const row = (i: number) => ({ user_id: `b-${i}`, event_timestamp: Date.now(), features: { x: 1 } });
    const rows = [row(0), row(1), row(2), { ...row(3), event_timestamp: 'yesterday' }];
    const expectField = async (method: string, path: string, body: unknown, field: string) => {
      const r = await call(ctx, method, path, body);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.field).toBe(field);
      expect(r.body.message).toMatch(new RegExp(`^${field.replace(/\./g, '\\.')}: `));
      expect(r.body.error_code).toBeTypeOf('string');
    };
    await expectField('POST', '/v1/materialize', { run_id: 'bad', rows }, 'rows.3.event_timestamp');
    await expectField(
      'POST',
      '/v1/materialize',
      { run_id: 'bad', rows: [{ ...row(0), event_timestamp: true }] },
      'rows.0.event_timestamp',
    );
    await expectField('POST', '/v1/materialize', { run_id: 42, rows: [] }, 'run_id');
    await expectField(
      'POST',
      '/v1/materialize',
      { run_id: 'bad', rows: [{ ...row(0), extra: 1 }] },
      'rows.0.extra',
    );
    await expectField('POST', '/v1/materialize', { run_id: 'bad', rows: [], dry_run: true }, 'dry_run');
    await expectField(
      'POST',
      '/v1/materialize',
      { run_id: 'bad', rows: [{ ...row(0), features: { 'a:b': 1 } }] },
      'rows.0.features.a:b',
    );
    await expectField('PUT', '/v1/admin/rows', { rows: [{ ...row(0), user_id: '' }] }, 'rows.0.user_id');
    await expectField(
      'PUT',
      '/v1/admin/rows',
      {
        rows: Array.from({ length: 10_001 }, (_, i) => ({
          user_id: `u${i}`,
          event_timestamp: 0,
          features: {},
        })),
      },
      'rows',
    );
    await expectField(
      'POST',
      '/get-online-features',
      { features: ['x'], entities: { driver_id: [1] } },
      'entities.driver_id',
    );
    await expectField(
      'POST',
      '/get-online-features',
      { features: ['x'], entities: { user_id: Array.from({ length: 1001 }, (_, i) => `u${i}`) } },
      'entities.user_id',
    );
    await expectField('GET', '/v1/admin/rows?limit=0', undefined, 'limit');
    await expectField('GET', '/v1/admin/rows?user=a', undefined, 'user');
    await expectField('DELETE', '/v1/admin/rows', undefined, 'user_id');
    await expectField('GET', `/v1/features/${'x'.repeat(200)}`, undefined, 'user_id');

    const malformed = await call(ctx, 'POST', '/v1/materialize', '{"run_id": "x", rows: ');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error_code).toBe('MALFORMED_REQUEST');

    const big = await call(
      ctx,
      'POST',
      '/v1/materialize',
      JSON.stringify({ run_id: 'big', pad: 'x'.repeat(2 * 1024 * 1024) }),
    );
    expect(big.status).toBe(413);
    expect(big.body.error_code).toBe('PAYLOAD_TOO_LARGE');

    // Nothing of the rejected requests was written.
    expect((await call(ctx, 'GET', '/v1/admin/rows?user_id=b-0')).body.rows).toEqual([]);
    expect((await call(ctx, 'GET', '/readyz')).status).toBe(200);
  });

  it('exports lookup and materialization metrics', async () => {
    const ctx = getCtx();
    await call(ctx, 'GET', '/v1/features/m-nobody');
    const res = await fetch(`${ctx.url}/metrics`);
    const text = await res.text();
    const value = (re: RegExp) => Number(text.match(re)?.[1] ?? Number.NaN);
    expect(value(/^feature_server_lookups_total\{status="NOT_FOUND"\} (\d+)/m)).toBeGreaterThanOrEqual(
      STORE_FEATURE_NAMES.length,
    );
    expect(value(/^feature_server_lookups_total\{status="PRESENT"\} (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^feature_server_lookups_total\{status="OUTSIDE_MAX_AGE"\} (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^feature_server_materialized_rows_total\{outcome="written"\} (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^feature_server_materialized_rows_total\{outcome="skipped"\} (\d+)/m)).toBeGreaterThan(0);
    expect(text).toMatch(/^feature_server_lookup_duration_seconds_count \d+/m);
    expect(text).toMatch(/^feature_server_store_errors_total 0/m);
  });
}
