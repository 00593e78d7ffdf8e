// A scenario's load as a k6 script (TypeScript, typed with @types/k6; k6 runs .ts directly) and, for
// the k6-operator, a TestRun manifest. The script imports the load's dependency-free core
// (src/load/portable.ts, copied beside it as faultline-load.ts), so it sends the built-in driver's
// payloads for the same seed at the same intended times, reads answers with the same classifyAnswer,
// and emits one `faultline_request` sample per request that ingest.ts turns back into the built-in
// driver's RequestRecord. Faultline never runs, builds or ships k6 itself (AGPL): it writes text.
import { readFileSync } from 'node:fs';
import { drift as driftFault } from '../../faults/drift.ts';
import type { Check } from '../../scenario/checks.ts';
import { expandSchedule, plannedPhases } from '../../scenario/schedule.ts';
import type { DriftFault, Scenario } from '../../scenario/schema.ts';
import { DEFAULT_TIMEOUT_MS } from '../builtin.ts';
import type { DriftSpec, PlannedDrift, RateProfile } from '../portable.ts';
import { K6_METRICS } from './ingest.ts';

/** The dependency-free module every exported script imports. */
export const PORTABLE_MODULE = new URL('../portable.ts', import.meta.url);
/** Its file name beside an exported script. */
export const MODULE_FILE = 'faultline-load.ts';

/** Everything about the load a script needs, as plain JSON (it is embedded in the script). */
export interface K6Load {
  scenario: string;
  /** Gateway base URL baked in (overridden by the FAULTLINE_URL environment variable); null: required at run time. */
  url: string | null;
  path: string;
  seed: number;
  profile: RateProfile;
  payloadOptions: { fraudShare?: number };
  maxInFlight: number;
  timeoutMs: number;
  warmupMs: number;
  /** Planned phase windows, ms from load start (tags on every sample). */
  phases: { name: 'steady' | 'fault' | 'recovery'; startMs: number; endMs: number }[];
  drifts: PlannedDrift[];
}

export interface K6Thresholds {
  thresholds: Record<string, string[]>;
  /** Checks with no k6 counterpart, with the reason (written into the script as a comment). */
  unmapped: string[];
}

export function k6Load(scenario: Scenario, opts: { seed?: number; url?: string } = {}): K6Load {
  const { load } = scenario.spec;
  const durationMs = load.duration ?? (load.stages ?? []).reduce((a, s) => a + s.duration, 0);
  const profile: RateProfile = load.stages
    ? {
        startRate: load.rate,
        stages: load.stages.map((s) => ({ rate: s.rate, duration: s.duration })),
        durationMs,
      }
    : { rate: load.rate, durationMs };
  const planned = plannedPhases(scenario);
  const phases: K6Load['phases'] = [];
  for (const name of ['steady', 'fault', 'recovery'] as const) {
    const w = planned[name];
    if (w && w.endMs > w.startMs) phases.push({ name, startMs: w.startMs, endMs: w.endMs });
  }
  const seed = opts.seed ?? load.seed;
  return {
    scenario: scenario.metadata.name,
    url: opts.url ?? null,
    path: '/v1/predict',
    seed,
    profile,
    payloadOptions: load.fraudShare === undefined ? {} : { fraudShare: load.fraudShare },
    maxInFlight: load.maxInFlight,
    timeoutMs: DEFAULT_TIMEOUT_MS,
    warmupMs: scenario.spec.warmup,
    phases,
    drifts: plannedDrifts(scenario, seed),
  };
}

/**
 * The scenario's drift faults at their planned times. The runner installs a drift when it injects
 * it; a k6 process cannot be handed one mid-run, so the script applies each at its planned offset
 * (a category swap is seeded from the load seed and the fault's position, not from the runner's
 * shared random stream).
 */
function plannedDrifts(scenario: Scenario, seed: number): PlannedDrift[] {
  const out: PlannedDrift[] = [];
  for (const s of expandSchedule(scenario)) {
    if (s.fault.type !== 'drift') continue;
    const f = driftFault.fromScenario(s.fault as DriftFault);
    const profile =
      f.profile === 'ramp'
        ? { kind: 'ramp' as const, durationMs: f.rampDurationMs ?? 10_000 }
        : { kind: 'step' as const };
    const spec: DriftSpec =
      f.kind === 'category-swap'
        ? {
            kind: 'category-swap',
            feature: f.feature,
            mapping: f.mapping ?? {},
            fraction: f.fraction,
            startMs: s.startMs,
            profile,
            seed: seed * 1009 + s.entry * 31 + s.occurrence,
          }
        : f.kind === 'shift'
          ? { kind: 'shift', feature: f.feature, delta: f.amount ?? 0, startMs: s.startMs, profile }
          : { kind: 'scale', feature: f.feature, factor: f.amount ?? 1, startMs: s.startMs, profile };
    const endMs = s.revertAtMs ?? s.windowEndMs;
    out.push(endMs === undefined ? { spec } : { spec, endMs });
  }
  return out;
}

const LATENCY_STAT: Record<string, string> = {
  'latency.p50': 'p(50)',
  'latency.p90': 'p(90)',
  'latency.p95': 'p(95)',
  'latency.p99': 'p(99)',
  'latency.p999': 'p(99.9)',
  'latency.max': 'max',
  'latency.mean': 'avg',
};
const INVERT: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

/**
 * k6 thresholds for the checks that have one: latency, availability, error rate and fallback share
 * over a phase. k6 knows no fault start, so a phase is its planned window (the `phase` tag); the
 * whole run is every request after warm-up (`measured:yes`). Faultline's verdict does not use them;
 * k6 exits 99 when one is crossed and the runner journals that.
 */
export function k6Thresholds(scenario: Scenario): K6Thresholds {
  const thresholds: Record<string, string[]> = {};
  const unmapped: string[] = [];
  const add = (key: string, expr: string) => {
    thresholds[key] ??= [];
    if (!thresholds[key].includes(expr)) thresholds[key].push(expr);
  };
  const planned = plannedPhases(scenario);
  const all: { c: Check; steady: boolean }[] = [
    ...(scenario.spec.steadyState?.checks ?? []).map((c) => ({ c, steady: true })),
    ...scenario.spec.checks.map((c) => ({ c, steady: false })),
  ];
  for (const { c, steady } of all) {
    const label = steady ? `steady state: ${c.source}` : c.source;
    if ('runbook' in c.value) {
      unmapped.push(`${label} (compares with the runbook)`);
      continue;
    }
    if (c.phase !== 'whole' && !planned[c.phase]) {
      unmapped.push(`${label} (the scenario plans no ${c.phase} phase)`);
      continue;
    }
    const sel = c.phase === 'whole' ? '{measured:yes}' : `{phase:${c.phase}}`;
    const n = c.value.n;
    const op = c.op === '==' ? '===' : c.op === '!=' ? '!==' : c.op;
    if (c.metric in LATENCY_STAT) add(`${K6_METRICS.request}${sel}`, `${LATENCY_STAT[c.metric]}${op}${n}`);
    else if (c.metric === 'availability') add(`${K6_METRICS.ok}${sel}`, `rate${op}${n}`);
    else if (c.metric === 'error_rate' && INVERT[c.op])
      add(`${K6_METRICS.ok}${sel}`, `rate${INVERT[c.op]}${+(1 - n).toPrecision(12)}`);
    else if (c.metric === 'fallback.share') add(`${K6_METRICS.fallback}${sel}`, `rate${op}${n}`);
    else unmapped.push(`${label} (measured by Faultline from ${k6Less(c.metric)})`);
  }
  return { thresholds, unmapped };
}

function k6Less(metric: string): string {
  if (metric.startsWith('quality.')) return 'labels and scores';
  if (['mttd', 'mttr', 'rollback.time', 'drift.detection_time', 'mitigation.observed'].includes(metric))
    return 'fault start and pipeline signals';
  return 'the pipeline, not the load';
}

/** k6 arrival-rate executors take whole iterations per timeUnit: the smallest unit that makes every rate whole. */
export function timeUnitFor(rates: number[]): { unit: string; factor: number } {
  for (const factor of [1, 10, 100, 1000]) {
    if (rates.every((r) => Math.abs(r * factor - Math.round(r * factor)) < 1e-9))
      return { unit: `${factor}s`, factor };
  }
  throw new Error(
    `rates ${rates.join(', ')}/s are not whole per 1000 s; k6 arrival-rate executors cannot express them`,
  );
}

/** The k6 `options.scenarios.faultline` entry for the load profile. */
export function k6Executor(load: K6Load): Record<string, unknown> {
  const p = load.profile;
  const rates = p.stages ? [p.startRate ?? 0, ...p.stages.map((s) => s.rate)] : [p.rate ?? 0];
  const peak = Math.max(...rates);
  const { unit, factor } = timeUnitFor(rates);
  // VUs: k6 runs one request per VU at a time, so maxVUs is the built-in driver's maxInFlight (an
  // arrival with no free VU is dropped, like a request over maxInFlight); 200 ms of arrivals start
  // pre-allocated, k6 adds more as latency grows.
  const maxVUs = load.maxInFlight;
  const preAllocatedVUs = Math.min(maxVUs, Math.ceil(peak * 0.2) + 5);
  // In-flight requests at the end get their timeout to finish (k6's gracefulStop), as in the built-in driver.
  const gracefulStop = `${load.timeoutMs + 1000}ms`;
  if (p.stages)
    return {
      executor: 'ramping-arrival-rate',
      startRate: Math.round((p.startRate ?? 0) * factor),
      timeUnit: unit,
      // Validation makes the stages' sum the load's duration: nothing to truncate.
      stages: p.stages.map((s) => ({
        target: Math.round(s.rate * factor),
        duration: `${s.duration}ms`,
      })),
      preAllocatedVUs,
      maxVUs,
      gracefulStop,
    };
  return {
    executor: 'constant-arrival-rate',
    rate: Math.round((p.rate ?? 0) * factor),
    timeUnit: unit,
    duration: `${p.durationMs}ms`,
    preAllocatedVUs,
    maxVUs,
    gracefulStop,
  };
}

export interface RenderOptions {
  /** How the script imports the portable module (default `./faultline-load.ts`). */
  moduleImport?: string;
  /** The command that produced it, for the header. */
  command?: string;
}

/** The k6 script for a scenario. */
export function renderK6Script(scenario: Scenario, load: K6Load, opts: RenderOptions = {}): string {
  const { thresholds, unmapped } = k6Thresholds(scenario);
  const options = { scenarios: { faultline: k6Executor(load) }, thresholds };
  const mod = opts.moduleImport ?? `./${MODULE_FILE}`;
  const json = (v: unknown) => JSON.stringify(v, null, 2);
  return `// k6 load script for the Faultline scenario "${scenario.metadata.name}"${opts.command ? `, written by \`${opts.command}\`` : ''}.
// It replays the scenario's load: ${describeProfile(load)}, seed ${load.seed}, the built-in driver's
// payloads (${mod} is Faultline's src/load/portable.ts) at the same intended times, and one
// \`${K6_METRICS.request}\` sample per request that \`faultline run --load-from\` turns into records.
//
//   k6 run -e FAULTLINE_URL=http://<gateway> --out json=k6.json ${'<this file>'}
//
// Needs k6 with TypeScript support (v0.57 or later). Thresholds mirror the scenario's checks where
// k6 has a counterpart, over the planned phases; Faultline's verdict does not depend on them.
${unmapped.length ? `// Checks only Faultline measures:\n${unmapped.map((u) => `//   - ${u}`).join('\n')}\n` : ''}import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import http from 'k6/http';
import { Rate, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import {
  type AnswerFacts,
  ArrivalSchedule,
  classifyAnswer,
  DEFAULT_POPULATION_SEED,
  DEFAULT_POPULATION_SIZE,
  generateUsers,
  type PlannedDrift,
  PayloadStream,
  type RateProfile,
  type SyntheticUser,
} from '${mod}';

interface Load {
  scenario: string;
  url: string | null;
  path: string;
  seed: number;
  profile: RateProfile;
  payloadOptions: { fraudShare?: number };
  maxInFlight: number;
  timeoutMs: number;
  warmupMs: number;
  phases: { name: string; startMs: number; endMs: number }[];
  drifts: PlannedDrift[];
}

// faultline:load-begin
const LOAD: Load = ${json(load)};
// faultline:load-end

export const options: Options = ${json(options)};

const BASE_URL = __ENV.FAULTLINE_URL || LOAD.url;
if (!BASE_URL) throw new Error('set the gateway URL: k6 run -e FAULTLINE_URL=http://<gateway> …');

// One copy of the user population for every VU (the payloads are for users the feature store knows).
const users = new SharedArray<SyntheticUser>('faultline-users', () =>
  generateUsers(DEFAULT_POPULATION_SEED, DEFAULT_POPULATION_SIZE),
);
const schedule = new ArrivalSchedule(LOAD.profile);
const requests = new Trend('${K6_METRICS.request}', true);
const answered = new Rate('${K6_METRICS.ok}');
const fallback = new Rate('${K6_METRICS.fallback}');
// Per VU: replays the seeded stream forward to each iteration it runs.
let stream: PayloadStream | undefined;
// Per-request metadata, cleared after each request so it never sticks to the next one's samples.
const META_KEYS = ['seq', 't_intended', 't_sent', 'label', 'score', 'decision', 'upstream', 'error'];

function phaseAt(offsetMs: number): string {
  for (const p of LOAD.phases) if (offsetMs >= p.startMs && offsetMs < p.endMs) return p.name;
  return offsetMs < LOAD.warmupMs ? 'warmup' : 'none';
}

function headerOf(headers: Record<string, string>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

export default function (): void {
  // Iteration i of the arrival-rate executor is arrival i of the schedule (k6 does not number the
  // iterations it drops, so after a drop the following ones shift: keep maxVUs large enough).
  const seq = exec.scenario.iterationInTest;
  const offset = schedule.offset(seq);
  if (offset === undefined) return;
  const tIntended = exec.scenario.startTime + offset;
  if (!stream) stream = new PayloadStream(LOAD.seed, LOAD.payloadOptions, users, { schedule, drifts: LOAD.drifts });
  const { tx, label } = stream.at(seq);
  const phase = phaseAt(offset);
  const measured = offset >= LOAD.warmupMs ? 'yes' : 'no';
  const meta = exec.vu.metrics.metadata;
  meta.seq = seq;
  meta.t_intended = tIntended;
  const tSent = Date.now();
  const res = http.post(\`\${BASE_URL}\${LOAD.path}\`, JSON.stringify(tx), {
    headers: { 'content-type': 'application/json', 'x-faultline-seq': String(seq) },
    timeout: \`\${LOAD.timeoutMs}ms\`,
    tags: { name: 'predict', phase, measured },
  });
  const tDone = Date.now();
  // k6 reports a timeout as error code 1050 and status 0 (https://grafana.com/docs/k6/latest/javascript-api/error-codes/).
  const timedOut = res.error_code === 1050;
  const facts: AnswerFacts =
    res.status === 0
      ? { outcome: 'error', error: timedOut ? 'timeout' : res.error || \`k6_\${res.error_code}\` }
      : classifyAnswer(res.status, (n) => headerOf(res.headers, n), typeof res.body === 'string' ? res.body : '');
  const outcome = timedOut ? 'timeout' : facts.outcome;
  meta.t_sent = tSent;
  meta.label = label;
  if (facts.score !== undefined) meta.score = facts.score;
  if (facts.decision) meta.decision = facts.decision;
  if (facts.upstream) meta.upstream = facts.upstream;
  if (facts.error) meta.error = facts.error;
  const tags: Record<string, string> = { outcome, status: String(res.status), phase, measured };
  if (facts.modelVersion) tags.model_version = facts.modelVersion;
  if (facts.fallback) tags.fallback = facts.fallback;
  requests.add(tDone - tIntended, tags);
  answered.add(outcome === 'ok', { phase, measured });
  if (outcome === 'ok') fallback.add(facts.fallback !== undefined, { phase, measured });
  for (const k of META_KEYS) delete meta[k];
}
`;
}

function describeProfile(load: K6Load): string {
  const p = load.profile;
  if (p.stages)
    return `ramping arrival rate from ${p.startRate ?? 0}/s through ${p.stages.map((s) => `${s.rate}/s over ${s.duration} ms`).join(', ')}`;
  return `constant arrival rate ${p.rate}/s for ${p.durationMs} ms`;
}

/** The portable module's source, for writing beside an exported script. */
export function portableSource(): string {
  return readFileSync(PORTABLE_MODULE, 'utf8');
}

/**
 * A ConfigMap holding the script and the module, and a k6-operator TestRun (k6.io/v1alpha1) running
 * it with `parallelism` runners. k6 splits the arrival rate between the runners (execution segments)
 * and numbers iterations uniquely across them, so their `faultline_request` samples merge into one
 * run: copy each runner's JSON output out and pass all files to `--load-from`.
 */
export function renderTestRun(o: {
  name: string;
  script: string;
  scriptFile: string;
  module: string;
  parallelism: number;
  url: string | null;
}): string {
  const cm = `${o.name}-k6`;
  const block = (text: string) =>
    text
      .split('\n')
      .map((l) => (l ? `    ${l}` : ''))
      .join('\n');
  return `# k6-operator TestRun for the Faultline scenario "${o.name}" (kubectl apply -f this file).
# Runners write k6's JSON output to /tmp/faultline-k6.json; copy it from each runner pod
# (kubectl cp) and evaluate: faultline run <scenario> --load-from runner-0.json,runner-1.json,…
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${cm}
data:
  ${o.scriptFile}: |
${block(o.script)}
  ${MODULE_FILE}: |
${block(o.module)}
---
apiVersion: k6.io/v1alpha1
kind: TestRun
metadata:
  name: ${o.name}
spec:
  parallelism: ${o.parallelism}
  script:
    configMap:
      name: ${cm}
      file: ${o.scriptFile}
  arguments: --out json=/tmp/faultline-k6.json
  runner:
    env:
      - name: FAULTLINE_URL
        value: ${JSON.stringify(o.url ?? 'http://gateway:8080')}
`;
}
