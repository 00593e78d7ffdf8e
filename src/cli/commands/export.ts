// `faultline export k6 <scenario>`: the scenario's load as a k6 TypeScript script (and with
// --testrun a k6-operator TestRun manifest). Writes files only; k6 itself is the user's (AGPL).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { k6Load, MODULE_FILE, portableSource, renderK6Script, renderTestRun } from '../../load/k6/export.ts';
import { formatErrors, loadScenarioFile } from '../../scenario/load.ts';
import { EXIT, UsageError } from '../exit.ts';
import { type CliIO, stdio } from './validate.ts';

export interface ExportK6Flags {
  output?: string;
  testrun?: boolean;
  parallelism?: string;
  url?: string;
  seed?: string;
  /** Import the module from this path instead of writing faultline-load.ts beside the script. */
  module?: string;
  runbooks?: string;
}

export async function runExportK6(file: string, flags: ExportK6Flags, io: CliIO = stdio): Promise<number> {
  const seed = flags.seed === undefined ? undefined : Number(flags.seed);
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0))
    throw new UsageError(`--seed: expected an integer ≥ 0, found "${flags.seed}"`);
  const parallelism = flags.parallelism === undefined ? 1 : Number(flags.parallelism);
  if (!(Number.isInteger(parallelism) && parallelism >= 1))
    throw new UsageError(`--parallelism: expected a whole number ≥ 1, found "${flags.parallelism}"`);
  if (flags.url !== undefined && !URL.canParse(flags.url))
    throw new UsageError(`--url: expected a URL such as http://gateway:8080, found "${flags.url}"`);
  const loaded = await loadScenarioFile(file, { runbookDir: flags.runbooks });
  if (!loaded.ok) {
    io.err(formatErrors(loaded.errors));
    return EXIT.invalidInput;
  }
  const { scenario } = loaded.value;
  const out = path.resolve(flags.output ?? `${scenario.metadata.name}.k6.ts`);
  if (!out.endsWith('.ts')) throw new UsageError(`-o: k6 runs TypeScript from a .ts file, found "${out}"`);
  const load = k6Load(scenario, { seed, url: flags.url });
  const rel = path.relative(process.cwd(), path.resolve(file));
  const command = `faultline export k6 ${rel && !rel.startsWith('..') ? rel : file}`;
  let script: string;
  try {
    script = renderK6Script(scenario, load, { moduleImport: flags.module, command });
  } catch (e) {
    io.err(`${file}: ${(e as Error).message}`);
    return EXIT.invalidInput;
  }
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, script);
  const written = [out];
  if (!flags.module) {
    const mod = path.join(path.dirname(out), MODULE_FILE);
    writeFileSync(mod, portableSource());
    written.push(mod);
  }
  if (flags.testrun) {
    const manifest = out.replace(/\.ts$/, '.testrun.yaml');
    const name = scenario.metadata.name;
    // The ConfigMap carries the module beside the script, so the script imports it from ./ there.
    const inCluster = flags.module ? renderK6Script(scenario, load, { command }) : script;
    writeFileSync(
      manifest,
      renderTestRun({
        name,
        script: inCluster,
        scriptFile: `${name}.ts`,
        module: portableSource(),
        parallelism,
        url: flags.url ?? null,
      }),
    );
    written.push(manifest);
  }
  io.out(`wrote ${written.map((w) => path.relative(process.cwd(), w) || w).join(', ')}`);
  return EXIT.ok;
}
