// Wire formats of the feature-server (docs/architecture.md "feature-server") and their validation.
import { z } from 'zod';
import { HttpError } from '../common/service.ts';
import { parseBody } from '../common/validate.ts';
import type { JsonValue, StoredRow } from './store.ts';

export const MAX_ROWS = 10_000;
export const MAX_ENTITIES = 1_000;
export const MAX_FEATURES = 256;
export const MAX_USER_ID = 128;

/** Feature names are identifiers (no ':' — Feast uses it to separate view and feature). */
const FEATURE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;
/** 9999-12-31T23:59:59.999Z: the last instant an ISO string can show with a 4-digit year. */
const MAX_TS = 253_402_300_799_999;

export const UserId = z.string().min(1).max(MAX_USER_ID);

/** ISO-8601 with a zone (`…Z` or `…+02:00`) or epoch milliseconds → epoch milliseconds. */
export const EventTimestamp = z.unknown().transform((v, ctx): number => {
  let ms = Number.NaN;
  if (typeof v === 'string' && ISO_8601.test(v)) ms = Date.parse(v);
  else if (typeof v === 'number' && Number.isInteger(v)) ms = v;
  if (!(ms >= 0 && ms <= MAX_TS)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected an ISO-8601 timestamp with a time zone (e.g. 2024-05-01T12:00:00Z) or epoch milliseconds, found ${describe(v)}`,
    });
    return z.NEVER;
  }
  return ms;
});

const Features = z
  .record(
    z.string().regex(FEATURE_NAME, 'feature names are identifiers: [A-Za-z_][A-Za-z0-9_.-]{0,127}'),
    z.json(),
  )
  .refine((f) => Object.keys(f).length <= MAX_FEATURES, `at most ${MAX_FEATURES} features per row`);

export const Row = z
  .object({ user_id: UserId, event_timestamp: EventTimestamp, features: Features })
  .strict();

const rows = (min: number) =>
  z
    .array(Row)
    .min(min, 'at least one row is required')
    .max(MAX_ROWS, `at most ${MAX_ROWS} rows per request; split the batch`);

export const MaterializeBody = z.object({ run_id: z.string().min(1).max(256), rows: rows(0) }).strict();
export const PutRowsBody = z.object({ rows: rows(1) }).strict();

export const OnlineFeaturesBody = z
  .object({
    features: z.array(z.string().min(1).max(256)).min(1).max(MAX_FEATURES),
    entities: z
      .object({
        user_id: z
          .array(z.union([UserId, z.number().int()]))
          .min(1)
          .max(MAX_ENTITIES, `at most ${MAX_ENTITIES} entities per request; split the batch`),
      })
      .strict(),
    full_feature_names: z.boolean().optional(),
  })
  .strict();

/** parseBody, but an unknown field is named by its own path (zod reports the parent object). */
export function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  // An unknown field explains a "missing" one better (`driver_id` sent instead of `user_id`).
  const issue = r.error.issues.find((i) => i.code === 'unrecognized_keys');
  if (issue) {
    const field = [...issue.path, issue.keys[0]].map(String).join('.');
    throw new HttpError(400, 'INVALID_PARAMETER_VALUE', `${field}: unknown field`, field);
  }
  return parseBody(schema, value);
}

export function toStored(r: z.infer<typeof Row>): StoredRow {
  return {
    user_id: r.user_id,
    event_ts: r.event_timestamp,
    features: r.features as Record<string, JsonValue>,
  };
}

/** The wire form of a stored row: what GET returns is exactly what PUT accepts. */
export function toWire(r: StoredRow) {
  return { user_id: r.user_id, event_timestamp: iso(r.event_ts), features: r.features };
}

/** ISO-8601 for a stored time; null when an externally written value is out of range. */
export function iso(ms: number): string | null {
  return ms >= -MAX_TS && ms <= MAX_TS ? new Date(ms).toISOString() : null;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
