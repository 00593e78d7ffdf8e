// Writes a run's report folder. report.json is the source of truth; the other artifacts are
// rendered from it.
import fs from 'node:fs';
import path from 'node:path';
import type { RunReport } from './model.ts';

export async function writeRunReport(runDir: string, report: RunReport, _opts: { pdf?: boolean } = {}): Promise<string[]> {
  const file = path.join(runDir, 'report.json');
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return [file];
}
