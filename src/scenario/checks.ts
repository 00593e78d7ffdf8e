// Check expressions — `availability >= 99.5% during fault`, `mttr <= runbook` — and abort conditions —
// `error_rate > 50% for 5s`. Parsed at load time so a typo is reported at its line and column.
import { didYouMean } from './suggest.ts';
import {
  formatUnit,
  type Parsed,
  parseDuration,
  parseUnit,
  UNIT_EXAMPLES,
  type UnitKind,
  unitOf,
} from './units.ts';

export interface MetricInfo {
  unit: UnitKind;
  meaning: string;
  /**
   * Measured once per scenario from events (fault start → signal) rather than over a phase window,
   * so `during <phase>` does not apply and it cannot be a steady-state check, an SLO or an abort.
   */
  event: boolean;
  /** Which runbook field `<metric> <= runbook` compares with. */
  runbookTarget?: 'detection.within' | 'mttr_target' | 'mitigation.within';
}

const sli = (unit: UnitKind, meaning: string): MetricInfo => ({ unit, meaning, event: false });
const ev = (unit: UnitKind, meaning: string, runbookTarget?: MetricInfo['runbookTarget']): MetricInfo => ({
  unit,
  meaning,
  event: true,
  ...(runbookTarget ? { runbookTarget } : {}),
});

/** The metric vocabulary of checks, steady-state hypotheses, runbook SLOs and abort conditions. */
export const METRICS = {
  availability: sli(
    'percent',
    'successful responses / requests sent (a fallback answer counts as a success)',
  ),
  error_rate: sli('percent', 'failed, timed-out or dropped requests / requests sent'),
  'latency.p50': sli('duration', 'median latency, measured from the intended send time'),
  'latency.p90': sli('duration', '90th percentile latency'),
  'latency.p95': sli('duration', '95th percentile latency'),
  'latency.p99': sli('duration', '99th percentile latency'),
  'latency.p999': sli('duration', '99.9th percentile latency'),
  'latency.max': sli('duration', 'maximum latency'),
  'latency.mean': sli('duration', 'mean latency'),
  throughput: sli('rate', 'successful responses per second'),
  'fallback.share': sli(
    'percent',
    'successful responses served by the fallback model / successful responses',
  ),
  'fallback.count': sli('number', 'responses served by the fallback model'),
  'retries.total': sli('number', 'retries made by the gateway and the model-server feature fetch'),
  'retries.amplification': sli('percent', 'extra upstream attempts / requests (0% = no retries)'),
  'retry_budget.exhausted': sli('number', 'retries the gateway refused because its retry budget was spent'),
  mttd: ev('duration', "fault start → the runbook's detection signal", 'detection.within'),
  mttr: ev(
    'duration',
    'fault start → every SLI named by the runbook holds for stableFor after its last violation',
    'mttr_target',
  ),
  'rollback.time': ev('duration', "fault start → the controller's rollback event", 'mitigation.within'),
  'drift.detection_time': ev(
    'duration',
    "drift start → the drifted feature's drift gauge over its threshold",
  ),
  'mitigation.observed': ev('boolean', "the runbook's automated mitigation was observed (`== true`)"),
  data_loss: ev('number', 'feature-store rows not restored exactly after the faults were reverted'),
  'model_version.changed': sli('boolean', 'the served model version changed within the phase'),
  'browser.success': sli('percent', 'successful checks by the browser probe (needs a browser probe)'),
  'quality.auc': sli(
    'number',
    "ROC AUC of the answers' scores against the true labels (0.5 = chance, 1 = perfect ranking)",
  ),
  'quality.recall': sli(
    'percent',
    "fraud the model flagged (decision review or decline) / fraud answered, at the model's own threshold",
  ),
  'quality.precision': sli('percent', 'flagged answers that were fraud / flagged answers'),
  'quality.logloss': sli('number', 'mean per-request log loss of the scores against the true labels'),
} as const satisfies Record<string, MetricInfo>;

export type MetricName = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

export const OPS = ['<', '<=', '>', '>=', '==', '!='] as const;
export type Op = (typeof OPS)[number];

export const PHASES = ['steady', 'fault', 'recovery', 'whole'] as const;
export type Phase = (typeof PHASES)[number];

export type CheckValue = { kind: UnitKind; n: number } | { runbook: true };

export interface Check {
  metric: MetricName;
  op: Op;
  value: CheckValue;
  phase: Phase;
  /** The expression as written. */
  source: string;
}

export interface AbortCondition {
  metric: MetricName;
  op: Op;
  value: { kind: UnitKind; n: number };
  /** The condition must hold continuously this long (ms) before the run is aborted. */
  forMs: number;
  source: string;
}

/** A parse failure; `offset` is the character position inside the expression it points at. */
export type ExprResult<T> = { ok: true; value: T } | { ok: false; error: string; offset: number };

export interface CheckOptions {
  /**
   * `check` (scenario checks, default), `steady` (steady-state hypothesis: no phase, SLIs only),
   * `slo` (runbook SLOs: no phase, SLIs only, no `runbook` value).
   */
  context?: 'check' | 'steady' | 'slo';
}

class Scanner {
  pos = 0;
  readonly src: string;
  constructor(src: string) {
    this.src = src;
  }
  ws(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos])) this.pos++;
  }
  match(re: RegExp): string | undefined {
    this.ws();
    const y = new RegExp(re.source, 'y');
    y.lastIndex = this.pos;
    const m = y.exec(this.src);
    if (!m) return undefined;
    this.pos += m[0].length;
    return m[0];
  }
  peekWord(): string {
    this.ws();
    return /^\S*/.exec(this.src.slice(this.pos))![0];
  }
  /** Position of the next token. */
  here(): number {
    this.ws();
    return this.pos;
  }
  done(): boolean {
    this.ws();
    return this.pos >= this.src.length;
  }
}

type Fail = { ok: false; error: string; offset: number };
const failAt = (offset: number, error: string): Fail => ({ ok: false, error, offset });

/** `metric op value` — the part shared by checks and abort conditions. */
function parseComparison(
  s: Scanner,
  allowRunbook: boolean,
  sliOnly: string | undefined,
): ExprResult<{ metric: MetricName; op: Op; value: CheckValue }> {
  const at = s.here();
  const name = s.match(/[A-Za-z_][\w.]*/);
  if (!name) {
    const w = s.peekWord();
    return failAt(at, `expected a metric name at the start, found ${w ? JSON.stringify(w) : 'nothing'}`);
  }
  if (!(name in METRICS)) {
    return failAt(
      at,
      `unknown metric "${name}"${didYouMean(name, METRIC_NAMES)} (see the metric table in docs/scenarios.md)`,
    );
  }
  const metric = name as MetricName;
  const info: MetricInfo = METRICS[metric];
  if (sliOnly && info.event) {
    return failAt(at, `${metric} is measured once per fault from events, so it cannot be used ${sliOnly}`);
  }
  const opAt = s.here();
  const op = s.match(/<=|>=|==|!=|<|>|=/);
  if (!op) {
    const w = s.peekWord();
    return failAt(
      opAt,
      `expected an operator (< <= > >= == !=) after ${metric}, found ${w ? JSON.stringify(w) : 'nothing'}`,
    );
  }
  if (op === '=')
    return failAt(opAt, 'expected an operator (< <= > >= == !=), found "=" — did you mean "=="?');
  if (info.unit === 'boolean' && op !== '==' && op !== '!=') {
    return failAt(opAt, `${metric} is true or false, so only == and != apply, found "${op}"`);
  }
  const valAt = s.here();
  const text = s.match(/\S+/);
  if (!text) return failAt(valAt, `expected ${UNIT_EXAMPLES[info.unit]} after "${op}", found nothing`);
  if (text === 'runbook') {
    if (!allowRunbook || !info.runbookTarget) {
      const which = METRIC_NAMES.filter((m) => (METRICS[m] as MetricInfo).runbookTarget).join(', ');
      return failAt(
        valAt,
        `"runbook" as a target only applies to ${which}${allowRunbook ? '' : ' in scenario checks'}`,
      );
    }
    return { ok: true, value: { metric, op: op as Op, value: { runbook: true } } };
  }
  const parsed: Parsed<number> = parseUnit(info.unit, text);
  if (!parsed.ok) {
    const found = unitOf(text);
    const foundKind = found && found !== info.unit ? ` (a ${found})` : '';
    return failAt(
      valAt,
      `${metric} is a ${info.unit}: expected ${UNIT_EXAMPLES[info.unit]}, found ${JSON.stringify(text)}${foundKind}`,
    );
  }
  return { ok: true, value: { metric, op: op as Op, value: { kind: info.unit, n: parsed.value } } };
}

/** Parses `<metric> <op> <value> [during <phase>]`. */
export function parseCheck(source: unknown, opts: CheckOptions = {}): ExprResult<Check> {
  if (typeof source !== 'string') {
    return failAt(0, `expected a check like "availability >= 99.5% during fault", found ${typeof source}`);
  }
  const context = opts.context ?? 'check';
  const s = new Scanner(source);
  const sliOnly =
    context === 'steady'
      ? 'in a steady-state hypothesis'
      : context === 'slo'
        ? 'as a runbook SLO'
        : undefined;
  const cmp = parseComparison(s, context !== 'slo', sliOnly);
  if (!cmp.ok) return cmp;
  let phase: Phase = context === 'steady' ? 'steady' : 'whole';
  if (!s.done()) {
    const kwAt = s.pos;
    const kw = s.match(/\S+/)!;
    if (kw !== 'during') {
      return failAt(
        kwAt,
        `unexpected ${JSON.stringify(kw)} after the value; expected "during <phase>" or the end${didYouMean(kw, ['during'])}`,
      );
    }
    if (context !== 'check') {
      return failAt(
        kwAt,
        `${context === 'steady' ? 'steady-state checks always apply to the steady phase' : 'runbook SLOs apply to every phase'}; remove "during ..."`,
      );
    }
    if ((METRICS[cmp.value.metric] as MetricInfo).event) {
      return failAt(
        kwAt,
        `${cmp.value.metric} is measured from the fault start, not over a phase; remove "during ..."`,
      );
    }
    const phAt = s.here();
    const ph = s.match(/\S+/);
    if (!ph || !(PHASES as readonly string[]).includes(ph)) {
      return failAt(
        phAt,
        `expected a phase (${PHASES.join(' | ')}) after "during", found ${ph ? JSON.stringify(ph) : 'nothing'}${ph ? didYouMean(ph, PHASES) : ''}`,
      );
    }
    phase = ph as Phase;
    if (!s.done()) return failAt(s.pos, `unexpected ${JSON.stringify(s.peekWord())} after the phase`);
  }
  return { ok: true, value: { ...cmp.value, phase, source } };
}

/** Parses `<metric> <op> <value> for <duration>`. */
export function parseAbort(source: unknown): ExprResult<AbortCondition> {
  if (typeof source !== 'string')
    return failAt(0, `expected a condition like "error_rate > 50% for 5s", found ${typeof source}`);
  const s = new Scanner(source);
  const cmp = parseComparison(s, false, 'as an abort condition');
  if (!cmp.ok) return cmp;
  const kwAt = s.here();
  const kw = s.match(/\S+/);
  if (kw !== 'for') {
    return failAt(
      kwAt,
      `expected "for <duration>" after the value (how long the condition must hold), found ${kw ? JSON.stringify(kw) : 'nothing'}`,
    );
  }
  const dAt = s.here();
  const d = s.match(/\S+/);
  const forMs = parseDuration(d ?? '');
  if (!d || !forMs.ok) return failAt(dAt, forMs.ok ? 'expected a duration after "for"' : forMs.error);
  if (!s.done()) return failAt(s.pos, `unexpected ${JSON.stringify(s.peekWord())} after the duration`);
  return {
    ok: true,
    value: { ...(cmp.value as Omit<AbortCondition, 'forMs' | 'source'>), forMs: forMs.value, source },
  };
}

/** Whether `measured op target` holds. */
export function compare(op: Op, measured: number, target: number): boolean {
  switch (op) {
    case '<':
      return measured < target;
    case '<=':
      return measured <= target;
    case '>':
      return measured > target;
    case '>=':
      return measured >= target;
    case '==':
      return measured === target;
    case '!=':
      return measured !== target;
  }
}

/** Formats a value of a metric (`0.995` for availability → `99.5%`). */
export function formatMetricValue(metric: MetricName, n: number): string {
  // AUC and log loss are estimates good to a few hundredths (their SE is in the explanation).
  if (metric === 'quality.auc') return n.toFixed(3);
  if (metric === 'quality.logloss') return n.toFixed(4);
  return formatUnit(METRICS[metric].unit, n);
}
