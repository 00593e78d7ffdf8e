// Polling a service's /readyz until it answers 200: the local platform waits on every service this
// way, and the trainer job on its dependencies when it may start before them.

/** Why a service is not ready (`HTTP 503`, a connection error), or null once it is. */
export type Readiness = { ready: true } | { ready: false; last: string };

/**
 * Polls `${base}/readyz` every `intervalMs` until it answers 200, `timeoutMs` passes or `cancelled()`
 * says to stop. Never throws: the caller decides what "not ready" means.
 */
export async function pollReady(
  base: string,
  timeoutMs: number,
  opts: { intervalMs?: number; cancelled?: () => boolean } = {},
): Promise<Readiness> {
  const deadline = Date.now() + timeoutMs;
  const url = `${base.replace(/\/+$/, '')}/readyz`;
  let last = 'not polled';
  while (Date.now() < deadline && !opts.cancelled?.()) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) return { ready: true };
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
  return { ready: false, last };
}
