// Report generation benchmark for `npm run bench`: a 6-scenario synthetic game day rendered to every
// artifact, PDF included, in a temporary folder. Design target: ≤ 10 s on the workplace machine.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleReport } from './sample.ts';
import { writeReports } from './write.ts';

export interface ReportBench {
  scenarios: number;
  /** Wall time of writeReports including the Chromium launch for the PDF (ms). */
  totalMs: number;
  /** Per artifact (ms). */
  timings: Record<string, number>;
  bytes: Record<string, number>;
}

export async function benchReports(
  opts: { scenarios?: number; pdf?: boolean; keepDir?: string } = {},
): Promise<ReportBench> {
  const scenarios = opts.scenarios ?? 6;
  const dir = opts.keepDir ?? mkdtempSync(join(tmpdir(), 'faultline-report-bench-'));
  try {
    const report = sampleReport({ scenarios });
    const t = performance.now();
    const w = await writeReports(dir, report, { pdf: opts.pdf ?? true });
    const totalMs = performance.now() - t;
    const bytes = Object.fromEntries(Object.entries(w.files).map(([k, f]) => [k, statSync(f).size]));
    return { scenarios, totalMs, timings: w.timings, bytes };
  } finally {
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const r = await benchReports();
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
