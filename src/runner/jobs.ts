// The trainer as a platform job (a process, a container, a Kubernetes Job): the runner asks for a
// mode and reads the JSON object the trainer prints last.
import type { StartedPlatform } from '../platforms/platform.ts';

export async function runTrainer(
  platform: StartedPlatform,
  mode: string,
  seed: number,
): Promise<Record<string, unknown>> {
  const { stdout } = await platform.runJob({ job: 'trainer', env: { MODE: mode, SEED: String(seed) } });
  return lastResult(stdout, mode);
}

/** The last JSON line that is a result, not one of the trainer's log lines. */
export function lastResult(stdout: string, mode: string): Record<string, unknown> {
  for (const l of stdout.trim().split('\n').reverse()) {
    try {
      const obj = JSON.parse(l);
      // A log line (pino's, or the trainer's own {time, service, msg}) carries msg and no version.
      if (obj && typeof obj === 'object' && !('msg' in obj && !('version' in obj))) return obj;
    } catch {
      // not a JSON line
    }
  }
  throw new Error(`trainer (${mode}) printed no JSON result`);
}
