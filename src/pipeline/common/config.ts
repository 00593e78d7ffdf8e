// Services are configured by environment variables so the same entry point runs as a child process,
// a container or a pod. Resilience mechanisms can be switched off for the harness's negative tests.
export const MECHANISMS = ['fallback', 'retries', 'breaker', 'ejection', 'rollback', 'restart'] as const;
export type Mechanism = (typeof MECHANISMS)[number];

export function parseDisabled(value: string | undefined): Set<Mechanism> {
  const out = new Set<Mechanism>();
  for (const raw of (value ?? '').split(',')) {
    const m = raw.trim();
    if (!m) continue;
    if (!(MECHANISMS as readonly string[]).includes(m)) {
      throw new Error(
        `FAULTLINE_DISABLE: unknown mechanism "${m}" (expected one of ${MECHANISMS.join(', ')})`,
      );
    }
    out.add(m as Mechanism);
  }
  return out;
}

/** Mechanisms switched off for this process (`FAULTLINE_DISABLE=fallback,retries`). */
export const disabled = (): Set<Mechanism> => parseDisabled(process.env.FAULTLINE_DISABLE);

export function envString(name: string, fallback?: string): string {
  const v = process.env[name];
  if (v !== undefined && v !== '') return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`environment variable ${name} is required`);
}

export function envNumber(name: string, fallback?: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (fallback !== undefined) return fallback;
    throw new Error(`environment variable ${name} is required`);
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`environment variable ${name}: expected a number, found "${v}"`);
  return n;
}
