// summary.md: sized for a CI job summary ($GITHUB_STEP_SUMMARY, a GitLab report artifact). Verdict first,
// then per scenario a table of checks and MTTD/MTTR against the runbook targets. Plain status words, no
// emoji, so it reads the same in a terminal, a mail and a CI page.
import {
  allChecks,
  CHECK_WORD,
  fmtMs,
  isBroken,
  mttrVsTarget,
  phaseText,
  VERDICT_WORD,
  vsTarget,
} from './format.ts';
import type { RunReport, ScenarioReport } from './model.ts';

export interface SummaryLinks {
  html?: string;
  pdf?: string;
  junit?: string;
  json?: string;
}

/** Escapes text for a Markdown table cell or paragraph (no raw HTML, no accidental emphasis or links). */
export function mdText(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]|#~])/g, '\\$1')
    .replace(/\r?\n/g, ' ');
}

function duration(report: RunReport): string {
  const ms = Date.parse(report.run.endedAt) - Date.parse(report.run.startedAt);
  return Number.isFinite(ms) ? fmtMs(ms) : 'n/a';
}

function headline(report: RunReport): string {
  const scen = report.scenarios;
  const bad = scen.filter((s) => s.verdict !== 'passed');
  const checks = scen.flatMap(allChecks);
  const failedChecks = checks.filter((c) => !c.result.passed).length;
  const word = VERDICT_WORD[report.run.verdict];
  const parts = [
    `${scen.length - bad.length} of ${scen.length} scenarios passed`,
    `${checks.length - failedChecks} of ${checks.length} checks met`,
  ];
  const inconclusive = checks.filter((c) => c.result.status === 'inconclusive').length;
  if (inconclusive) parts.push(`${inconclusive} inconclusive for missing evidence`);
  const broken = scen.filter((s) => isBroken(s.verdict)).length;
  if (broken) parts.push(`${broken} scenario${broken > 1 ? 's' : ''} did not complete`);
  return `**${word}** — ${parts.join(', ')}.`;
}

function scenarioSection(s: ScenarioReport): string[] {
  const out: string[] = [];
  out.push(`### ${mdText(s.name)} — ${VERDICT_WORD[s.verdict]}`, '');
  if (s.description) out.push(mdText(s.description), '');
  if (isBroken(s.verdict))
    out.push(
      `**Scenario ${s.verdict === 'aborted' ? 'aborted' : 'errored'}:** ${mdText(s.reason ?? 'no reason recorded')}`,
      '',
    );
  const rows = allChecks(s);
  if (rows.length) {
    out.push('| Check | Phase | Measured | Target | Result |', '| --- | --- | --- | --- | --- |');
    for (const { label, result: c } of rows) {
      out.push(
        `| ${mdText(label)} | ${mdText(phaseText(c))} | ${mdText(c.measuredText)} | ${mdText(`${c.op} ${c.targetText}`)} | ${c.passed ? 'pass' : `**${CHECK_WORD[c.status]}**`} |`,
      );
    }
    out.push('');
  }
  const rb = s.runbook;
  const m = s.measurements;
  const lines = [
    `- **MTTD:** ${mdText(vsTarget(m.mttdMs, rb?.detection.withinMs, 'not detected'))}${m.detectionSignal ? ` — signal ${mdText(m.detectionSignal)}` : ''}`,
    `- **MTTR:** ${mdText(mttrVsTarget(m, rb?.mttrTargetMs, 'not recovered'))}${m.mttr?.sloSource === 'steady-state' ? ' — judged on the steady-state SLI checks (no runbook SLOs)' : ''}`,
  ];
  if (m.rollbackMs !== null) lines.push(`- **Rollback:** ${mdText(fmtMs(m.rollbackMs))} after fault start`);
  if (m.mitigation)
    lines.push(
      `- **Mitigation (${mdText(m.mitigation.name)}):** ${m.mitigation.observed ? 'observed' : '**not observed**'} — ${mdText(m.mitigation.evidence)}`,
    );
  if (s.errorBudget) {
    lines.push(
      `- **Error budget** (${mdText(`${+(s.errorBudget.objective * 100).toFixed(3)}%`)} objective): ${mdText(`${(s.errorBudget.consumed * 100).toFixed(1)}%`)} consumed (${s.errorBudget.errors} of ${mdText(s.errorBudget.allowedErrors.toFixed(1))} allowed errors)`,
    );
  }
  if (rb) lines.push(`- **Runbook:** ${mdText(rb.title)} (${mdText(rb.file)})`);
  out.push(...lines, '');
  const failed = rows.filter((r) => !r.result.passed);
  if (failed.length) {
    out.push('Why it failed:', '');
    for (const { label, result } of failed) out.push(`- ${mdText(label)}: ${mdText(result.explanation)}`);
    out.push('');
  }
  return out;
}

export function renderSummary(report: RunReport, links: SummaryLinks = {}): string {
  const r = report.run;
  const out: string[] = [];
  out.push(`## Faultline: ${mdText(r.name)} — ${VERDICT_WORD[r.verdict]}`, '');
  out.push(headline(report), '');
  const started = new Date(r.startedAt);
  const when = Number.isNaN(started.getTime())
    ? r.startedAt
    : `${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  out.push(
    `Run ${mdText(r.id)} on ${mdText(r.platform)}, seed ${r.seed}, started ${mdText(when)}, took ${mdText(duration(report))}, exit code ${r.exitCode}.${
      r.disabled.length ? ` Resilience switched off: ${mdText(r.disabled.join(', '))}.` : ''
    }`,
    '',
  );
  const l = [
    links.html && `[HTML report](${links.html})`,
    links.pdf && `[PDF](${links.pdf})`,
    links.junit && `[JUnit XML](${links.junit})`,
    links.json && `[report.json](${links.json})`,
  ].filter(Boolean);
  if (l.length) out.push(`Reports: ${l.join(' · ')}`, '');
  if (report.scenarios.length) {
    out.push('| Scenario | Result | Checks met | MTTD | MTTR |', '| --- | --- | --- | --- | --- |');
    for (const s of report.scenarios) {
      const rows = allChecks(s);
      const met = rows.filter((x) => x.result.passed).length;
      out.push(
        `| ${mdText(s.name)} | ${s.verdict === 'passed' ? 'PASSED' : `**${VERDICT_WORD[s.verdict]}**`} | ${met} / ${rows.length} | ${mdText(
          vsTarget(s.measurements.mttdMs, s.runbook?.detection.withinMs, 'n/a'),
        )} | ${mdText(mttrVsTarget(s.measurements, s.runbook?.mttrTargetMs, 'n/a'))} |`,
      );
    }
    out.push('');
  }
  for (const s of report.scenarios) out.push(...scenarioSection(s));
  return `${out.join('\n').trimEnd()}\n`;
}
