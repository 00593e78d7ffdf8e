#!/usr/bin/env node
// The `faultline` command line. Each command returns an exit code; see src/cli/exit.ts.
import { Command, CommanderError, Option } from 'commander';
import { pipelineDemo, pipelineDown, pipelineStatus, pipelineUp, type UpOptions } from './commands/pipeline.ts';
import { EXIT, UsageError } from './exit.ts';

const program = new Command('faultline')
  .description('Chaos-engineering and resilience test harness for ML inference pipelines')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

let exitCode: number = EXIT.ok;
const run = (fn: (...a: any[]) => Promise<number>) => async (...a: any[]) => {
  exitCode = await fn(...a);
};

const pipelineFlags = (c: Command) =>
  c
    .option('--replicas <n>', 'model-server replicas', '2')
    .option('--store <store>', 'online store: sqlite or a redis:// URL', 'sqlite')
    .option('--seed <n>', 'seed for the trainer and synthetic data', '42')
    .option('--state-dir <dir>', 'where databases, artifacts and logs live')
    .option('--canary', 'add a model-server replica serving alias "challenger" behind the canary pool')
    .addOption(
      new Option('--disable <mechanisms>', 'switch off resilience: fallback,retries,breaker,ejection,rollback,restart'),
    );

const pipeline = program.command('pipeline').description('run the reference pipeline on the local platform');
pipelineFlags(pipeline.command('up').description('start the pipeline and keep it running'))
  .option('--detach', 'run in the background and return once ready')
  .action(run((o: UpOptions) => pipelineUp(o)));
pipeline.command('down').description('stop every local pipeline and leave no process behind').action(run(pipelineDown));
pipeline.command('status').description('list services, pids and readiness').action(run(pipelineStatus));
pipelineFlags(pipeline.command('demo').description('start the pipeline, score three transactions, stop')).action(
  run((o: UpOptions) => pipelineDemo(o)),
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
