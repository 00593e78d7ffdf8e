#!/usr/bin/env node
// The `faultline` command line. Each command returns an exit code; see src/cli/exit.ts.
import { Command, CommanderError, Option } from 'commander';
import { platformKinds } from '../platforms/index.ts';
import { cleanup } from '../runner/cleanup.ts';
import { type ExportK6Flags, runExportK6 } from './commands/export.ts';
import {
  pipelineDemo,
  pipelineDown,
  pipelineStatus,
  pipelineUp,
  type UpOptions,
} from './commands/pipeline.ts';
import { runReport, runReportSchema, runTrend } from './commands/report.ts';
import { type RunFlags, runCommand } from './commands/run.ts';
import { runList, runRunbooksExport, runRunbooksLint, runSchema, runValidate } from './commands/validate.ts';
import { EXIT, UsageError } from './exit.ts';

const program = new Command('faultline')
  .description('Chaos-engineering and resilience test harness for ML inference pipelines')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

let exitCode: number = EXIT.ok;
// Commander hands actions their parsed arguments; each command function declares its own shape.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Action = (...a: any[]) => Promise<number>;
const run =
  (fn: Action) =>
  async (...a: Parameters<Action>) => {
    exitCode = await fn(...a);
  };

const pipelineFlags = (c: Command) =>
  c
    .option('--platform <name>', `where the pipeline runs: ${platformKinds().join(', ')}`, 'local')
    .option('--replicas <n>', 'model-server replicas', '2')
    .option('--store <store>', 'online store: sqlite or a redis:// URL', 'sqlite')
    .option('--seed <n>', 'seed for the trainer and synthetic data', '42')
    .option('--state-dir <dir>', 'where databases, artifacts and logs live')
    .option('--canary', 'add a model-server replica serving alias "challenger" behind the canary pool')
    .option(
      '--fault-links <links>',
      'links that get a fault proxy: all, none, or a comma list such as model-server->feature-server',
      'all',
    )
    .addOption(
      new Option(
        '--disable <mechanisms>',
        'switch off resilience: fallback,retries,breaker,ejection,rollback,restart',
      ),
    );

const pipeline = program
  .command('pipeline')
  .description('run the reference pipeline by hand (on any platform)');
pipelineFlags(pipeline.command('up').description('start the pipeline and keep it running'))
  .option('--detach', 'run in the background and return once ready')
  .action(run((o: UpOptions) => pipelineUp(o)));
pipeline
  .command('down')
  .description('stop every pipeline started here (any platform) and leave nothing behind')
  .action(run(pipelineDown));
pipeline.command('status').description('list services, pids and readiness').action(run(pipelineStatus));
pipelineFlags(
  pipeline.command('demo').description('start the pipeline, score three transactions, stop'),
).action(run((o: UpOptions) => pipelineDemo(o)));

const runFlags = (c: Command) =>
  c
    .option('--platform <name>', `where the pipeline runs: ${platformKinds().join(', ')}`, 'local')
    .option('--seed <n>', "override every scenario's load seed")
    .option('--report-dir <dir>', 'report folder (default reports/<timestamp>-<name>)')
    .option('--replicas <n>', 'model-server replicas (overrides the scenario)')
    .option('--runbooks <dir>', 'runbook folder (default runbooks/ beside the scenarios)')
    .option(
      '--disable <mechanisms>',
      'switch off resilience: fallback,retries,breaker,ejection,rollback,restart',
    )
    .option('--pdf', 'also render report.pdf (needs Chromium)')
    .option('--quiet', 'no progress output')
    .option('--driver <driver>', 'load driver for every scenario: builtin or k6 (overrides spec.load.driver)')
    .option(
      '--load-from <files>',
      'evaluate k6 JSON output recorded elsewhere (comma-separated files) instead of running the load',
    )
    .option('--journal <file>', 'with --load-from: journal of the Faultline run that injected the faults');

runFlags(
  program
    .command('run')
    .description('run scenarios (files or folders) against the pipeline')
    .argument('<paths...>'),
).action(run((paths: string[], o: RunFlags) => runCommand(paths, o, 'run')));
runFlags(
  program.command('gameday').description('run a game-day suite (kind: Suite)').argument('<suite>'),
).action(run((suite: string, o: RunFlags) => runCommand([suite], o, 'gameday')));
program
  .command('validate')
  .description('check scenario, suite and runbook files; errors name file, line:column and field (exit 2)')
  .argument('[paths...]', 'files or folders (default scenarios/)')
  .option('--runbooks <dir>', 'runbook folder (default runbooks/ beside the scenarios)')
  .action(run((paths: string[], o: { runbooks?: string }) => runValidate(paths, { runbookDir: o.runbooks })));
program
  .command('list')
  .description('list scenarios with their faults and runbooks')
  .argument('[paths...]', 'files or folders (default scenarios/)')
  .option('--runbooks <dir>', 'runbook folder')
  .action(run((paths: string[], o: { runbooks?: string }) => runList(paths, { runbookDir: o.runbooks })));
program
  .command('schema')
  .description('print the JSON Schema of scenario files (for editors)')
  .action(run(() => runSchema()));
const runbooks = program.command('runbooks').description('work with runbooks');
runbooks
  .command('lint')
  .argument('[dir]', 'runbook folder', 'runbooks')
  .description('validate every runbook (front matter and required sections)')
  .action(run((dir: string) => runRunbooksLint(dir)));
runbooks
  .command('export')
  .argument('[dir]', 'runbook folder', 'runbooks')
  .description('export the runbooks as Prometheus alerting rules')
  .option('-o, --output <file>', 'write to a file instead of stdout')
  .option('--runbook-base-url <url>', 'link runbooks in annotations as <url>/<id>.md')
  .action(run((dir: string, o: { output?: string; runbookBaseUrl?: string }) => runRunbooksExport(dir, o)));
const report = program
  .command('report')
  .description('regenerate reports from report.json, trends across runs');
report
  .command('trend')
  .description('HTML page with MTTD/MTTR and pass rate per scenario across runs (the game-day trend)')
  .option('--since <age>', 'only runs newer than this (e.g. 90d, 1y)')
  .option('--out <file>', 'output HTML file (default trend.html beside the history)')
  .option('--history <file>', 'history database (default $FAULTLINE_HISTORY or .faultline/history.db)')
  .action(run((o: { since?: string; out?: string; history?: string }) => runTrend(o)));
report
  .command('schema')
  .description('print (or write) the JSON Schema of report.json')
  .option('--out <file>', 'write to a file')
  .action(run((o: { out?: string }) => runReportSchema(o)));
// `report <run-dir>` after the subcommands, so `trend` and `schema` are never taken for a folder.
report
  .argument('[run-dir]', 'a run folder holding report.json')
  .option('--pdf', 'also render report.pdf (needs Chromium)')
  .option('--history [file]', 'also record the run in the history database')
  .action(
    run(async (dir: string | undefined, o: { pdf?: boolean; history?: string | boolean }) => {
      if (!dir)
        throw new UsageError(
          'report: give a run folder (faultline report reports/<run>) or a subcommand (trend, schema)',
        );
      return runReport(dir, o);
    }),
  );
const exportCmd = program.command('export').description("write a scenario in another tool's format");
exportCmd
  .command('k6')
  .description(
    "the scenario's load as a k6 TypeScript script (k6 itself is not included: install it yourself)",
  )
  .argument('<scenario>', 'scenario file')
  .option(
    '-o, --output <file>',
    'script file (default <scenario name>.k6.ts); faultline-load.ts is written beside it',
  )
  .option('--testrun', 'also write a k6-operator TestRun manifest (<file>.testrun.yaml)')
  .option('--parallelism <n>', 'TestRun runners', '1')
  .option('--url <url>', 'gateway base URL baked into the script (FAULTLINE_URL overrides it)')
  .option('--seed <n>', "override the scenario's load seed")
  .option('--module <path>', 'import the load module from this path instead of writing faultline-load.ts')
  .option('--runbooks <dir>', 'runbook folder (default runbooks/ beside the scenario)')
  .action(run((file: string, o: ExportK6Flags) => runExportK6(file, o)));
program
  .command('cleanup')
  .description('revert faults and stop pipelines left behind by a killed runner')
  .option('--all', 'also stop pipelines whose owner is still alive')
  .action(
    run(async (o: { all?: boolean }) => {
      const r = await cleanup({ all: o.all, log: (m) => process.stdout.write(`${m}\n`) });
      process.stdout.write(
        r.pipelines
          ? `cleaned ${r.pipelines} pipeline(s); ${r.reverted.length} fault(s) reverted\n`
          : 'nothing to clean up\n',
      );
      return r.failed.length ? EXIT.infra : EXIT.ok;
    }),
  );

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.invalidInput;
  } else if (e instanceof UsageError) {
    process.stderr.write(`error: ${e.message}\n`);
    exitCode = EXIT.invalidInput;
  } else {
    process.stderr.write(`error: ${(e as Error).stack ?? e}\n`);
    exitCode = EXIT.infra;
  }
}
process.exit(exitCode);
