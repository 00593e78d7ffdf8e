// Formatting shared by every report artifact, so junit.xml, summary.md and index.html say the same thing
// in the same words.
import type { CheckResult, ScenarioReport, Verdict } from './model.ts';

export const VERDICT_WORD: Record<Verdict, string> = {
  passed: 'PASSED',
  failed: 'FAILED',
  aborted: 'ABORTED',
  error: 'ERROR',
};

/** Milliseconds for people: `850 ms`, `8.4 s`, `2 min 5 s`; null → `n/a`. */
export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return 'n/a';
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  if (Math.abs(ms) < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms - m * 60_000) / 1000);
  return s ? `${m} min ${s} s` : `${m} min`;
}

/** A fraction as a percentage: 0.9972 → `99.72%`. */
export function fmtPct(f: number | null | undefined, digits = 2): string {
  if (f === null || f === undefined || !Number.isFinite(f)) return 'n/a';
  return `${(f * 100).toFixed(digits)}%`;
}

export function phaseText(c: CheckResult): string {
  return c.phase === 'event' ? 'from fault start' : `${c.phase} phase`;
}

/** `measured 97.2% (fault phase), target >= 99.5%` — the one line a failing CI gate shows. */
export function failureMessage(c: CheckResult): string {
  // An inconclusive check's explanation already starts "inconclusive: <what was missing>".
  if (c.status === 'inconclusive')
    return `${c.explanation} (${phaseText(c)}), target ${c.op} ${c.targetText}`;
  return `measured ${c.measuredText} (${phaseText(c)}), target ${c.op} ${c.targetText}`;
}

/** A check's result in one word: PASS, FAIL or INCONCLUSIVE (missing evidence, which also fails the gate). */
export const CHECK_WORD: Record<CheckResult['status'], string> = {
  passed: 'PASS',
  failed: 'FAIL',
  inconclusive: 'INCONCLUSIVE',
};

/** All results of a scenario in report order: steady-state hypotheses first, labelled as such. */
export function allChecks(s: ScenarioReport): { label: string; result: CheckResult; steady: boolean }[] {
  return [
    ...s.steadyState.map((result) => ({ label: `steady-state: ${result.check}`, result, steady: true })),
    ...s.checks.map((result) => ({ label: result.check, result, steady: false })),
  ];
}

export function isBroken(v: Verdict): boolean {
  return v === 'aborted' || v === 'error';
}

/** A ±target comparison for MTTD/MTTR: `8.0 s of 30.0 s target` or `not recovered (target 30.0 s)`. */
export function vsTarget(measured: number | null, target: number | undefined, missing: string): string {
  if (measured === null) return target === undefined ? missing : `${missing} (target ${fmtMs(target)})`;
  if (target === undefined) return fmtMs(measured);
  return `${fmtMs(measured)} (target ${fmtMs(target)}, ${measured <= target ? 'met' : 'missed'})`;
}

/** True when the run measured MTTR and no SLO was ever breached: "no SLO breach", not "0 ms". */
export function noSloBreach(m: ScenarioReport['measurements']): boolean {
  return m.mttr?.breached === false && m.mttr.recovered;
}

/** MTTR with its resolution (`1.05 s ± 10 ms`), `no SLO breach`, or `missing` when not recovered. */
export function mttrValue(m: ScenarioReport['measurements'], missing: string): string {
  if (noSloBreach(m)) return 'no SLO breach';
  if (m.mttrMs === null) return missing;
  const res = m.mttr?.resolutionMs;
  if (res === undefined) return fmtMs(m.mttrMs);
  // Enough digits to show the resolution (fmtMs rounds seconds to 0.1 s).
  const digits = res < 10 ? 3 : res < 100 ? 2 : 1;
  const v = m.mttrMs < 1000 ? `${Math.round(m.mttrMs)} ms` : `${(m.mttrMs / 1000).toFixed(digits)} s`;
  return `${v} ± ${fmtMs(res)}`;
}

/** `mttrValue` against the runbook target, like vsTarget. */
export function mttrVsTarget(
  m: ScenarioReport['measurements'],
  target: number | undefined,
  missing: string,
): string {
  if (noSloBreach(m) || m.mttrMs === null || target === undefined) {
    const v = mttrValue(m, missing);
    return target === undefined ? v : `${v} (target ${fmtMs(target)}${noSloBreach(m) ? ', met' : ''})`;
  }
  return `${mttrValue(m, missing)} (target ${fmtMs(target)}, ${m.mttrMs <= target ? 'met' : 'missed'})`;
}

/** Seconds since `from`, for chart axes and marker labels. */
export function relS(t: number, from: number): string {
  return `${((t - from) / 1000).toFixed(1)} s`;
}
