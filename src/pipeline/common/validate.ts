import type { z } from 'zod';
import { HttpError } from './service.ts';

/** Parses with a zod schema; the first issue becomes a 400 naming the field path. */
export function parseBody<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.length ? issue.path.map(String).join('.') : '(body)';
  throw new HttpError(400, 'INVALID_PARAMETER_VALUE', `${field}: ${issue.message}`, field);
}
