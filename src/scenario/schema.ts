// The scenario and suite file formats (apiVersion faultline/v1). Strict objects everywhere: an unknown
// field is an error, not silently ignored. Cross-field rules live in semantics.ts.
import { z } from 'zod';
import { MECHANISMS } from '../pipeline/common/config.ts';
import { LINK_SELECTOR, LINKS, OUTAGE_SERVICES, SERVICES } from '../pipeline/topology.ts';
import { type AbortCondition, type Check, type CheckOptions, parseAbort, parseCheck } from './checks.ts';
import { didYouMean } from './suggest.ts';
import {
  DURATION_PATTERN,
  type Parsed,
  PERCENT_PATTERN,
  parseDuration,
  parseFraction,
  parsePercent,
  parseRate,
  RATE_PATTERN,
  RELATIVE_EXAMPLE,
  RELATIVE_PATTERN,
} from './units.ts';

export const API_VERSION = 'faultline/v1';

/** Defaults applied when a field is omitted; docs/scenarios.md lists the same values. */
export const DEFAULTS = {
  warmup: '5s',
  stableFor: '5s',
  steadyWindow: '10s',
  seed: 1,
  maxInFlight: 1000,
  replicas: 2,
  probeEvery: '5s',
  probeTimeout: '10s',
  /** Fault phase after an instantaneous pod kill (nothing to revert; the platform restores the pod). */
  podKillWindow: '10s',
  canarySteps: [10, 25, 50],
  canaryStepEvery: '10s',
  suiteCooldown: '5s',
} as const;

export const CORRUPTION_MODES = ['nan', 'null', 'out-of-range', 'wrong-type', 'stale'] as const;
export const TOXICS = ['latency', 'timeout', 'reset_peer', 'bandwidth', 'down'] as const;
export const DRIFT_KINDS = ['shift', 'scale', 'category-swap'] as const;
export const DEGRADATIONS = ['skewed', 'inverted', 'broken'] as const;

const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

// ---- unit-bearing values -------------------------------------------------------------------------

const errorOf = (p: (v: unknown) => Parsed<number>) => (iss: { input?: unknown }) => {
  const r = p(iss.input);
  return r.ok ? undefined : r.error;
};

/** A string in the unit's syntax (or bare 0), transformed to a number (ms, per second, fraction). */
function unitValue(pattern: string, parse: (v: unknown) => Parsed<number>, description: string) {
  const error = errorOf(parse);
  return z
    .union([z.string({ error }).regex(new RegExp(pattern), { error }), z.literal(0)], { error })
    .transform((v, ctx) => {
      const r = parse(v);
      if (r.ok) return r.value;
      ctx.issues.push({ code: 'custom', message: r.error, input: v });
      return z.NEVER;
    })
    .meta({ description });
}

/** Duration (`150ms`, `15s`, `1m30s`) → milliseconds. */
export const Duration = unitValue(DURATION_PATTERN, parseDuration, 'duration: 150ms, 15s, 2m, 1h, 1m30s');
/** Rate (`200/s`, `12000/m`) → per second. */
export const Rate = unitValue(RATE_PATTERN, parseRate, 'rate: 200/s, 12000/m');
/** Percent (`99.5%`) → fraction. */
export const Percent = unitValue(PERCENT_PATTERN, parsePercent, 'percent: 99.5%');
/** A number in [0, 1] or a percent string → fraction. */
export const Fraction = z
  .union([z.number().min(0).max(1), z.string().regex(new RegExp(PERCENT_PATTERN))], {
    error: errorOf(parseFraction),
  })
  .transform((v, ctx) => {
    const r = parseFraction(v);
    if (r.ok) return r.value;
    ctx.issues.push({ code: 'custom', message: r.error, input: v });
    return z.NEVER;
  })
  .meta({ description: 'fraction: a number between 0 and 1, or a percent like 30%' });

// Names become directory and file names (reports/<stamp>-<name>/, runbooks/<id>.md): bounded well
// below the 255-byte file-name limit.
const NAME_MAX = 100;
const name = (what: string) =>
  z
    .string()
    .max(NAME_MAX, `a ${what} is at most ${NAME_MAX} characters`)
    .regex(KEBAB, {
      error: (iss) => `expected a kebab-case ${what} like pod-kill-basic, found ${JSON.stringify(iss.input)}`,
    });

function checkString(context: CheckOptions['context'], example: string) {
  return z
    .string()
    .transform((s, ctx): Check => {
      const r = parseCheck(s, { context });
      if (r.ok) return r.value;
      ctx.issues.push({ code: 'custom', message: r.error, input: s, params: { offset: r.offset } });
      return z.NEVER;
    })
    .meta({ description: `check expression, e.g. "${example}"` });
}

/** `<metric> <op> <value> [during <phase>]`. */
export const CheckExpr = checkString('check', 'availability >= 99.5% during fault');
/** `<metric> <op> <value>` evaluated over the steady-state window. */
export const SteadyCheckExpr = checkString('steady', 'latency.p99 <= 200ms');
/** `<metric> <op> <value> for <duration>`. */
export const AbortExpr = z
  .string()
  .transform((s, ctx): AbortCondition => {
    const r = parseAbort(s);
    if (r.ok) return r.value;
    ctx.issues.push({ code: 'custom', message: r.error, input: s, params: { offset: r.offset } });
    return z.NEVER;
  })
  .meta({ description: 'abort condition, e.g. "error_rate > 50% for 5s"' });

// ---- target, pipeline, load ----------------------------------------------------------------------

export const ExternalTarget = z
  .strictObject({
    gateway: z.url().meta({ description: 'base URL of the inference endpoint (POST /v1/predict)' }),
    prometheus: z.url().optional().meta({ description: 'Prometheus base URL for PromQL queries' }),
    redis: z
      .string()
      .regex(/^rediss?:\/\//, {
        error: (iss) => `expected a redis:// URL, found ${JSON.stringify(iss.input)}`,
      })
      .optional()
      .meta({ description: 'online store (Feast Redis layout); needed for feature-corruption' }),
    controller: z.url().optional().meta({ description: 'a controller speaking the /v1/events contract' }),
  })
  .meta({ description: 'an existing pipeline (not the bundled reference)' });

export const Target = z.union([z.literal('reference'), ExternalTarget], {
  error: (iss) =>
    typeof iss.input === 'string' || iss.input === undefined || iss.input === null
      ? `expected "reference" or an external target mapping ({ gateway: url, ... }), found ${JSON.stringify(iss.input)}`
      : undefined,
});

export const Pipeline = z.strictObject({
  replicas: z
    .number()
    .int()
    .min(1)
    .max(16)
    .default(DEFAULTS.replicas)
    .meta({ description: 'model-server replicas' }),
  disable: z
    .array(z.enum(MECHANISMS))
    .default([])
    .meta({ description: 'resilience mechanisms to switch off' }),
});

export const Stage = z.strictObject({ rate: Rate, duration: Duration });

export const Load = z.strictObject({
  driver: z.enum(['builtin', 'k6']).default('builtin'),
  rate: Rate.meta({ description: 'constant arrival rate (open model); with stages, the starting rate' }),
  duration: Duration.optional().meta({ description: 'load duration; with stages, defaults to their sum' }),
  seed: z.number().int().min(0).default(DEFAULTS.seed),
  stages: z
    .array(Stage)
    .min(1)
    .optional()
    .meta({ description: 'ramp linearly to each stage rate over its duration (k6 ramping-arrival-rate)' }),
  maxInFlight: z.number().int().min(1).default(DEFAULTS.maxInFlight),
  fraudShare: Fraction.optional().meta({
    description:
      "share of the built-in driver's traffic that is fraud (default: the generator's ≈1 %); raise it so quality windows fill with positives",
  }),
  script: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'k6 script, relative to the scenario file (driver k6)' }),
});

// ---- faults --------------------------------------------------------------------------------------

export const Repeat = z.strictObject({
  every: Duration,
  times: z.number().int().min(1).meta({ description: 'total number of injections, the first included' }),
});

/**
 * Every fault type, with `at` required (top level) or optional (members of a parallel group take
 * the group's `at`). Generic over the `at` schema so the two variants keep precise types.
 */
function faultSchemas<A extends z.ZodType>(at: A) {
  const c = { name: z.string().min(1).optional(), at, repeat: Repeat.optional() };
  const PodKill = z.strictObject({
    type: z.literal('pod-kill'),
    ...c,
    duration: Duration.optional().meta({
      description: `fault phase after the kill (default ${DEFAULTS.podKillWindow})`,
    }),
    target: z.strictObject({
      service: z.enum(SERVICES),
      count: z.number().int().min(1).optional(),
      percent: Percent.optional(),
    }),
    signal: z.enum(['SIGKILL', 'SIGTERM']).default('SIGKILL'),
  });
  const FeatureCorruption = z.strictObject({
    type: z.literal('feature-corruption'),
    ...c,
    duration: Duration,
    mode: z.enum(CORRUPTION_MODES),
    fraction: Fraction.meta({ description: 'share of entities corrupted' }),
    features: z.array(z.string().min(1)).min(1).optional().meta({ description: 'default: every feature' }),
  });
  const Latency = z.strictObject({
    type: z.literal('latency'),
    ...c,
    duration: Duration,
    link: z.string().regex(LINK_SELECTOR, {
      error: (iss) =>
        `expected a link (${LINKS.join(' | ')}, or gateway->model-server-<i>), found ${JSON.stringify(iss.input)}${typeof iss.input === 'string' ? didYouMean(iss.input, LINKS) : ''}`,
    }),
    toxic: z.enum(TOXICS).default('latency'),
    latency: Duration.optional(),
    jitter: Duration.optional(),
    timeout: Duration.optional(),
    rate: z.number().positive().optional().meta({ description: 'bandwidth toxic: KB/s' }),
    toxicity: Fraction.default(1).meta({ description: 'share of connections affected' }),
    stream: z.enum(['downstream', 'upstream']).default('downstream'),
  });
  const Drift = z.strictObject({
    type: z.literal('drift'),
    ...c,
    duration: Duration,
    feature: z.string().min(1).meta({ description: 'request field whose values the load drifts' }),
    kind: z.enum(DRIFT_KINDS),
    amount: z
      .union([z.number(), z.string().regex(new RegExp(RELATIVE_PATTERN))], {
        error: (iss) => `expected a number or ${RELATIVE_EXAMPLE}, found ${JSON.stringify(iss.input)}`,
      })
      .optional(),
    from: z.string().min(1).optional(),
    to: z.string().min(1).optional(),
    profile: z.enum(['step', 'ramp']).default('step'),
    rampDuration: Duration.optional(),
    fraction: Fraction.default(1).meta({ description: 'share of requests drifted' }),
  });
  const BadModelRollout = z.strictObject({
    type: z.literal('bad-model-rollout'),
    ...c,
    duration: Duration.optional().meta({ description: 'default: until the load ends' }),
    degradation: z.enum(DEGRADATIONS),
    via: z.enum(['promote', 'canary']).default('promote'),
    steps: z
      .array(z.number().int().min(1).max(100))
      .min(1)
      .optional()
      .meta({ description: 'canary weights in percent' }),
    stepEvery: Duration.optional(),
  });
  const DependencyOutage = z.strictObject({
    type: z.literal('dependency-outage'),
    ...c,
    duration: Duration,
    service: z.enum(OUTAGE_SERVICES),
  });
  const Fault = z.discriminatedUnion('type', [
    PodKill,
    FeatureCorruption,
    Latency,
    Drift,
    BadModelRollout,
    DependencyOutage,
  ]);
  return { PodKill, FeatureCorruption, Latency, Drift, BadModelRollout, DependencyOutage, Fault };
}

const top = faultSchemas(Duration.meta({ description: 'start, from load start' }));
export const PodKillFault = top.PodKill;
export const FeatureCorruptionFault = top.FeatureCorruption;
export const LatencyFault = top.Latency;
export const DriftFault = top.Drift;
export const BadModelRolloutFault = top.BadModelRollout;
export const DependencyOutageFault = top.DependencyOutage;
export const Fault = top.Fault;
export const FAULT_TYPES = [
  'pod-kill',
  'feature-corruption',
  'latency',
  'drift',
  'bad-model-rollout',
  'dependency-outage',
] as const satisfies readonly FaultType[];
/** The union's own types: a fault added to it needs a driver in src/faults/index.ts (a type error otherwise). */
export type FaultType = Fault['type'];
/** The validated scenario fault of one type. */
export type FaultOf<T extends FaultType> = Extract<Fault, { type: T }>;

export const ParallelGroup = z
  .strictObject({
    name: z.string().min(1).optional(),
    at: Duration,
    parallel: z.array(faultSchemas(Duration.optional()).Fault).min(2),
  })
  // Members start with the group: after parsing, each carries the group's at like any other fault.
  .transform((g) => ({ ...g, parallel: g.parallel.map((f) => ({ ...f, at: g.at }) as Fault) }))
  .meta({ description: 'faults injected together at the group at' });

export const FaultEntry = z.union([Fault, ParallelGroup]);

export const Probe = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('browser'),
    every: Duration.prefault(DEFAULTS.probeEvery),
    // A path on the gateway: `//host/x` or `/\host` would make the browser leave it for another host.
    path: z
      .string()
      .regex(
        /^\/(?![/\\])[^\\\s]*$/,
        'expected a path on the gateway such as /, without "//", "\\" or spaces',
      )
      .default('/'),
    timeout: Duration.prefault(DEFAULTS.probeTimeout),
  }),
]);

// ---- documents -----------------------------------------------------------------------------------

export const ScenarioSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Scenario'),
    metadata: z.strictObject({
      name: name('scenario name'),
      description: z.string().optional(),
      runbook: name('runbook id').optional().meta({ description: 'runbook id (file runbooks/<id>.md)' }),
      tags: z.array(z.string()).default([]),
    }),
    spec: z.strictObject({
      target: Target.default('reference'),
      pipeline: Pipeline.optional().meta({ description: 'reference target only' }),
      load: Load,
      warmup: Duration.prefault(DEFAULTS.warmup).meta({ description: 'excluded from every phase' }),
      stableFor: Duration.prefault(DEFAULTS.stableFor).meta({ description: 'MTTR stability period' }),
      steadyState: z
        .strictObject({
          window: Duration.prefault(DEFAULTS.steadyWindow),
          checks: z.array(SteadyCheckExpr).min(1),
        })
        .optional(),
      faults: z.array(FaultEntry).default([]),
      probes: z.array(Probe).default([]),
      checks: z.array(CheckExpr).default([]),
      abort: z.array(AbortExpr).default([]),
    }),
  })
  .meta({ title: 'Faultline scenario', description: 'Load, faults and the checks that must hold' });

export const SuiteSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Suite'),
    metadata: z.strictObject({
      name: name('suite name'),
      description: z.string().optional(),
      tags: z.array(z.string()).default([]),
    }),
    spec: z.strictObject({
      scenarios: z
        .array(z.string().min(1))
        .min(1)
        .meta({ description: 'scenario files, relative to the suite file' }),
      continueOnFailure: z.boolean().default(true),
      pipeline: Pipeline.optional().meta({ description: "overrides every scenario's pipeline block" }),
      cooldown: Duration.prefault(DEFAULTS.suiteCooldown).meta({ description: 'pause between scenarios' }),
    }),
  })
  .meta({ title: 'Faultline suite', description: 'A game day: scenarios run in order' });

export type Scenario = z.output<typeof ScenarioSchema>;
export type ScenarioInput = z.input<typeof ScenarioSchema>;
export type Suite = z.output<typeof SuiteSchema>;
export type Fault = z.output<typeof Fault>;
export type PodKillFault = z.output<typeof PodKillFault>;
export type FeatureCorruptionFault = z.output<typeof FeatureCorruptionFault>;
export type LatencyFault = z.output<typeof LatencyFault>;
export type DriftFault = z.output<typeof DriftFault>;
export type BadModelRolloutFault = z.output<typeof BadModelRolloutFault>;
export type DependencyOutageFault = z.output<typeof DependencyOutageFault>;
export type ParallelGroup = z.output<typeof ParallelGroup>;
export type FaultEntry = z.output<typeof FaultEntry>;
export type ExternalTarget = z.output<typeof ExternalTarget>;
export type Probe = z.output<typeof Probe>;
export type LoadSpec = z.output<typeof Load>;

export const isParallelGroup = (e: FaultEntry): e is ParallelGroup => 'parallel' in e;
