// Runs scenarios (one, a directory, or a game-day suite) in order, each on a fresh pipeline, and
// assembles the run's report.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Mechanism } from '../pipeline/common/config.ts';
import { REPORT_SCHEMA_VERSION, type RunReport, type ScenarioReport, type Verdict } from '../report/model.ts';
import type { Runbook } from '../runbooks/schema.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { SliName, Slo, SloOp } from '../slo/stats.ts';
import { displayPath } from './assemble.ts';
import type { Progress } from './progress.ts';
import { type ResolvedRunbook, runScenario } from './run.ts';

export const DEFINITIONS: Record<string, string> = {
  'fault start (t0)':
    'The instant the fault starts acting on the system, per kind: signal sent (pod-kill), stop initiated (dependency-outage), toxic added (latency), rows written (feature-corruption), first drifted payload (drift), alias moved (bad-model-rollout). Stamped just before the acting call, so nothing the fault caused precedes it.',
  MTTD: "t0 → the first detection signal named by the runbook, emitted by the pipeline or its monitoring (gateway ejection or error rate from its metrics, breaker open, fallback counter, drift gauge or KS alert, controller alert or event), never by the harness's own bookkeeping; the report names the signal and what emitted it.",
  MTTR: 't0 → recovery: the start of the stable period (every SLI named by the runbook — without runbook SLOs, the steady-state SLI checks — within its SLO for the scenario\'s stableFor, default 5 s) that follows the last violation. SLIs are judged over windows anchored on each request and grown until they hold enough evidence (100 requests for a ratio, 100 samples for p99), so MTTR is resolved to the request spacing (shown ± resolution) and does not depend on bucket alignment. Not recovered by the end of the run → the check fails. Never breached → "no SLO breach" (not 0 ms), kept out of MTTR medians.',
  latency:
    'Measured from the intended send time of an open-model (constant-arrival-rate) load, so a stalled server cannot hide its stall (no coordinated omission). Percentiles from HDR histograms (3 significant digits).',
  availability:
    'Successful responses / requests intended in the window (dropped requests count as failures). A fallback answer is a success, counted separately as fallback.share.',
  phases:
    'steady: warm-up end → first fault; fault: first injection → last fault reverted (pod-kill: a 10 s window); recovery: fault end → load end; whole: warm-up end → load end. Requests belong to a phase by intended send time, except that a request still in flight at t0 belongs to the fault.',
  'model quality':
    'quality.auc / recall / precision / logloss from the answers against the true labels the traffic generator knows, over windows holding at least 20 fraud and 20 legitimate answers, with their confidence (Hanley–McNeil SE, Wilson intervals).',
  inconclusive:
    'A check whose evidence is missing (no requests in the phase, no scrape spanning it, too few labels, no fault or runbook to measure against) is inconclusive: it fails the gate and says what was missing.',
};

export interface SuiteRunOptions {
  name: string;
  runDir: string;
  seed?: number;
  replicas?: number;
  disabled?: Set<Mechanism>;
  progress: Progress;
  signal: AbortSignal;
  command: string;
  continueOnFailure?: boolean;
  cooldownMs?: number;
  /** A registered platform kind (src/platforms/index.ts); default `local`. */
  platform?: string;
}

export function resolveRunbook(rb: Runbook): ResolvedRunbook {
  const slos: Slo[] = rb.slos.flatMap((c) =>
    'runbook' in c.value || !['<', '<=', '>', '>='].includes(c.op)
      ? []
      : [{ metric: c.metric as SliName, op: c.op as SloOp, value: c.value.n }],
  );
  const sections: Record<string, string> = {};
  const lines = rb.body.split('\n');
  let current: string | undefined;
  for (const line of lines) {
    const h = /^##\s+(.+?)\s*$/.exec(line);
    if (h) {
      current = h[1];
      sections[current] = '';
    } else if (current) sections[current] += `${line}\n`;
  }
  for (const k of Object.keys(sections)) sections[k] = sections[k].trim();
  return {
    targets: {
      id: rb.id,
      detection: { signal: rb.detection.signal.source, withinMs: rb.detection.within },
      mitigation: { automated: rb.mitigation.automated, withinMs: rb.mitigation.within ?? rb.mttr_target },
      mttrTargetMs: rb.mttr_target,
      slos,
    },
    summary: {
      id: rb.id,
      title: rb.title,
      severity: rb.severity,
      file: displayPath(rb.file),
      detection: { signal: rb.detection.signal.source, withinMs: rb.detection.within },
      mitigation: { automated: rb.mitigation.automated, withinMs: rb.mitigation.within ?? rb.mttr_target },
      mttrTargetMs: rb.mttr_target,
      slos: rb.slos.map((s) => s.source),
      sections,
    },
  };
}

export async function runScenarios(scenarios: LoadedScenario[], opts: SuiteRunOptions): Promise<RunReport> {
  fs.mkdirSync(opts.runDir, { recursive: true });
  const startedAt = new Date();
  const reports: ScenarioReport[] = [];
  for (let i = 0; i < scenarios.length; i++) {
    if (opts.signal.aborted) break;
    const s = scenarios[i];
    opts.progress.scenario(s.scenario.metadata.name, i, scenarios.length);
    const dir = path.join(
      opts.runDir,
      'scenarios',
      `${String(i + 1).padStart(2, '0')}-${s.scenario.metadata.name}`,
    );
    const report = await runScenario(s.scenario, {
      file: s.file,
      dir,
      runDir: opts.runDir,
      runbook: s.runbook ? resolveRunbook(s.runbook) : undefined,
      seed: opts.seed,
      replicas: opts.replicas,
      disabled: opts.disabled,
      progress: opts.progress,
      signal: opts.signal,
      platform: opts.platform,
    });
    reports.push(report);
    const failed = report.checks.filter((c) => !c.passed);
    opts.progress.event(
      `${report.verdict.toUpperCase()} ${report.name}${report.reason ? ` — ${report.reason}` : ''}${failed.length ? ` — failed: ${failed.map((c) => `${c.check} (${c.status === 'inconclusive' ? c.explanation : `measured ${c.measuredText}`})`).join('; ')}` : ''}`,
    );
    if (report.verdict !== 'passed' && opts.continueOnFailure === false) break;
    if (i < scenarios.length - 1 && opts.cooldownMs) await new Promise((r) => setTimeout(r, opts.cooldownMs));
  }
  const verdict = overallVerdict(reports, opts.signal.aborted);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    run: {
      id: path.basename(opts.runDir),
      name: opts.name,
      startedAt: startedAt.toISOString(),
      endedAt: new Date().toISOString(),
      platform: opts.platform ?? 'local',
      seed: opts.seed ?? scenarios[0]?.scenario.spec.load.seed ?? 0,
      faultlineVersion: '0.1.0',
      host: os.hostname(),
      command: opts.command,
      exitCode: exitCodeOf(verdict, reports),
      verdict,
      disabled: [...(opts.disabled ?? [])],
    },
    definitions: DEFINITIONS,
    scenarios: reports,
  };
}

function overallVerdict(reports: ScenarioReport[], interrupted: boolean): Verdict {
  if (reports.some((r) => r.verdict === 'error')) return 'error';
  if (interrupted || reports.some((r) => r.verdict === 'aborted')) return 'aborted';
  if (reports.some((r) => r.verdict === 'failed')) return 'failed';
  return 'passed';
}

/** 0 all checks met, 1 a check failed (or the run aborted), 3 infrastructure failure. */
export function exitCodeOf(verdict: Verdict, _reports: ScenarioReport[]): number {
  return verdict === 'passed' ? 0 : verdict === 'error' ? 3 : 1;
}
