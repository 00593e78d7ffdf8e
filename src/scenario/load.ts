// Loads scenario and suite files with precise errors: every problem in the file, each as
// `file:line:column field.path: message`, including a missing runbook or scenario file.
import { existsSync, realpathSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { loadRunbook } from '../runbooks/load.ts';
import type { Runbook } from '../runbooks/schema.ts';
import type { MetricInfo } from './checks.ts';
import { METRICS } from './checks.ts';
import {
  getPath,
  type Issue,
  type PositionedDoc,
  parseYaml,
  type Result,
  sortErrors,
  type ValidationError,
  validateDoc,
} from './diagnostics.ts';
import { expandSchedule, type ScheduledFault } from './schedule.ts';
import { type Scenario, ScenarioSchema, type Suite, SuiteSchema } from './schema.ts';
import { scenarioSemantics, suiteSemantics } from './semantics.ts';
import { didYouMean } from './suggest.ts';

export type { Result, ValidationError } from './diagnostics.ts';
export { formatErrors } from './diagnostics.ts';

export interface LoadOptions {
  /** Where runbooks live; default `runbooks/` beside the scenario file or beside its folder. */
  runbookDir?: string;
}

export interface LoadedScenario {
  kind: 'Scenario';
  file: string;
  scenario: Scenario;
  /** The runbook named by metadata.runbook, loaded and valid. */
  runbook?: Runbook;
  /** Fault occurrences in start order, with planned times. */
  schedule: ScheduledFault[];
}

export interface LoadedSuite {
  kind: 'Suite';
  file: string;
  suite: Suite;
  /** The listed scenarios, loaded, in suite order. */
  scenarios: LoadedScenario[];
}

export type Loaded = LoadedScenario | LoadedSuite;

type RunbookCache = Map<string, Promise<Result<Runbook>>>;

const fileError = (file: string, message: string): ValidationError => ({
  file,
  line: 1,
  column: 1,
  path: '',
  message,
});

async function parseFile(file: string): Promise<PositionedDoc | ValidationError> {
  try {
    return parseYaml(file, await readFile(file, 'utf8'));
  } catch (e) {
    return fileError(file, `cannot read file: ${(e as Error).message}`);
  }
}

/**
 * A file a scenario or suite names (a suite's scenarios, a k6 script) must stay inside the folder of
 * the file naming it: no absolute path, no `..` out of it, no symlink leading out. A scenario is
 * input a team shares; it must not make the runner read arbitrary files. Returns the problem, if any.
 */
export function escapesDir(baseDir: string, ref: string): string | undefined {
  if (ref.includes('\0')) return 'must not contain NUL';
  if (isAbsolute(ref))
    return `must be relative to ${baseDir}, found the absolute path ${JSON.stringify(ref)}`;
  const inside = (root: string, target: string) => {
    const rel = relative(root, target);
    return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
  };
  const target = resolve(baseDir, ref);
  if (!inside(baseDir, target))
    return `must stay inside ${baseDir} (no ".." out of it), found ${JSON.stringify(ref)}`;
  try {
    if (existsSync(target) && !inside(realpathSync(baseDir), realpathSync(target)))
      return `${JSON.stringify(ref)} is a symlink leading out of ${baseDir}`;
  } catch {
    // Unreadable: the existence checks that follow report it.
  }
  return undefined;
}

/** `runbooks/` beside the scenario, or beside the folder holding it (`scenarios/../runbooks`). */
export function defaultRunbookDir(scenarioFile: string): string | undefined {
  const dir = dirname(resolve(scenarioFile));
  return [join(dir, 'runbooks'), join(dir, '..', 'runbooks')].find(
    (d) => existsSync(d) && statSync(d).isDirectory(),
  );
}

async function scenarioFromDoc(
  pd: PositionedDoc,
  opts: LoadOptions,
  cache: RunbookCache,
): Promise<Result<LoadedScenario>> {
  const file = pd.file;
  const { value, raw, errors } = validateDoc(pd, ScenarioSchema, scenarioSemantics);
  if (raw === undefined) return { ok: false, errors };
  const issues: Issue[] = [];

  let runbook: Runbook | undefined;
  const rbId = getPath(raw, ['metadata', 'runbook']);
  if (typeof rbId === 'string' && /^[a-z0-9-]+$/.test(rbId)) {
    const dir = opts.runbookDir ? resolve(opts.runbookDir) : defaultRunbookDir(file);
    if (!dir) {
      const d = dirname(resolve(file));
      issues.push({
        path: ['metadata', 'runbook'],
        message: `runbook "${rbId}": no runbook directory found (looked for ${join(d, 'runbooks')} and ${join(d, '..', 'runbooks')}); pass the runbook directory explicitly`,
      });
    } else {
      const rbFile = join(dir, `${rbId}.md`);
      if (!existsSync(rbFile)) {
        const ids = existsSync(dir)
          ? (await readdir(dir)).filter((n) => n.endsWith('.md')).map((n) => n.slice(0, -3))
          : [];
        issues.push({
          path: ['metadata', 'runbook'],
          message: `runbook "${rbId}" not found: no ${rbFile}${didYouMean(rbId, ids)}`,
        });
      } else {
        if (!cache.has(rbFile)) cache.set(rbFile, loadRunbook(rbFile));
        const r = await cache.get(rbFile)!;
        if (r.ok) runbook = r.value;
        else {
          issues.push({
            path: ['metadata', 'runbook'],
            message: `runbook "${rbId}" is invalid (${r.errors.length} error${r.errors.length === 1 ? '' : 's'} in ${rbFile})`,
          });
          errors.push(...r.errors);
        }
      }
    }
  }
  if (runbook && value) {
    value.spec.checks.forEach((c, i) => {
      const target = (METRICS[c.metric] as MetricInfo).runbookTarget;
      if ('runbook' in c.value && target === 'mitigation.within' && runbook.mitigation.within === undefined) {
        issues.push({
          path: ['spec', 'checks', i],
          message: `runbook "${runbook.id}" sets no mitigation.within to compare ${c.metric} with`,
        });
      }
    });
  }
  const script = getPath(raw, ['spec', 'load', 'script']);
  const scriptEscapes = typeof script === 'string' ? escapesDir(dirname(resolve(file)), script) : undefined;
  if (scriptEscapes) issues.push({ path: ['spec', 'load', 'script'], message: `k6 script ${scriptEscapes}` });
  else if (typeof script === 'string' && !existsSync(resolve(dirname(file), script))) {
    issues.push({
      path: ['spec', 'load', 'script'],
      message: `k6 script not found: ${resolve(dirname(file), script)}`,
    });
  }
  errors.push(...issues.map((i) => pd.toError(i)));
  if (errors.length || !value) return { ok: false, errors: sortErrors(dedupe(errors)) };
  return {
    ok: true,
    value: { kind: 'Scenario', file, scenario: value, runbook, schedule: expandSchedule(value) },
  };
}

async function suiteFromDoc(
  pd: PositionedDoc,
  opts: LoadOptions,
  cache: RunbookCache,
): Promise<Result<LoadedSuite>> {
  const file = pd.file;
  const { value, raw, errors } = validateDoc(pd, SuiteSchema, suiteSemantics);
  if (raw === undefined) return { ok: false, errors };
  const scenarios: LoadedScenario[] = [];
  const list = getPath(raw, ['spec', 'scenarios']);
  if (Array.isArray(list)) {
    const dir = dirname(resolve(file));
    for (const [i, rel] of list.entries()) {
      if (typeof rel !== 'string') continue;
      const path = ['spec', 'scenarios', i];
      const escapes = escapesDir(dir, rel);
      if (escapes) {
        errors.push(pd.toError({ path, message: `scenario file ${escapes}` }));
        continue;
      }
      const target = resolve(dir, rel);
      if (!existsSync(target) || !statSync(target).isFile()) {
        const siblings = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n));
        errors.push(
          pd.toError({
            path,
            message: `scenario file not found: ${target}${didYouMean(basename(rel), siblings)}`,
          }),
        );
        continue;
      }
      const sub = await parseFile(target);
      if (!('doc' in sub)) {
        errors.push(sub);
        continue;
      }
      const subJs = sub.doc.errors.length ? undefined : sub.toJS();
      const kind = subJs?.ok ? getPath(subJs.value, ['kind']) : undefined;
      if (kind === 'Suite') {
        errors.push(pd.toError({ path, message: `${rel} is a Suite; suites cannot contain suites` }));
        continue;
      }
      const r = await scenarioFromDoc(sub, opts, cache);
      if (r.ok) scenarios.push(r.value);
      else {
        errors.push(
          pd.toError({
            path,
            message: `scenario ${rel} is invalid (${r.errors.length} error${r.errors.length === 1 ? '' : 's'})`,
          }),
        );
        errors.push(...r.errors);
      }
    }
  }
  if (errors.length || !value) return { ok: false, errors: sortErrors(dedupe(errors)) };
  return { ok: true, value: { kind: 'Suite', file, suite: value, scenarios } };
}

async function loadAny(
  file: string,
  want: 'Scenario' | 'Suite' | undefined,
  opts: LoadOptions,
  cache: RunbookCache,
): Promise<Result<Loaded>> {
  const pd = await parseFile(file);
  if (!('doc' in pd)) return { ok: false, errors: [pd] };
  if (pd.doc.errors.length) return { ok: false, errors: pd.yamlErrors() };
  const js = pd.toJS();
  if (!js.ok) return { ok: false, errors: [js.error] };
  const kind = getPath(js.value, ['kind']);
  if (want && typeof kind === 'string' && kind !== want && (kind === 'Scenario' || kind === 'Suite')) {
    return {
      ok: false,
      errors: [pd.toError({ path: ['kind'], message: `expected kind ${want}, found ${kind}` })],
    };
  }
  if (!want && typeof kind === 'string' && kind !== 'Scenario' && kind !== 'Suite') {
    return {
      ok: false,
      errors: [
        pd.toError({
          path: ['kind'],
          message: `expected "Scenario" or "Suite", found ${JSON.stringify(kind)}${didYouMean(kind, ['Scenario', 'Suite'])}`,
        }),
      ],
    };
  }
  return (want ?? kind) === 'Suite' ? suiteFromDoc(pd, opts, cache) : scenarioFromDoc(pd, opts, cache);
}

/** Loads one scenario file (kind Scenario) and its runbook. */
export async function loadScenarioFile(
  file: string,
  opts: LoadOptions = {},
): Promise<Result<LoadedScenario>> {
  return loadAny(file, 'Scenario', opts, new Map()) as Promise<Result<LoadedScenario>>;
}

/** Loads a suite (kind Suite) and every scenario it lists. */
export async function loadSuiteFile(file: string, opts: LoadOptions = {}): Promise<Result<LoadedSuite>> {
  return loadAny(file, 'Suite', opts, new Map()) as Promise<Result<LoadedSuite>>;
}

/** `*.yaml` / `*.yml` files of a directory (not recursive), sorted; a file path is returned as is. */
export async function scenarioFiles(fileOrDir: string): Promise<string[]> {
  if (!statSync(fileOrDir).isDirectory()) return [fileOrDir];
  const names = (await readdir(fileOrDir)).filter((n) => /\.ya?ml$/i.test(n)).sort();
  return names.map((n) => join(fileOrDir, n));
}

/**
 * Loads a file (scenario or suite, by its kind) or every YAML file of a directory. A suite's
 * scenarios are loaded as part of it, so a directory listing may yield a scenario twice: on its own
 * and inside the suite.
 */
export async function loadPath(fileOrDir: string, opts: LoadOptions = {}): Promise<Result<Loaded[]>> {
  if (!existsSync(fileOrDir))
    return { ok: false, errors: [fileError(fileOrDir, 'no such file or directory')] };
  const files = await scenarioFiles(fileOrDir);
  if (files.length === 0)
    return { ok: false, errors: [fileError(fileOrDir, 'no *.yaml or *.yml files in this directory')] };
  const cache: RunbookCache = new Map();
  const loaded: Loaded[] = [];
  const errors: ValidationError[] = [];
  for (const f of files) {
    const r = await loadAny(f, undefined, opts, cache);
    if (r.ok) loaded.push(r.value);
    else errors.push(...r.errors);
  }
  return errors.length ? { ok: false, errors: sortErrors(dedupe(errors)) } : { ok: true, value: loaded };
}

function dedupe(errors: ValidationError[]): ValidationError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.file}:${e.line}:${e.column}:${e.path}:${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
