// Benchmark 7: report generation (every artifact, PDF included) for a 6-scenario game day, through
// `benchReports()` from src/report/. If that export is missing this says so — never a made-up number.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { log, median } from './lib.ts';

const REPORT_DIR = fileURLToPath(new URL('../src/report/', import.meta.url));

/** Finds the module in src/report/ that exports `benchReports` (index.ts first). */
export function findBenchReports(): string | null {
  if (!fs.existsSync(REPORT_DIR)) return null;
  const files = fs
    .readdirSync(REPORT_DIR)
    .filter((f) => f.endsWith('.ts'))
    .sort((a, b) => (a === 'index.ts' ? -1 : b === 'index.ts' ? 1 : a.localeCompare(b)));
  for (const f of files) {
    const src = fs.readFileSync(path.join(REPORT_DIR, f), 'utf8');
    if (
      /export\s+(async\s+)?function\s+benchReports\b|export\s+(const|let)\s+benchReports\b|export\s*\{[^}]*\bbenchReports\b/.test(
        src,
      )
    ) {
      return path.join(REPORT_DIR, f);
    }
  }
  return null;
}

interface ReportBenchRun {
  scenarios: number;
  totalMs: number;
  timings: Record<string, number>;
  bytes: Record<string, number>;
}

export type ReportsBench =
  | { available: false; reason: string }
  | {
      available: true;
      module: string;
      scenarios: number;
      repeats: number;
      medianMs: number;
      medianTimings: Record<string, number>;
      runs: ReportBenchRun[];
    };

export async function benchReportGeneration(o: {
  scenarios: number;
  repeats: number;
}): Promise<ReportsBench> {
  const file = findBenchReports();
  if (!file) return { available: false, reason: 'src/report/ has no benchReports() export yet' };
  const mod = (await import(pathToFileURL(file).href)) as {
    benchReports: (opts: { scenarios?: number }) => Promise<ReportBenchRun>;
  };
  const runs: ReportBenchRun[] = [];
  for (let i = 0; i < o.repeats; i++) {
    const r = await mod.benchReports({ scenarios: o.scenarios });
    if (typeof r?.totalMs !== 'number')
      throw new Error(`benchReports() returned no totalMs: ${JSON.stringify(r)}`);
    runs.push(r);
    log(`reports ${i + 1}/${o.repeats}: ${(r.totalMs / 1000).toFixed(2)} s`);
  }
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.timings ?? {})))];
  return {
    available: true,
    module: path.relative(process.cwd(), file),
    scenarios: o.scenarios,
    repeats: o.repeats,
    medianMs: median(runs.map((r) => r.totalMs))!,
    medianTimings: Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r.timings?.[k] ?? 0))!])),
    runs,
  };
}
