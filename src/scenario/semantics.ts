// Cross-field rules of a scenario. They run on the raw YAML data, next to the schema validation and
// not after it, so one pass reports structural and semantic errors together. Values that do not parse
// are skipped here: the schema already reports them.
import { STORE_FEATURE_NAMES, TX_TYPES } from '../pipeline/schema.ts';
import { type Check, METRICS, type MetricInfo, parseAbort, parseCheck } from './checks.ts';
import { getPath, type Issue, type PathKey } from './diagnostics.ts';
import { occurrences, type Window } from './schedule.ts';
import { DEFAULTS } from './schema.ts';
import { didYouMean } from './suggest.ts';
import { formatDuration, parseDuration, parseFraction } from './units.ts';

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : undefined;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const dur = (v: unknown): number | undefined => {
  if (v === undefined) return undefined;
  const r = parseDuration(v);
  return r.ok ? r.value : undefined;
};
const fmt = formatDuration;

/** Request fields a drift fault can change on the reference pipeline; `type` is the categorical one. */
export const DRIFT_NUMERIC_FIELDS = [
  'amount',
  'old_balance',
  'new_balance',
  'hour',
  'merchant_risk',
] as const;
export const DRIFT_CATEGORICAL_FIELDS = ['type'] as const;

interface FaultInfo {
  type: string;
  path: PathKey[];
  at: number | undefined;
  windows: Window[];
}

export function scenarioSemantics(raw: unknown): Issue[] {
  const issues: Issue[] = [];
  const err = (path: PathKey[], message: string) => issues.push({ path, message });
  const spec = obj(getPath(raw, ['spec']));
  if (!spec) return issues;
  const reference = spec.target === undefined || spec.target === 'reference';
  const runbook = getPath(raw, ['metadata', 'runbook']);

  // ---- load ----
  const load = obj(spec.load);
  const stages = arr(load?.stages);
  const stagesMs = stages.map((st) => dur(obj(st)?.duration));
  const stagesTotal =
    stagesMs.every((d) => d !== undefined) && stages.length
      ? stagesMs.reduce((a, b) => a! + b!, 0)!
      : undefined;
  let loadMs = dur(load?.duration);
  if (load) {
    if (load.duration === undefined && stages.length === 0) {
      err(['spec', 'load'], 'missing required field "duration" (or give stages)');
    }
    if (loadMs !== undefined && stagesTotal !== undefined && loadMs !== stagesTotal) {
      err(
        ['spec', 'load', 'duration'],
        `duration ${fmt(loadMs)} differs from the sum of the stages (${fmt(stagesTotal)}); omit it or make them agree`,
      );
    }
    loadMs ??= stagesTotal;
    if (loadMs === 0) err(['spec', 'load', 'duration'], 'expected a duration > 0');
    if (load.script !== undefined && load.driver !== 'k6') {
      err(['spec', 'load', 'script'], 'script only applies to driver k6 (set driver: k6)');
    }
    // A team's own k6 script builds its own payloads: there are no labels to raise the fraud share of
    // (the script Faultline generates for driver k6 sends the built-in generator's payloads).
    if (load.fraudShare !== undefined && load.driver === 'k6' && load.script !== undefined) {
      err(
        ['spec', 'load', 'fraudShare'],
        "fraudShare only applies to Faultline's payloads (driver builtin, or k6 without script); this k6 script sends its own",
      );
    }
  }
  const warmup = spec.warmup === undefined ? dur(DEFAULTS.warmup)! : dur(spec.warmup);
  if (warmup !== undefined && loadMs !== undefined && warmup >= loadMs) {
    err(['spec', 'warmup'], `warmup ${fmt(warmup)} leaves nothing to measure in a ${fmt(loadMs)} load`);
  }
  if (spec.stableFor !== undefined && dur(spec.stableFor) === 0)
    err(['spec', 'stableFor'], 'expected a duration > 0');

  // ---- target ----
  const target = obj(spec.target);
  if (target && spec.pipeline !== undefined) {
    err(
      ['spec', 'pipeline'],
      'pipeline only applies to target: reference (an external target is not started by Faultline)',
    );
  }

  // ---- faults ----
  const faults: FaultInfo[] = [];
  const names = new Map<string, string>();
  let prevEnd: { end: number; path: PathKey[] } | undefined;
  arr(spec.faults).forEach((entryRaw, i) => {
    const entry = obj(entryRaw);
    if (!entry) return;
    const base: PathKey[] = ['spec', 'faults', i];
    const isGroup = 'parallel' in entry;
    const at = dur(entry.at);
    const members = isGroup
      ? arr(entry.parallel).map((m, j) => ({ f: obj(m), path: [...base, 'parallel', j] as PathKey[] }))
      : [{ f: entry, path: base }];
    if (typeof entry.name === 'string') checkName(entry.name, [...base, 'name']);
    if (at !== undefined && warmup !== undefined && at < warmup) {
      err(
        [...base, 'at'],
        `starts at ${fmt(at)}, inside the ${fmt(warmup)} warmup; at must be ≥ spec.warmup`,
      );
    }
    if (at !== undefined && loadMs !== undefined && at >= loadMs) {
      err([...base, 'at'], `starts at ${fmt(at)}, after the load ends (spec.load.duration ${fmt(loadMs)})`);
    }
    let entryEnd: number | undefined = at;
    for (const { f, path } of members) {
      if (!f) continue;
      if (isGroup && f.at !== undefined && at !== undefined && dur(f.at) !== undefined && dur(f.at) !== at) {
        err([...path, 'at'], `members of a parallel group start at the group's at (${fmt(at)}); remove at`);
      }
      if (isGroup && typeof f.name === 'string') checkName(f.name, [...path, 'name']);
      const info = faultRules(f, path, at, loadMs);
      if (info) {
        faults.push(info);
        for (const w of info.windows) entryEnd = Math.max(entryEnd ?? 0, w.endMs);
      }
    }
    if (at !== undefined && prevEnd && at < prevEnd.end) {
      err(
        [...base, 'at'],
        `starts at ${fmt(at)}, before the previous fault (${pathText(prevEnd.path)}) ends at ${fmt(prevEnd.end)}; faults run serially — group them under parallel: to overlap`,
      );
    }
    if (entryEnd !== undefined) prevEnd = { end: entryEnd, path: base };
  });

  function checkName(n: string, path: PathKey[]) {
    const where = pathText(path.slice(0, -1));
    const prev = names.get(n);
    if (prev) err(path, `fault name "${n}" is already used by ${prev}`);
    else names.set(n, where);
  }

  function faultRules(
    f: Raw,
    path: PathKey[],
    groupAt: number | undefined,
    loadMs: number | undefined,
  ): FaultInfo | undefined {
    const type = typeof f.type === 'string' ? f.type : undefined;
    if (!type) return undefined;
    const at = groupAt ?? dur(f.at);
    const duration = dur(f.duration);
    if (f.duration !== undefined && duration === 0) err([...path, 'duration'], 'expected a duration > 0');
    const repeat = obj(f.repeat);
    const every = dur(repeat?.every);
    const times = typeof repeat?.times === 'number' && repeat.times >= 1 ? repeat.times : undefined;
    if (repeat && every === 0) err([...path, 'repeat', 'every'], 'expected a duration > 0');
    if (type === 'bad-model-rollout' && repeat && f.duration === undefined) {
      err(
        [...path, 'repeat'],
        'a repeated bad-model-rollout needs a duration (by default it lasts until the load ends)',
      );
    }
    let windows: Window[] = [];
    if (at !== undefined && loadMs !== undefined && (repeat === undefined || (every && times))) {
      const eff = { type, duration, repeat: repeat ? { every: every!, times: times! } : undefined };
      windows = occurrences(eff, at, loadMs);
      const len = windows[0].endMs - windows[0].startMs;
      if (repeat && every! < len && type !== 'pod-kill') {
        err(
          [...path, 'repeat', 'every'],
          `every ${fmt(every!)} is shorter than the fault's duration ${fmt(len)}; each occurrence is reverted before the next`,
        );
      }
      const last = windows[windows.length - 1];
      // A pod kill is instantaneous: only the kill must happen during the load; its window is clipped.
      const end = type === 'pod-kill' && f.duration === undefined ? last.startMs : last.endMs;
      if (end > loadMs || (type === 'pod-kill' && last.startMs >= loadMs)) {
        const field = repeat ? 'repeat' : f.duration !== undefined ? 'duration' : 'at';
        const how = repeat
          ? `the last of ${times} occurrences (every ${fmt(every!)}) ends at ${fmt(end)}`
          : `at ${fmt(at)} + duration ${fmt(len)} = ${fmt(end)}`;
        err([...path, field], `${how}, after the load ends (spec.load.duration ${fmt(loadMs)})`);
      }
    }
    switch (type) {
      case 'pod-kill': {
        const t = obj(f.target);
        if (t && t.count !== undefined && t.percent !== undefined)
          err([...path, 'target', 'percent'], 'give count or percent, not both');
        if (t && t.percent !== undefined) {
          const p = parseFraction(t.percent);
          if (p.ok && p.value === 0) err([...path, 'target', 'percent'], 'expected a percent > 0%');
        }
        // Killing pods needs the platform that runs them: an already-deployed pipeline is reached by
        // attaching a platform to it (the kubernetes platform's attach mode), not through the target.
        if (!reference)
          err(
            path,
            'pod-kill needs a platform that runs the pipeline: use target: reference (a pipeline already deployed on Kubernetes is reached with --platform kubernetes in attach mode: FAULTLINE_KUBE_ATTACH=1 FAULTLINE_KUBE_NAMESPACE=<ns>)',
          );
        break;
      }
      case 'feature-corruption': {
        if (reference) {
          arr(f.features).forEach((n, k) => {
            if (typeof n === 'string' && !STORE_FEATURE_NAMES.includes(n)) {
              err(
                [...path, 'features', k],
                `unknown feature "${n}"${didYouMean(n, STORE_FEATURE_NAMES)} (features: ${STORE_FEATURE_NAMES.join(', ')})`,
              );
            }
          });
        } else if (target && target.redis === undefined) {
          err(path, 'feature-corruption on an external target needs spec.target.redis');
        }
        const fr = f.fraction === undefined ? undefined : parseFraction(f.fraction);
        if (fr?.ok && fr.value === 0) err([...path, 'fraction'], 'expected a fraction > 0');
        break;
      }
      case 'latency': {
        const toxic = f.toxic ?? 'latency';
        const need: Record<string, string | undefined> = { latency: 'latency', bandwidth: 'rate' };
        const only: Record<string, string> = {
          latency: 'latency',
          jitter: 'latency',
          timeout: 'timeout',
          rate: 'bandwidth',
        };
        const req = need[String(toxic)];
        if (req && f[req] === undefined) err(path, `missing required field "${req}" for toxic ${toxic}`);
        for (const [k, t] of Object.entries(only)) {
          if (f[k] !== undefined && t !== toxic)
            err([...path, k], `${k} only applies to toxic ${t} (this fault's toxic is ${toxic})`);
        }
        break;
      }
      case 'drift': {
        const feature = typeof f.feature === 'string' ? f.feature : undefined;
        const kind = f.kind;
        const allFields = [...DRIFT_NUMERIC_FIELDS, ...DRIFT_CATEGORICAL_FIELDS] as string[];
        if (reference && feature && !allFields.includes(feature)) {
          err(
            [...path, 'feature'],
            `unknown request field "${feature}"${didYouMean(feature, allFields)} (fields: ${allFields.join(', ')})`,
          );
        }
        const categorical =
          feature !== undefined && (DRIFT_CATEGORICAL_FIELDS as readonly string[]).includes(feature);
        if (kind === 'category-swap') {
          if (f.amount !== undefined)
            err([...path, 'amount'], 'amount does not apply to category-swap (use from and to)');
          for (const k of ['from', 'to']) {
            if (f[k] === undefined) err(path, `missing required field "${k}" for kind category-swap`);
            else if (reference && categorical && !(TX_TYPES as readonly string[]).includes(String(f[k]))) {
              err(
                [...path, k],
                `unknown category ${JSON.stringify(f[k])}${didYouMean(String(f[k]), TX_TYPES)} (categories: ${TX_TYPES.join(', ')})`,
              );
            }
          }
          if (reference && feature && !categorical && allFields.includes(feature)) {
            err(
              [...path, 'feature'],
              `category-swap needs a categorical field (${DRIFT_CATEGORICAL_FIELDS.join(', ')}), found numeric "${feature}"`,
            );
          }
        } else if (kind === 'shift' || kind === 'scale') {
          if (f.amount === undefined) err(path, `missing required field "amount" for kind ${kind}`);
          if (kind === 'scale' && typeof f.amount === 'string')
            err([...path, 'amount'], 'scale takes a factor like 3, not a percent');
          if (kind === 'scale' && typeof f.amount === 'number' && f.amount <= 0)
            err([...path, 'amount'], `expected a factor > 0, found ${f.amount}`);
          if (kind === 'shift' && f.amount === 0) err([...path, 'amount'], 'a shift of 0 changes nothing');
          for (const k of ['from', 'to'])
            if (f[k] !== undefined) err([...path, k], `${k} only applies to kind category-swap`);
          if (reference && categorical)
            err([...path, 'feature'], `${kind} needs a numeric field, found categorical "${feature}"`);
        }
        const ramp = dur(f.rampDuration);
        if (f.rampDuration !== undefined && f.profile !== 'ramp')
          err([...path, 'rampDuration'], 'rampDuration only applies to profile: ramp');
        if (ramp !== undefined && duration !== undefined && ramp > duration) {
          err(
            [...path, 'rampDuration'],
            `rampDuration ${fmt(ramp)} is longer than the fault's duration ${fmt(duration)}`,
          );
        }
        break;
      }
      case 'bad-model-rollout': {
        const canary = f.via === 'canary';
        if (!canary && f.steps !== undefined) err([...path, 'steps'], 'steps only apply to via: canary');
        if (!canary && f.stepEvery !== undefined)
          err([...path, 'stepEvery'], 'stepEvery only applies to via: canary');
        const steps = arr(f.steps);
        steps.forEach((w, k) => {
          if (
            k > 0 &&
            typeof w === 'number' &&
            typeof steps[k - 1] === 'number' &&
            w <= (steps[k - 1] as number)
          ) {
            err([...path, 'steps', k], `canary weights must increase (${steps[k - 1]} then ${w})`);
          }
        });
        break;
      }
    }
    return { type, path, at, windows };
  }

  // ---- phases and checks ----
  const allWindows = faults.flatMap((f) => f.windows);
  const firstAt = faults.length
    ? Math.min(...faults.map((f) => f.at ?? Number.POSITIVE_INFINITY))
    : undefined;
  const lastEnd = allWindows.length ? Math.max(...allWindows.map((w) => w.endMs)) : undefined;
  const steady = obj(spec.steadyState);
  const window = dur(steady?.window);
  if (
    steady?.window !== undefined &&
    window !== undefined &&
    firstAt !== undefined &&
    warmup !== undefined &&
    Number.isFinite(firstAt)
  ) {
    if (window === 0) err(['spec', 'steadyState', 'window'], 'expected a duration > 0');
    else if (firstAt - window < warmup) {
      err(
        ['spec', 'steadyState', 'window'],
        `the ${fmt(window)} window before the first fault (at ${fmt(firstAt)}) reaches into the ${fmt(warmup)} warmup; shorten it or start the fault at ≥ ${fmt(warmup + window)}`,
      );
    }
  }
  const hasDrift = faults.some((f) => f.type === 'drift');
  // Drift changes payloads mid-run through the generator (setTransformSpec); a k6 process cannot be
  // handed a transform while it runs. (`faultline export k6` scripts apply drift at planned times.)
  if (load?.driver === 'k6') {
    for (const f of faults.filter((f) => f.type === 'drift'))
      err(
        f.path,
        'drift needs driver: builtin (it changes payloads mid-run through the generator, which a k6 process cannot take); `faultline export k6` writes a script that applies it at its planned times',
      );
  }
  const hasProbe = arr(spec.probes).some((p) => obj(p)?.type === 'browser');
  const sliForMttr = runbook !== undefined || steady !== undefined;

  // Labels come from Faultline's seeded generator (builtin, or the script it generates for k6); a
  // team's own k6 script sends payloads whose truth is unknown.
  const noLabels = load?.driver === 'k6' && load.script !== undefined;
  const checkRules = (c: Check, path: PathKey[]) => {
    const info: MetricInfo = METRICS[c.metric];
    if (c.metric.startsWith('quality.') && noLabels)
      err(
        path,
        `${c.metric} needs the true labels of Faultline's payloads (driver builtin, or k6 without script)`,
      );
    if ('runbook' in c.value && runbook === undefined)
      err(path, `"${c.metric} ${c.op} runbook" needs metadata.runbook`);
    if ((c.metric === 'mttd' || c.metric === 'mitigation.observed') && runbook === undefined) {
      err(
        path,
        `${c.metric} is defined by the runbook (its ${c.metric === 'mttd' ? 'detection signal' : 'mitigation'}); set metadata.runbook`,
      );
    }
    if (c.metric === 'mttr' && !sliForMttr)
      err(path, 'mttr needs SLIs to recover to: set metadata.runbook (its slos) or spec.steadyState');
    if (info.event && faults.length === 0)
      err(path, `${c.metric} is measured from a fault's start, and this scenario has no faults`);
    if (c.metric === 'drift.detection_time' && !hasDrift)
      err(path, 'drift.detection_time needs a drift fault');
    if (c.metric === 'browser.success' && !hasProbe)
      err(path, 'browser.success needs a browser probe (spec.probes: [{ type: browser }])');
    if (c.phase === 'fault' && faults.length === 0) err(path, 'during fault: this scenario has no faults');
    if (c.phase === 'recovery' && lastEnd !== undefined && loadMs !== undefined && lastEnd >= loadMs) {
      err(
        path,
        `during recovery: the last fault ends at ${fmt(lastEnd)}, when the load ends, so there is no recovery phase`,
      );
    }
  };
  arr(spec.checks).forEach((s, i) => {
    const r = parseCheck(s);
    if (r.ok) checkRules(r.value, ['spec', 'checks', i]);
  });
  arr(steady?.checks).forEach((s, i) => {
    const r = parseCheck(s, { context: 'steady' });
    if (r.ok) checkRules(r.value, ['spec', 'steadyState', 'checks', i]);
  });
  arr(spec.abort).forEach((s, i) => {
    const r = parseAbort(s);
    if (r.ok && r.value.metric === 'browser.success' && !hasProbe)
      err(['spec', 'abort', i], 'browser.success needs a browser probe');
    if (r.ok && r.value.metric.startsWith('quality.'))
      err(
        ['spec', 'abort', i],
        `${r.value.metric} is judged over windows sized by label count, not the 1 s windows abort conditions use`,
      );
    if (r.ok && r.value.forMs === 0)
      err(['spec', 'abort', i], 'expected "for" > 0s (a single bad second should not abort a run)');
  });
  return issues;
}

const pathText = (p: PathKey[]) =>
  p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${k}` : k), '');

/** Rules for a suite's raw data that need no file system. */
export function suiteSemantics(raw: unknown): Issue[] {
  const issues: Issue[] = [];
  const seen = new Map<string, number>();
  arr(getPath(raw, ['spec', 'scenarios'])).forEach((s, i) => {
    if (typeof s !== 'string') return;
    if (seen.has(s))
      issues.push({
        path: ['spec', 'scenarios', i],
        message: `"${s}" is listed twice (also at [${seen.get(s)}])`,
      });
    else seen.set(s, i);
  });
  return issues;
}
