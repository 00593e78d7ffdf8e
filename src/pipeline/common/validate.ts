import type { z } from 'zod';
import { HttpError } from './service.ts';

/** Parses with a zod schema; the first issue becomes a 400 naming the field path. */
export function parseBody<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  // An unknown key is reported on its parent; name the key itself, which is what the caller got wrong.
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  const field = path.length ? path.map(String).join('.') : '(body)';
  throw new HttpError(400, 'INVALID_PARAMETER_VALUE', `${field}: ${issue.message}`, field);
}
