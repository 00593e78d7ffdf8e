// The one admin-token check every service uses (registry writes, alias moves, feature writes, fault
// proxy control, controller and gateway actions): `Authorization: Bearer <ADMIN_TOKEN>`, compared in
// constant time. Reads (health, readiness, metrics, lookups) never call it.
import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError, type Request } from './service.ts';

export interface AdminGuardOptions {
  /**
   * With no token configured: `open` lets every caller through (local development; the default),
   * `deny` refuses admin endpoints altogether (403).
   */
  whenUnset?: 'open' | 'deny';
  /** Names the service in the 403 of `deny`. */
  service?: string;
}

const digest = (b: Buffer | string) => createHash('sha256').update(b).digest();

/** Constant-time equality that does not leak the token's length either (both sides hashed first). */
export function tokenMatches(given: string | Buffer, expected: string | Buffer): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** Returns a check that throws 401 UNAUTHENTICATED (field `authorization`) unless the request carries the token. */
export function adminGuard(token: string | undefined, opts: AdminGuardOptions = {}): (req: Request) => void {
  const expected = token ? Buffer.from(token) : undefined;
  return (req) => {
    if (!expected) {
      if (opts.whenUnset !== 'deny') return;
      throw new HttpError(
        403,
        'PERMISSION_DENIED',
        `admin endpoints are disabled: start the ${opts.service ?? 'service'} with ADMIN_TOKEN set`,
      );
    }
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
    if (!m)
      throw new HttpError(
        401,
        'UNAUTHENTICATED',
        'authorization: expected "Authorization: Bearer <ADMIN_TOKEN>"',
        'authorization',
      );
    if (!tokenMatches(m[1].trim(), expected))
      throw new HttpError(401, 'UNAUTHENTICATED', 'authorization: invalid bearer token', 'authorization');
  };
}
