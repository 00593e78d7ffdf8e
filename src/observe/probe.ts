// A probe acts like a user during the run and journals what that user saw ('probe' entries), so
// checks can speak of user-visible success (`browser.success >= 99% during fault`).

import type { Journal } from '../journal/journal.ts';
import type { PipelineEndpoints } from '../platforms/platform.ts';

export interface ProbeResult {
  t: number;
  probe: string;
  ok: boolean;
  latencyMs: number;
  modelVersion?: string;
  fallback?: string;
  error?: string;
}

export interface Probe {
  readonly type: string;
  start(ctx: { endpoints: PipelineEndpoints; journal: Journal; clock: () => number }): Promise<void>;
  stop(): Promise<void>;
}
