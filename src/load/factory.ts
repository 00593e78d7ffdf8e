// One door to the load drivers: the runner asks for a kind (`load.driver`, or `run --driver`) and
// gets a LoadDriver. builtin = the open-model generator in its worker thread (worker-driver.ts);
// k6 = the user's k6 on the script `faultline export k6` writes for the scenario, or on the
// scenario's own `load.script` (k6/driver.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Scenario } from '../scenario/schema.ts';
import type { LoadDriver } from './driver.ts';
import { K6LoadDriver } from './k6/driver.ts';
import { k6Load, MODULE_FILE, portableSource, renderK6Script } from './k6/export.ts';
import { ArrivalSchedule } from './schedule.ts';
import { createWorkerDriver, type WorkerLoadConfig } from './worker-driver.ts';

export type LoadDriverKind = 'builtin' | 'k6';

/** What every kind offers the runner: the drift seam (k6 refuses it) and the generator's nice value. */
export type RunnerLoadDriver = LoadDriver &
  Required<Pick<LoadDriver, 'setTransformSpec' | 'firstChange'>> & { readonly threadNice: number | null };

export interface LoadDriverOptions extends WorkerLoadConfig {
  /** Needed by the k6 driver: the scenario (for its script), its file and the run's folder. */
  k6?: {
    scenario: Scenario;
    scenarioFile: string;
    workDir: string;
    /** Journal hook for k6's command line, exit code and ingestion stats. */
    events?: (type: string, data: Record<string, unknown>) => void;
    /** The k6 binary; default K6_BIN or PATH. */
    bin?: string;
  };
}

export function createLoadDriver(kind: LoadDriverKind, options: LoadDriverOptions): RunnerLoadDriver {
  const { k6, ...worker } = options;
  if (kind === 'builtin') return createWorkerDriver(worker);
  if (!k6) throw new Error('the k6 driver needs the scenario, its file and a work folder (options.k6)');
  const dir = path.join(k6.workDir, 'k6');
  mkdirSync(dir, { recursive: true });
  const own = k6.scenario.spec.load.script;
  let script: string;
  if (own) {
    script = path.resolve(path.dirname(k6.scenarioFile), own);
  } else {
    // The script `faultline export k6` would write, with this run's seed, beside its module.
    const load = k6Load(k6.scenario, { seed: options.seed, url: options.url });
    script = path.join(dir, `${k6.scenario.metadata.name}.ts`);
    writeFileSync(path.join(dir, MODULE_FILE), portableSource());
    writeFileSync(script, renderK6Script(k6.scenario, load, { command: 'faultline run (driver k6)' }));
  }
  return new K6LoadDriver({
    url: options.url,
    schedule: new ArrivalSchedule(worker),
    script,
    source: own ? 'http' : 'faultline',
    workDir: dir,
    k6Bin: k6.bin,
    keepRecords: options.keepRecords,
    events: k6.events,
  });
}
