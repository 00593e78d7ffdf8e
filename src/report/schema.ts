// The zod mirror of model.ts: validates report.json on read and generates the published JSON Schema
// (report.schema.json). Known fields are checked strictly; unknown fields are tolerated (and dropped on
// read) so a report written by a newer faultline with extra optional fields still renders.
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { REPORT_SCHEMA_VERSION, type RunReport } from './model.ts';

const epochMs = z.number().describe('epoch milliseconds');
const nullableNumber = z.number().nullable();
const verdict = z.enum(['passed', 'failed', 'aborted', 'error']);

export const CheckResultSchema = z
  .object({
    check: z.string().describe('the expression as written in the scenario'),
    metric: z.string(),
    phase: z.enum(['steady', 'fault', 'recovery', 'whole', 'event']),
    op: z.string(),
    target: nullableNumber,
    targetText: z.string(),
    measured: nullableNumber,
    measuredText: z.string(),
    // Optional on read: reports written before it existed get it from `passed`.
    status: z
      .enum(['passed', 'failed', 'inconclusive'])
      .optional()
      .describe(
        'inconclusive: the evidence the check needs was missing (explanation says what); it fails the gate like failed',
      ),
    passed: z.boolean().describe('status == passed'),
    explanation: z.string(),
    quality: z
      .object({
        n: z.number(),
        positives: z.number(),
        negatives: z.number(),
        flagged: z.number(),
        fallback: z.number(),
        se: z.number().optional().describe('standard error (AUC: Hanley–McNeil; log loss: of the mean)'),
        ci: z.object({ lo: z.number(), hi: z.number() }).optional().describe('95% Wilson interval'),
        primary: nullableNumber,
        fallbackOnly: nullableNumber,
      })
      .optional()
      .describe('quality checks: the labelled sample and the confidence of the figure'),
  })
  .transform((c) => ({ ...c, status: c.status ?? (c.passed ? ('passed' as const) : ('failed' as const)) }));

export const TimeSeriesPointSchema = z.object({
  t: epochMs,
  requests: z.number(),
  ok: z.number(),
  errors: z.number(),
  dropped: z.number(),
  availability: nullableNumber,
  errorRate: nullableNumber,
  p50: nullableNumber,
  p99: nullableNumber,
  fallbackShare: nullableNumber,
  modelVersions: z.record(z.string(), z.number()),
});

const RunbookSummarySchema = z.object({
  id: z.string(),
  title: z.string(),
  severity: z.string(),
  file: z.string(),
  detection: z.object({ signal: z.string(), withinMs: z.number() }),
  mitigation: z.object({ automated: z.string(), withinMs: z.number() }),
  mttrTargetMs: z.number(),
  slos: z.array(z.string()),
  sections: z.record(z.string(), z.string()),
});

const FaultRecordSchema = z.object({
  id: z.string(),
  type: z.string(),
  name: z.string().optional(),
  spec: z.record(z.string(), z.unknown()),
  plan: z.record(z.string(), z.unknown()).optional(),
  injectedAt: epochMs.optional(),
  revertedAt: epochMs.optional(),
  revertResult: z.string().optional(),
  error: z.string().optional(),
});

export const MARKER_KINDS = [
  'fault-inject',
  'fault-revert',
  'detection',
  'mitigation',
  'rollback',
  'recovery',
  'replica-exit',
  'replica-start',
  'alert',
  'alias',
  'abort',
] as const;

const MarkerSchema = z.object({ t: epochMs, kind: z.enum(MARKER_KINDS), label: z.string() });
const PhaseWindowSchema = z.object({ from: epochMs, to: epochMs });

const PhaseMeasurementSchema = z.object({
  requests: z.number(),
  ok: z.number(),
  availability: nullableNumber,
  errorRate: nullableNumber,
  fallbackShare: nullableNumber,
  latency: z.object({
    p50: nullableNumber,
    p90: nullableNumber,
    p95: nullableNumber,
    p99: nullableNumber,
    p999: nullableNumber,
    max: nullableNumber,
    mean: nullableNumber,
  }),
  throughput: z.number(),
});

export const ScenarioReportSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  file: z.string(),
  verdict,
  reason: z.string().optional(),
  startedAt: epochMs,
  endedAt: epochMs,
  runbook: RunbookSummarySchema.optional(),
  phases: z.object({
    steady: PhaseWindowSchema,
    fault: PhaseWindowSchema,
    recovery: PhaseWindowSchema,
    whole: PhaseWindowSchema,
  }),
  load: z.object({ driver: z.string(), rate: z.number(), durationMs: z.number(), seed: z.number() }),
  faults: z.array(FaultRecordSchema),
  steadyState: z.array(CheckResultSchema),
  checks: z.array(CheckResultSchema),
  measurements: z.object({
    mttdMs: nullableNumber,
    mttrMs: nullableNumber,
    rollbackMs: nullableNumber,
    driftDetectionMs: nullableNumber,
    detectionSignal: z.string().optional(),
    mitigation: z
      .object({ name: z.string(), observed: z.boolean(), t: epochMs.optional(), evidence: z.string() })
      .optional(),
    recoveredAt: epochMs.optional(),
    mttr: z
      .object({
        recovered: z.boolean(),
        breached: z.boolean().describe('false: "no SLO breach" (mttrMs null, kept out of MTTR medians)'),
        resolutionMs: z
          .number()
          .optional()
          .describe('the recovery instant lies within this many ms before recoveredAt'),
        sloSource: z.enum(['runbook', 'steady-state']),
        slos: z.array(z.string()),
      })
      .optional(),
    phases: z.record(z.string(), PhaseMeasurementSchema),
  }),
  errorBudget: z
    .object({
      objective: z.number(),
      requests: z.number(),
      allowedErrors: z.number(),
      errors: z.number(),
      consumed: z.number(),
    })
    .optional(),
  timeline: z.array(TimeSeriesPointSchema),
  quality: z
    .array(
      z.object({
        from: epochMs,
        to: epochMs,
        n: z.number(),
        positives: z.number(),
        negatives: z.number(),
        auc: nullableNumber,
        aucSe: nullableNumber,
        recall: nullableNumber,
        precision: nullableNumber,
        logloss: nullableNumber,
        fallbackShare: nullableNumber,
      }),
    )
    .optional()
    .describe('model quality over consecutive windows sized by label count'),
  markers: z.array(MarkerSchema),
  probes: z
    .array(
      z.object({
        t: epochMs,
        ok: z.boolean(),
        latencyMs: z.number(),
        modelVersion: z.string().optional(),
        fallback: z.string().optional(),
        error: z.string().optional(),
      }),
    )
    .optional(),
  harness: z
    .object({
      loopDelayMaxMs: z.number(),
      loopDelayP99Ms: z.number(),
      starved: z.boolean(),
      generatorLagP99Ms: z.number().optional(),
      generatorLagMaxMs: z.number().optional(),
    })
    .optional(),
  journal: z.string(),
});

export const RunReportSchema = z
  .object({
    schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
    run: z.object({
      id: z.string().min(1),
      name: z.string(),
      startedAt: z.string(),
      endedAt: z.string(),
      platform: z.string(),
      seed: z.number(),
      faultlineVersion: z.string(),
      host: z.string(),
      command: z.string(),
      exitCode: z.number().int(),
      verdict,
      disabled: z.array(z.string()),
    }),
    definitions: z.record(z.string(), z.string()),
    scenarios: z.array(ScenarioReportSchema),
  })
  .meta({
    $id: `urn:faultline:report:v${REPORT_SCHEMA_VERSION}`,
    title: 'Faultline run report',
    description:
      'report.json: the journal and evaluation of one faultline run. Every other report artifact (junit.xml, summary.md, index.html, report.pdf) is rendered from it.',
  });

// Both directions, so the schema cannot drift from model.ts unnoticed (a required field added to either
// side breaks the typecheck).
type Parsed = z.infer<typeof RunReportSchema>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const modelMatchesSchema: Same<Parsed, RunReport> = true;
void modelMatchesSchema;

/** The published JSON Schema of report.json (draft 2020-12). */
export function reportJsonSchema(): Record<string, unknown> {
  // io 'input' leaves objects open (no additionalProperties: false), matching the tolerant reader.
  const schema = z.toJSONSchema(RunReportSchema, { io: 'input' }) as Record<string, unknown>;
  return { ...schema, 'x-faultline-schemaVersion': REPORT_SCHEMA_VERSION };
}

export const SCHEMA_FILE = new URL('./report.schema.json', import.meta.url);

export function reportJsonSchemaText(): string {
  return `${JSON.stringify(reportJsonSchema(), null, 2)}\n`;
}

// `node src/report/schema.ts` regenerates the committed report.schema.json (a test fails when it is stale).
if (import.meta.main) {
  writeFileSync(SCHEMA_FILE, reportJsonSchemaText());
  process.stdout.write(`wrote ${SCHEMA_FILE.pathname}\n`);
}
