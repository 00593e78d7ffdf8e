// Runbook front matter: what the runner measures a scenario against (detection signal and time,
// expected automated mitigation, MTTR target, the SLOs that define "recovered").
import { z } from 'zod';
import { type Check, parseCheck } from '../scenario/checks.ts';
import { Duration } from '../scenario/schema.ts';
import { didYouMean } from '../scenario/suggest.ts';
import { sliSpec } from '../slo/stats.ts';

export const SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4'] as const;
export const MITIGATIONS = [
  'restart',
  'rollback',
  'fallback',
  'retry',
  'breaker',
  'ejection',
  'none',
] as const;
export type Mitigation = (typeof MITIGATIONS)[number];

/** How the runner observes each automated mitigation (docs/runbooks.md repeats this). */
export const MITIGATION_EVIDENCE: Record<Mitigation, string> = {
  restart: 'a replacement replica of the killed service became ready (platform replica-started event)',
  rollback: 'the controller published a rollback event (champion moved back to the last good version)',
  fallback: 'responses served by the fallback model (fallback.count > 0)',
  retry:
    'retries made and the requests succeeded (gateway_retries_total or model_server_feature_fetch_retries_total grew)',
  breaker: 'the model-server circuit breaker opened (model_server_circuit_breaker_state = 1)',
  ejection: 'the gateway ejected a failing replica (gateway_ejections_total grew)',
  none: 'nothing is expected; mitigation.observed is always true',
};

export interface SignalInfo {
  meaning: string;
  /** What the optional `:<arg>` names, if the signal takes one. */
  arg?: string;
}

/**
 * Detection signals the runner can observe (runbook `detection.signal`): each is emitted by the
 * pipeline or its monitoring (scraped metrics, controller events), never by the harness or the
 * platform reporting what it did itself.
 */
export const SIGNALS = {
  'gateway-ejection': { meaning: 'the gateway ejected an upstream replica (gateway_ejections_total grew)' },
  'breaker-open': {
    meaning: 'a model-server circuit breaker opened (model_server_circuit_breaker_state == 1)',
  },
  'fallback-engaged': {
    meaning: 'a model-server answered with the fallback model (model_server_fallback_total grew)',
  },
  'controller-alert': {
    meaning: 'the controller published an alert event; with :Name only an alert whose reason or name is Name',
    arg: 'alert name',
  },
  'controller-rollback': { meaning: 'the controller published a rollback event' },
  'drift-gauge': {
    meaning:
      'the drift monitor flagged a feature: PSI (model_server_feature_drift_psi) above 0.2 or the KS test (p <= 0.05, statistic >= 0.15: model_server_feature_drift_ks_alert); with :feature only that feature',
    arg: 'feature',
  },
  alert: {
    meaning:
      "an alert of the platform's monitoring went pending or firing (the runbooks' rules from `faultline runbooks export`, evaluated by the docker platform's Prometheus); with :Name only that alert",
    arg: 'alert name',
  },
  'error-rate': {
    meaning:
      "the gateway's non-2xx share (gateway_requests_total by code, between two scrapes) exceeded the runbook's error_rate SLO (1% if it names none)",
  },
} as const satisfies Record<string, SignalInfo>;
export type SignalKind = keyof typeof SIGNALS;
export const SIGNAL_NAMES = Object.keys(SIGNALS) as SignalKind[];

export interface DetectionSignal {
  kind: SignalKind;
  arg?: string;
  source: string;
}

export type SignalResult = { ok: true; value: DetectionSignal } | { ok: false; error: string };

/** `controller-alert:ModelServerCrash` → `{ kind: 'controller-alert', arg: 'ModelServerCrash' }`. */
export function parseSignal(source: string): SignalResult {
  const m = /^([a-z-]+)(?::(.+))?$/.exec(source.trim());
  const name = m?.[1] ?? source;
  if (name === 'replica-restart')
    return {
      ok: false,
      error:
        'replica-restart is what the platform did (the restart mitigation), not a detection signal: name what the pipeline emits, e.g. gateway-ejection',
    };
  if (!m || !(name in SIGNALS)) {
    return {
      ok: false,
      error: `unknown detection signal ${JSON.stringify(source)}${didYouMean(name, SIGNAL_NAMES)} (expected one of: ${SIGNAL_NAMES.join(', ')})`,
    };
  }
  const info: SignalInfo = SIGNALS[name as SignalKind];
  if (m[2] !== undefined && !info.arg)
    return { ok: false, error: `${name} takes no ":<arg>", found ${JSON.stringify(source)}` };
  if (m[2] !== undefined && !/^[\w.-]+$/.test(m[2]))
    return {
      ok: false,
      error: `expected ${name}:<${info.arg}> with a plain name, found ${JSON.stringify(source)}`,
    };
  return {
    ok: true,
    value: { kind: name as SignalKind, ...(m[2] !== undefined ? { arg: m[2] } : {}), source },
  };
}

const SignalSchema = z
  .string()
  .transform((s, ctx): DetectionSignal => {
    const r = parseSignal(s);
    if (r.ok) return r.value;
    ctx.issues.push({ code: 'custom', message: r.error, input: s });
    return z.NEVER;
  })
  .meta({
    description: `one of ${SIGNAL_NAMES.join(', ')} (controller-alert, drift-gauge and alert take :<arg>)`,
  });

const SloSchema = z
  .string()
  .transform((s, ctx): Check => {
    const r = parseCheck(s, { context: 'slo' });
    if (!r.ok) {
      ctx.issues.push({ code: 'custom', message: r.error, input: s, params: { offset: r.offset } });
      return z.NEVER;
    }
    const bad = sloProblem(r.value);
    if (bad) {
      ctx.issues.push({ code: 'custom', message: bad.message, input: s, params: { offset: bad.offset } });
      return z.NEVER;
    }
    return r.value;
  })
  .meta({ description: 'SLI check without a phase, e.g. "availability >= 99%"' });

/**
 * An SLO defines "recovered" for MTTR, which needs an objective a window can meet or miss: `==`/`!=`
 * are not objectives (they used to be dropped silently), and the SLI must be computable per window.
 */
function sloProblem(c: Check): { message: string; offset: number } | undefined {
  const opAt = Math.max(0, c.source.indexOf(c.op, c.source.indexOf(c.metric) + c.metric.length));
  if (c.op === '==' || c.op === '!=')
    return {
      message: `an SLO needs an objective (<, <=, > or >=), not "${c.op}": MTTR measures when it holds again`,
      offset: opAt,
    };
  try {
    sliSpec(c.metric);
  } catch {
    return {
      message: `${c.metric} cannot be measured per request window, so it cannot define recovery (SLIs: availability, error_rate, fallback.share, latency.*)`,
      offset: Math.max(0, c.source.indexOf(c.metric)),
    };
  }
  return undefined;
}

export const RunbookFrontMatter = z.strictObject({
  id: z
    .string()
    .max(100, 'a runbook id is at most 100 characters (it names the file)')
    .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, {
      error: (iss) => `expected a kebab-case id like model-server-crash, found ${JSON.stringify(iss.input)}`,
    }),
  title: z.string().min(1),
  severity: z.enum(SEVERITIES),
  owner: z.string().min(1).optional(),
  detection: z.strictObject({
    signal: SignalSchema,
    within: Duration.meta({ description: 'MTTD target' }),
  }),
  mitigation: z.strictObject({
    automated: z.enum(MITIGATIONS),
    within: Duration.optional().meta({ description: 'fault start → mitigation (target of rollback.time)' }),
  }),
  mttr_target: Duration,
  slos: z.array(SloSchema).min(1),
  alert: z
    .strictObject({
      name: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
          error: (iss) =>
            `expected a Prometheus alert name like ModelServerCrash, found ${JSON.stringify(iss.input)}`,
        })
        .optional(),
      expr: z.string().min(1).meta({ description: 'PromQL' }),
      for: Duration.prefault('0s'),
      summary: z.string().min(1).optional(),
    })
    .optional(),
});

export type RunbookFrontMatter = z.output<typeof RunbookFrontMatter>;

export interface RunbookSection {
  title: string;
  line: number;
}

export interface Runbook extends RunbookFrontMatter {
  file: string;
  sections: RunbookSection[];
  /** Markdown after the front matter. */
  body: string;
}

/** H2 sections every runbook must have, in this order. */
export const REQUIRED_SECTIONS = [
  'Detection',
  'Immediate mitigation',
  'Root-cause analysis',
  'Post-mortem template',
] as const;

/** `model-server-crash` → `ModelServerCrash`. */
export const alertNameOf = (rb: Pick<RunbookFrontMatter, 'id' | 'alert'>): string =>
  rb.alert?.name ??
  rb.id
    .split('-')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
