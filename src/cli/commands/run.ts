// `faultline run` and `faultline gameday`: validate, run every scenario, write the report, exit with
// a code CI understands.
import fs from 'node:fs';
import path from 'node:path';
import { findK6, K6NotFoundError } from '../../load/k6/binary.ts';
import type { Mechanism } from '../../pipeline/common/config.ts';
import { parseDisabled } from '../../pipeline/common/config.ts';
import { isPlatformKind, platformKinds } from '../../platforms/index.ts';
import { writeRunReport } from '../../report/write.ts';
import { createProgress } from '../../runner/progress.ts';
import { runScenarios } from '../../runner/suite.ts';
import { formatErrors, type LoadedScenario, loadPath } from '../../scenario/load.ts';
import { EXIT, UsageError } from '../exit.ts';
import { evaluateLoadFrom } from './load-from.ts';

export interface RunFlags {
  platform: string;
  seed?: string;
  reportDir?: string;
  replicas?: string;
  disable?: string;
  runbooks?: string;
  pdf?: boolean;
  quiet?: boolean;
  /** Load driver for every scenario (overrides spec.load.driver). */
  driver?: string;
  /** k6 JSON output files recorded elsewhere: evaluate them instead of running the load (load-from.ts). */
  loadFrom?: string;
  /** With --load-from: the journal of the Faultline run that injected the faults. */
  journal?: string;
}

export async function runCommand(paths: string[], flags: RunFlags, mode: 'run' | 'gameday'): Promise<number> {
  if (!isPlatformKind(flags.platform)) {
    throw new UsageError(
      `--platform: "${flags.platform}" is not available in this build (available: ${platformKinds().join(', ')})`,
    );
  }
  const seed = flags.seed === undefined ? undefined : Number(flags.seed);
  if (seed !== undefined && !Number.isInteger(seed))
    throw new UsageError(`--seed: expected an integer, found "${flags.seed}"`);
  const replicas = flags.replicas === undefined ? undefined : Number(flags.replicas);
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 1 || replicas > 16)) {
    throw new UsageError(`--replicas: expected a whole number from 1 to 16, found "${flags.replicas}"`);
  }
  let disabled: Set<Mechanism>;
  try {
    disabled = parseDisabled(flags.disable);
  } catch (e) {
    throw new UsageError(`--disable: ${(e as Error).message.replace(/^FAULTLINE_DISABLE: /, '')}`);
  }

  const scenarios: LoadedScenario[] = [];
  const seen = new Set<string>();
  // A folder yields its suites and their scenarios individually too: each scenario file runs once.
  const add = (s: LoadedScenario) => {
    if (seen.has(s.file)) return;
    seen.add(s.file);
    scenarios.push(s);
  };
  let name = '';
  let continueOnFailure = true;
  let cooldownMs = 0;
  for (const p of paths) {
    const loaded = await loadPath(p, { runbookDir: flags.runbooks });
    if (!loaded.ok) {
      process.stderr.write(`${formatErrors(loaded.errors)}\n`);
      return EXIT.invalidInput;
    }
    for (const l of loaded.value) {
      if (l.kind === 'Suite') {
        name ||= l.suite.metadata.name;
        continueOnFailure = l.suite.spec.continueOnFailure;
        cooldownMs = l.suite.spec.cooldown;
        for (const s of l.scenarios) {
          add(
            l.suite.spec.pipeline
              ? {
                  ...s,
                  scenario: { ...s.scenario, spec: { ...s.scenario.spec, pipeline: l.suite.spec.pipeline } },
                }
              : s,
          );
        }
      } else {
        if (mode === 'gameday')
          throw new UsageError(
            `${l.file}: gameday expects a kind: Suite file, found kind: Scenario (use faultline run)`,
          );
        add(l);
      }
    }
  }
  if (scenarios.length === 0) throw new UsageError(`no scenario found in ${paths.join(', ')}`);
  if (flags.driver !== undefined) {
    if (flags.driver !== 'builtin' && flags.driver !== 'k6')
      throw new UsageError(`--driver: expected builtin or k6, found "${flags.driver}"`);
    const driver: 'builtin' | 'k6' = flags.driver;
    for (const [i, s] of scenarios.entries()) {
      if (driver === 'k6' && s.schedule.some((f) => f.fault.type === 'drift'))
        throw new UsageError(
          `${s.file}: --driver k6: drift needs driver builtin (it changes payloads mid-run through the generator, which a k6 process cannot take)`,
        );
      if (driver === 'builtin' && s.scenario.spec.load.script !== undefined)
        throw new UsageError(
          `${s.file}: --driver builtin: spec.load.script is a k6 script (it needs driver k6)`,
        );
      const load = { ...s.scenario.spec.load, driver };
      scenarios[i] = { ...s, scenario: { ...s.scenario, spec: { ...s.scenario.spec, load } } };
    }
  }
  if (flags.loadFrom !== undefined) return evaluateLoadFrom(scenarios, flags);
  // k6 is the user's (AGPL: never shipped): without one, exit 3 before any pipeline starts.
  if (scenarios.some((s) => s.scenario.spec.load.driver === 'k6')) {
    try {
      findK6();
    } catch (e) {
      if (!(e instanceof K6NotFoundError)) throw e;
      process.stderr.write(`error: ${e.message}\n`);
      return EXIT.infra;
    }
  }
  // Parts of the format this build cannot run yet are refused up front rather than run differently.
  for (const s of scenarios) {
    if (s.scenario.spec.target !== 'reference') {
      throw new UsageError(
        `${s.file}: spec.target: external targets are not available in this build (use target: reference)`,
      );
    }
  }
  name ||=
    scenarios.length === 1 ? scenarios[0].scenario.metadata.name : path.basename(path.resolve(paths[0]));

  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const runDir = path.resolve(flags.reportDir ?? path.join('reports', `${stamp}-${name}`));
  fs.mkdirSync(runDir, { recursive: true });
  const ctl = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`\n${sig}: reverting faults and stopping the pipeline (again to force)…\n`);
      ctl.abort(sig);
    } else process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const progress = createProgress(process.stderr, { quiet: flags.quiet });
  try {
    const report = await runScenarios(scenarios, {
      name,
      runDir,
      seed,
      replicas,
      disabled,
      progress,
      signal: ctl.signal,
      command: `faultline ${mode} ${process.argv.slice(3).join(' ')}`.trim(),
      continueOnFailure,
      cooldownMs,
      platform: flags.platform,
    });
    const written = await writeRunReport(runDir, report, { pdf: flags.pdf });
    // GitHub Actions shows this file on the job page.
    const summaryFile = path.join(runDir, 'summary.md');
    if (process.env.GITHUB_STEP_SUMMARY && fs.existsSync(summaryFile)) {
      fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, fs.readFileSync(summaryFile));
    }
    process.stdout.write(
      `\n${report.run.verdict.toUpperCase()}: ${report.scenarios.filter((s) => s.verdict === 'passed').length}/${report.scenarios.length} scenarios passed\n`,
    );
    for (const s of report.scenarios) {
      process.stdout.write(
        `  ${s.verdict.padEnd(8)}${s.name}${s.measurements.mttr?.breached === false && s.measurements.mttr.recovered ? '  no SLO breach' : s.measurements.mttrMs !== null ? `  MTTR ${(s.measurements.mttrMs / 1000).toFixed(2)} s` : ''}${s.measurements.mttdMs !== null ? `  MTTD ${(s.measurements.mttdMs / 1000).toFixed(2)} s` : ''}\n`,
      );
      for (const c of s.checks.filter((c) => !c.passed)) {
        process.stdout.write(
          c.status === 'inconclusive'
            ? `      ? ${c.check}: ${c.explanation} (target ${c.op} ${c.targetText})\n`
            : `      ✗ ${c.check}: measured ${c.measuredText}, target ${c.op} ${c.targetText} — ${c.explanation}\n`,
        );
      }
      if (s.reason) process.stdout.write(`      ${s.reason}\n`);
      if (s.harness?.starved) {
        process.stdout.write(
          `      warning: the harness itself stalled for up to ${Math.round(s.harness.loopDelayMaxMs)} ms (busy machine?); latency figures are suspect\n`,
        );
      }
    }
    process.stdout.write(`report: ${written.join(', ')}\n`);
    return ctl.signal.aborted ? 130 : report.run.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
