// Finding the user's k6. k6 is AGPL-3.0: Faultline never bundles, builds or installs it; it runs the
// `k6` named by K6_BIN, or the first one on PATH, and says how to get one when there is none.
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

export const K6_INSTALL_HINT =
  "install k6 (https://grafana.com/docs/k6/latest/set-up/install-k6/: Grafana's apt or rpm repository, `brew install k6`, `winget install k6`, or the grafana/k6 image) and put it on PATH, or set K6_BIN to the k6 binary; Faultline does not ship k6 (AGPL-3.0)";

/** No usable k6: the runner exits 3 (infrastructure) before anything is started or injected. */
export class K6NotFoundError extends Error {
  constructor(detail: string) {
    super(`k6 not found: ${detail}; ${K6_INSTALL_HINT}`);
  }
}

function executable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The k6 binary to run: K6_BIN if set (it must be executable), else `k6` on PATH. */
export function findK6(env: NodeJS.ProcessEnv = process.env): string {
  const bin = env.K6_BIN?.trim();
  if (bin) {
    const abs = path.resolve(bin);
    if (!executable(abs)) throw new K6NotFoundError(`K6_BIN=${bin} is not an executable file`);
    return abs;
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'k6');
    if (executable(candidate)) return candidate;
  }
  throw new K6NotFoundError('K6_BIN is not set and there is no k6 on PATH');
}

/** What k6's exit codes mean (k6's errext/exitcodes/codes.go). */
const EXIT_MEANINGS: Record<number, string> = {
  0: 'ok',
  97: 'cloud test run failed',
  98: 'cloud: failed to get progress',
  99: 'thresholds crossed',
  100: 'setup timeout',
  101: 'teardown timeout',
  102: 'generic timeout',
  103: 'engine error',
  104: 'invalid config',
  105: 'external abort (signal)',
  106: 'cannot start REST API',
  107: 'script exception',
  108: 'aborted by the script (test.abort)',
};

export function k6ExitMeaning(code: number | null): string {
  if (code === null) return 'killed by a signal';
  return EXIT_MEANINGS[code] ?? `exit ${code}`;
}
