// index.html: one self-contained page per run. Verdict first in plain words for a manager; then per
// scenario the numbers an engineer needs: MTTD/MTTR against the runbook, charts with the fault windows
// and the detection/rollback/recovery markers, the check table, the runbook beside what happened, and
// the measurement definitions the numbers follow. Print CSS puts each scenario on its own A4 page.

import {
  allChecks,
  CHECK_WORD,
  fmtMs,
  fmtPct,
  isBroken,
  mttrValue,
  noSloBreach,
  relS,
  VERDICT_WORD,
} from './format.ts';
import { escapeHtml as esc, renderMarkdown } from './markdown.ts';
import type { CheckResult, MarkerKind, RunReport, ScenarioReport, Verdict } from './model.ts';
import { htmlPage } from './page.ts';

export const CHART_KINDS = ['latency', 'errors', 'fallback', 'version'] as const;

const CHART_TITLES: Record<(typeof CHART_KINDS)[number], string> = {
  latency: 'Latency p50 / p99 (ms, from intended send time)',
  errors: 'Error rate (% of requests sent)',
  fallback: 'Fallback share (% of successful answers)',
  version: 'Served model version (% of answers)',
};

const MARKER_TEXT: Record<MarkerKind, string> = {
  'fault-inject': 'fault injected',
  'fault-revert': 'fault reverted',
  detection: 'detected',
  mitigation: 'mitigation',
  rollback: 'rollback',
  recovery: 'recovered',
  'replica-exit': 'replica exit',
  'replica-start': 'replica start',
  alert: 'alert',
  alias: 'alias moved',
  abort: 'abort',
};

// Same colours and dashes as assets/charts.js draws.
const MARKER_STYLE: Record<MarkerKind, string> = {
  'fault-inject': 'border-color:#d55e00',
  'fault-revert': 'border-color:#d55e00;border-top-style:dashed',
  detection: 'border-color:#0072b2',
  mitigation: 'border-color:#009e73;border-top-style:dashed',
  rollback: 'border-color:#cc79a7',
  recovery: 'border-color:#009e73',
  'replica-exit': 'border-color:#666;border-top-style:dotted',
  'replica-start': 'border-color:#666;border-top-style:dashed',
  alert: 'border-color:#e69f00;border-top-style:dotted',
  alias: 'border-color:#cc79a7;border-top-style:dashed',
  abort: 'border-color:#000',
};

const slug = (name: string) =>
  `scenario-${name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')}`;
const status = (v: Verdict) => `<span class="status ${v}">${VERDICT_WORD[v]}</span>`;
const utc = (iso: string | number) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
};

/** What the client script draws, in seconds since the scenario started and percentages. */
export interface ChartData {
  name: string;
  duration: number;
  x: number[];
  p50: (number | null)[];
  p99: (number | null)[];
  errorRate: (number | null)[];
  fallback: (number | null)[];
  versions: Record<string, (number | null)[]>;
  /** Quality windows (sized by label count), plotted at each window's last answer; AUC ×100, recall/precision %. */
  quality?: { x: number[]; auc: (number | null)[]; recall: (number | null)[]; precision: (number | null)[] };
  faults: { id: string; type: string; from: number; to: number }[];
  markers: { t: number; kind: MarkerKind; label: string }[];
}

function origin(s: ScenarioReport): number {
  return Math.min(s.startedAt, s.timeline[0]?.t ?? s.startedAt);
}

export function chartData(s: ScenarioReport): ChartData {
  const t0 = origin(s);
  const rel = (t: number) => +((t - t0) / 1000).toFixed(3);
  const end = Math.max(s.endedAt, (s.timeline.at(-1)?.t ?? s.endedAt) + 1000);
  const versionNames = [...new Set(s.timeline.flatMap((p) => Object.keys(p.modelVersions)))].sort((a, b) =>
    a.localeCompare(b, 'en', { numeric: true }),
  );
  const versions: Record<string, (number | null)[]> = {};
  for (const v of versionNames) {
    versions[v] = s.timeline.map((p) => {
      const total = Object.values(p.modelVersions).reduce((a, n) => a + n, 0);
      return total ? +(((p.modelVersions[v] ?? 0) / total) * 100).toFixed(2) : null;
    });
  }
  const pct = (f: number | null) => (f === null ? null : +(f * 100).toFixed(4));
  return {
    name: s.name,
    duration: rel(end),
    x: s.timeline.map((p) => rel(p.t)),
    p50: s.timeline.map((p) => p.p50),
    p99: s.timeline.map((p) => p.p99),
    errorRate: s.timeline.map((p) => pct(p.errorRate)),
    fallback: s.timeline.map((p) => pct(p.fallbackShare)),
    versions,
    ...(s.quality?.length
      ? {
          quality: {
            x: s.quality.map((q) => rel(q.to)),
            auc: s.quality.map((q) => pct(q.auc)),
            recall: s.quality.map((q) => pct(q.recall)),
            precision: s.quality.map((q) => pct(q.precision)),
          },
        }
      : {}),
    // A fault without a recorded revert is shaded to the end of the run: it was in effect until teardown.
    faults: s.faults
      .filter((f) => f.injectedAt !== undefined)
      .map((f) => ({ id: f.id, type: f.type, from: rel(f.injectedAt!), to: rel(f.revertedAt ?? end) })),
    markers: [...s.markers]
      .sort((a, b) => a.t - b.t)
      .map((m) => ({ t: rel(m.t), kind: m.kind, label: m.label })),
  };
}

function failedChecks(s: ScenarioReport): CheckResult[] {
  return [...s.steadyState, ...s.checks].filter((c) => !c.passed);
}

/** One sentence a manager can read: did it hold, how fast was it caught and fixed. */
export function plainSentence(s: ScenarioReport): string {
  const rb = s.runbook;
  const m = s.measurements;
  if (isBroken(s.verdict)) {
    return `The scenario ${s.verdict === 'aborted' ? 'was aborted' : 'could not complete'}: ${s.reason ?? 'no reason recorded'}. Its checks are not a verdict on resilience.`;
  }
  const detect =
    m.mttdMs === null
      ? 'the fault was not detected'
      : `the fault was detected after ${fmtMs(m.mttdMs)}${rb ? ` (target ${fmtMs(rb.detection.withinMs)})` : ''}`;
  const recover = noSloBreach(m)
    ? 'no SLO was breached'
    : m.mttrMs === null
      ? 'service did not recover before the end of the run'
      : `service recovered after ${mttrValue(m, 'n/a')}${rb ? ` (target ${fmtMs(rb.mttrTargetMs)})` : ''}`;
  const failed = failedChecks(s);
  if (!failed.length)
    return `Passed: ${detect} and ${recover}. All ${s.steadyState.length + s.checks.length} checks met.`;
  const what = failed
    .slice(0, 3)
    .map((c) => `${c.check} — measured ${c.measuredText}, needed ${c.op} ${c.targetText}`)
    .join('; ');
  return `Failed: ${failed.length} of ${s.steadyState.length + s.checks.length} checks missed (${what}${failed.length > 3 ? '; …' : ''}). ${
    detect[0].toUpperCase() + detect.slice(1)
  } and ${recover}.`;
}

function runSentence(r: RunReport): string {
  const n = r.scenarios.length;
  const failed = r.scenarios.filter((s) => s.verdict === 'failed');
  const broken = r.scenarios.filter((s) => isBroken(s.verdict));
  if (!n) return 'No scenario ran.';
  const parts: string[] = [];
  if (!failed.length && !broken.length) {
    parts.push(
      `All ${n} scenario${n > 1 ? 's' : ''} met their resilience targets: every fault was handled within the runbook targets.`,
    );
  }
  if (failed.length) {
    parts.push(
      `${failed.length} of ${n} scenario${n > 1 ? 's' : ''} missed ${failed.length > 1 ? 'their' : 'its'} targets: ${failed
        .map(
          (s) => `${s.name} (${failedChecks(s).length} check${failedChecks(s).length > 1 ? 's' : ''} failed)`,
        )
        .join(', ')}.`,
    );
  }
  if (broken.length)
    parts.push(
      `${broken.length} could not complete: ${broken.map((s) => `${s.name} (${s.verdict})`).join(', ')}.`,
    );
  if (failed.length || broken.length) {
    const passed = n - failed.length - broken.length;
    if (passed) parts.push(`${passed} passed.`);
  }
  return parts.join(' ');
}

function kpiBar(
  label: string,
  measured: number | null,
  target: number | undefined,
  missing: string,
  fmt: (n: number) => string,
): string {
  const met = measured !== null && (target === undefined || measured <= target);
  const scale = Math.max(measured ?? 0, target ?? 0) * 1.15 || 1;
  const fill =
    measured === null
      ? ''
      : `<div class="fill${target !== undefined && measured > target ? ' over' : ''}" style="width:${((measured / scale) * 100).toFixed(2)}%"></div>`;
  const tick =
    target === undefined
      ? ''
      : `<div class="target" style="left:${((target / scale) * 100).toFixed(2)}%" title="target"></div>`;
  const value = measured === null ? missing : fmt(measured);
  const verdict =
    target === undefined
      ? ''
      : measured === null
        ? ' <small>target missed</small>'
        : ` <small>${met ? 'within' : 'over'} target</small>`;
  return `<div class="kpi${met ? '' : ' missed'}" data-kpi="${esc(label.toLowerCase())}">
  <div class="label">${esc(label)}</div>
  <div class="value">${esc(value)}${verdict}</div>
  <div class="bar">${fill}${tick}</div>
  <div class="bar-scale"><span>0</span><span>${target === undefined ? 'no runbook target' : `target ${esc(fmt(target))}`}</span></div>
</div>`;
}

function kpis(s: ScenarioReport): string {
  const rb = s.runbook;
  const m = s.measurements;
  const eb = s.errorBudget;
  const budget = eb
    ? kpiBar(`Error budget used (${+(eb.objective * 100).toFixed(3)}% SLO)`, eb.consumed, 1, 'n/a', (n) =>
        fmtPct(n, 1),
      )
    : `<div class="kpi" data-kpi="error budget"><div class="label">Error budget</div><div class="value">n/a</div><div class="muted">No availability SLO named by the runbook.</div></div>`;
  return `<div class="kpis">
${kpiBar('Time to detect (MTTD)', m.mttdMs, rb?.detection.withinMs, 'not detected', fmtMs)}
${
  noSloBreach(m)
    ? `<div class="kpi" data-kpi="time to recover (mttr)"><div class="label">Time to recover (MTTR)</div><div class="value">no SLO breach</div><div class="muted">Every SLO held after the fault started; not counted as an MTTR.</div></div>`
    : kpiBar('Time to recover (MTTR)', m.mttrMs, rb?.mttrTargetMs, 'not recovered', () => mttrValue(m, 'n/a'))
}
${budget}
</div>`;
}

function checksTable(s: ScenarioReport): string {
  const rows = allChecks(s);
  if (!rows.length) return '<p class="no-data">No checks were evaluated.</p>';
  return `<table class="checks">
<thead><tr><th>Check</th><th>Phase</th><th class="num">Measured</th><th class="num">Target</th><th>Result</th><th>How it was measured</th></tr></thead>
<tbody>
${rows
  .map(
    ({
      label,
      result: c,
    }) => `<tr class="${c.passed ? 'check-passed' : 'check-failed'}" data-check="${esc(label)}" data-status="${c.status}">
<td class="expr">${esc(label)}</td><td>${esc(c.phase === 'event' ? 'from fault start' : c.phase)}</td><td class="num measured">${esc(c.measuredText)}${confidence(c)}</td><td class="num">${esc(
      `${c.op} ${c.targetText}`,
    )}</td><td>${c.passed ? '<span class="status pass">PASS</span>' : `<span class="status ${c.status === 'inconclusive' ? 'inconclusive' : 'fail'}">${CHECK_WORD[c.status]}</span>`}</td><td class="why">${esc(c.explanation)}</td></tr>`,
  )
  .join('\n')}
</tbody></table>`;
}

/** A quality figure's confidence under its value: ± standard error or the 95% Wilson interval. */
function confidence(c: CheckResult): string {
  const q = c.quality;
  if (!q || c.measured === null) return '';
  const pctText = (x: number) => `${(x * 100).toFixed(1)}%`;
  const text =
    q.se !== undefined
      ? `± ${q.se.toFixed(c.metric === 'quality.logloss' ? 4 : 3)} SE`
      : q.ci
        ? `95% ${pctText(q.ci.lo)}–${pctText(q.ci.hi)}`
        : '';
  return `<div class="ci muted">${esc(text)}<br>${q.positives}+/${q.negatives}− labels</div>`;
}

function phaseTable(s: ScenarioReport): string {
  const order = ['steady', 'fault', 'recovery', 'whole'];
  const phases = Object.entries(s.measurements.phases).sort(
    ([a], [b]) => order.indexOf(a) - order.indexOf(b),
  );
  if (!phases.length) return '';
  const t0 = origin(s);
  const win = (p: string) => {
    const w = (s.phases as Record<string, { from: number; to: number } | undefined>)[p];
    return w ? `${((w.from - t0) / 1000).toFixed(1)}–${relS(w.to, t0)}` : '';
  };
  return `<h3>Measured per phase</h3>
<table class="phases">
<thead><tr><th>Phase</th><th>Window</th><th class="num">Requests</th><th class="num">Availability</th><th class="num">Error rate</th><th class="num">p50 (ms)</th><th class="num">p99 (ms)</th><th class="num">Fallback</th><th class="num">Throughput (/s)</th></tr></thead>
<tbody>
${phases
  .map(
    ([p, v]) =>
      `<tr><td>${esc(p)}</td><td class="mono">${esc(win(p))}</td><td class="num">${v.requests}</td><td class="num">${fmtPct(v.availability)}</td><td class="num">${fmtPct(
        v.errorRate,
      )}</td><td class="num">${v.latency.p50 === null ? 'n/a' : v.latency.p50.toFixed(1)}</td><td class="num">${
        v.latency.p99 === null ? 'n/a' : v.latency.p99.toFixed(1)
      }</td><td class="num">${fmtPct(v.fallbackShare)}</td><td class="num">${v.throughput.toFixed(1)}</td></tr>`,
  )
  .join('\n')}
</tbody></table>`;
}

function faultsTable(s: ScenarioReport): string {
  if (!s.faults.length) return '';
  const t0 = origin(s);
  return `<h3>Faults</h3>
<table class="faults">
<thead><tr><th>Fault</th><th>Type</th><th class="num">Injected</th><th class="num">Reverted</th><th class="num">Duration</th><th>Outcome</th></tr></thead>
<tbody>
${s.faults
  .map((f) => {
    const dur =
      f.injectedAt !== undefined && f.revertedAt !== undefined ? fmtMs(f.revertedAt - f.injectedAt) : 'n/a';
    const outcome = f.error
      ? `error: ${f.error}`
      : (f.revertResult ?? (f.revertedAt ? 'reverted' : 'not reverted'));
    return `<tr data-fault="${esc(f.id)}"><td>${esc(f.name ?? f.id)}</td><td>${esc(f.type)}</td><td class="num">${
      f.injectedAt === undefined ? 'not injected' : `+${relS(f.injectedAt, t0)}`
    }</td><td class="num">${f.revertedAt === undefined ? 'n/a' : `+${relS(f.revertedAt, t0)}`}</td><td class="num">${esc(dur)}</td><td>${esc(outcome)}</td></tr>`;
  })
  .join('\n')}
</tbody></table>`;
}

function charts(s: ScenarioReport): string {
  if (!s.timeline.length)
    return '<p class="no-data">No load was measured in this scenario, so there are no charts.</p>';
  const kinds = [...new Set(s.markers.map((m) => m.kind))];
  const legend = `<div class="legend-markers"><span><span class="fault-sw"></span>fault window</span>${kinds
    .map((k) => `<span><span class="sw" style="${MARKER_STYLE[k]}"></span>${esc(MARKER_TEXT[k])}</span>`)
    .join('')}<span>x axis: seconds since the scenario started</span></div>`;
  return `<div class="charts">
${CHART_KINDS.map((k) => `<div class="chart" data-chart="${k}"><h3>${esc(CHART_TITLES[k])}</h3><div class="plot"></div></div>`).join('\n')}${
  s.quality?.length
    ? '\n<div class="chart" data-chart="quality"><h3>Model quality (AUC ×100, recall %, precision %; windows of ≥ 20 fraud and 20 legitimate answers)</h3><div class="plot"></div></div>'
    : ''
}
</div>
${legend}`;
}

function runbookColumn(s: ScenarioReport): string {
  const rb = s.runbook;
  if (!rb)
    return '<div class="runbook"><h3>Runbook</h3><p class="muted">This scenario names no runbook.</p></div>';
  const sections = Object.entries(rb.sections)
    .map(([title, md]) => `<h4>${esc(title)}</h4>\n${renderMarkdown(md)}`)
    .join('\n');
  return `<div class="runbook">
<h3>Runbook: ${esc(rb.title)} <span class="muted">(${esc(rb.severity)}, ${esc(rb.file)})</span></h3>
<div class="targets">Detect by <b>${esc(rb.detection.signal)}</b> within ${esc(fmtMs(rb.detection.withinMs))} · expected mitigation <b>${esc(
    rb.mitigation.automated,
  )}</b> within ${esc(fmtMs(rb.mitigation.withinMs))} · recover within ${esc(fmtMs(rb.mttrTargetMs))}${
    rb.slos.length ? ` · SLOs: ${rb.slos.map((x) => `<code>${esc(x)}</code>`).join(', ')}` : ''
  }</div>
${sections}
</div>`;
}

function eventsColumn(s: ScenarioReport): string {
  const t0 = origin(s);
  const m = s.measurements;
  const markers = [...s.markers].sort((a, b) => a.t - b.t);
  const items = markers.map(
    (mk) =>
      `<li data-marker="${mk.kind}"><span class="t">+${esc(relS(mk.t, t0))}</span><span class="k k-${mk.kind}">${esc(MARKER_TEXT[mk.kind])}</span><span>${esc(mk.label)}</span></li>`,
  );
  const mit = m.mitigation
    ? `<p><b>Mitigation (${esc(m.mitigation.name)}):</b> ${m.mitigation.observed ? 'observed' : '<b>not observed</b>'} — ${esc(m.mitigation.evidence)}${
        m.mitigation.t !== undefined ? ` at +${esc(relS(m.mitigation.t, t0))}` : ''
      }</p>`
    : '';
  const extra = [
    m.detectionSignal ? `<p><b>Detection signal:</b> ${esc(m.detectionSignal)}</p>` : '',
    mit,
    m.rollbackMs !== null ? `<p><b>Rollback</b> ${esc(fmtMs(m.rollbackMs))} after fault start.</p>` : '',
    m.driftDetectionMs !== null
      ? `<p><b>Drift detected</b> ${esc(fmtMs(m.driftDetectionMs))} after drift start.</p>`
      : '',
  ].join('');
  return `<div class="happened">
<h3>What happened (measured)</h3>
${extra}
${items.length ? `<ol class="events">${items.join('\n')}</ol>` : '<p class="muted">No events recorded.</p>'}
</div>`;
}

function scenarioSection(s: ScenarioReport, i: number): string {
  return `<section class="scenario" id="${slug(s.name)}" data-scenario="${esc(s.name)}" data-index="${i}" data-verdict="${s.verdict}">
<div class="scenario-head"><h2>${esc(s.name)}</h2>${status(s.verdict)}<span class="file">${esc(s.file)}</span></div>
${s.description ? `<p class="muted">${esc(s.description)}</p>` : ''}
<p class="plain ${s.verdict}">${esc(plainSentence(s))}</p>
${isBroken(s.verdict) && s.reason ? `<div class="reason"><b>${s.verdict === 'aborted' ? 'Aborted' : 'Error'}:</b> ${esc(s.reason)}</div>` : ''}
${kpis(s)}
${charts(s)}
<h3>Checks</h3>
${checksTable(s)}
${phaseTable(s)}
${faultsTable(s)}
<div class="two-col">
${runbookColumn(s)}
${eventsColumn(s)}
</div>
<p class="muted">Load: ${esc(s.load.driver)} at ${s.load.rate}/s for ${esc(fmtMs(s.load.durationMs))}, seed ${s.load.seed} · journal: <span class="mono">${esc(s.journal)}</span></p>
</section>`;
}

function overview(r: RunReport): string {
  if (!r.scenarios.length) return '';
  return `<div class="card">
<h2 style="margin-bottom:10px">Scenarios</h2>
<table class="overview">
<thead><tr><th>Scenario</th><th>Result</th><th class="num">Checks met</th><th class="num">Time to detect</th><th class="num">Time to recover</th><th class="num">Error budget used</th></tr></thead>
<tbody>
${r.scenarios
  .map((s) => {
    const rows = allChecks(s);
    const met = rows.filter((x) => x.result.passed).length;
    const vs = (v: number | null, t: number | undefined, miss: string) =>
      `${esc(v === null ? miss : fmtMs(v))}${t === undefined ? '' : ` <span class="muted">/ ${esc(fmtMs(t))}</span>`}`;
    return `<tr data-scenario="${esc(s.name)}"${s.verdict === 'passed' ? '' : ' class="row-failed"'}><td><a href="#${slug(s.name)}">${esc(s.name)}</a></td><td>${status(s.verdict)}</td><td class="num">${met} / ${rows.length}</td><td class="num">${vs(
      s.measurements.mttdMs,
      s.runbook?.detection.withinMs,
      'not detected',
    )}</td><td class="num">${
      noSloBreach(s.measurements)
        ? 'no SLO breach'
        : vs(s.measurements.mttrMs, s.runbook?.mttrTargetMs, 'not recovered')
    }</td><td class="num">${s.errorBudget ? fmtPct(s.errorBudget.consumed, 1) : 'n/a'}</td></tr>`;
  })
  .join('\n')}
</tbody></table>
<p class="muted" style="margin-top:8px">Times are measured from the moment the fault took effect; targets come from each scenario's runbook.</p>
</div>`;
}

function definitions(r: RunReport): string {
  const entries = Object.entries(r.definitions);
  if (!entries.length) return '';
  return `<div class="card definitions-card">
<h2 style="margin-bottom:10px">How the numbers are measured</h2>
<dl class="definitions">${entries.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('\n')}</dl>
</div>`;
}

export function renderHtml(report: RunReport): string {
  const r = report.run;
  const dur = Date.parse(r.endedAt) - Date.parse(r.startedAt);
  const body = `<main>
<header class="banner ${r.verdict}" data-verdict="${r.verdict}">
<div class="word">${VERDICT_WORD[r.verdict]}</div>
<div><h1>Resilience report: ${esc(r.name)}</h1><p>${esc(runSentence(report))}</p></div>
</header>
<div class="meta">
<span>Run <b class="mono">${esc(r.id)}</b></span>
<span>Started <b>${esc(utc(r.startedAt))}</b></span>
<span>Duration <b>${esc(fmtMs(Number.isFinite(dur) ? dur : null))}</b></span>
<span>Platform <b>${esc(r.platform)}</b></span>
<span>Seed <b>${r.seed}</b></span>
<span>Exit code <b>${r.exitCode}</b></span>
<span>Host <b>${esc(r.host)}</b></span>
<span>faultline <b>${esc(r.faultlineVersion)}</b></span>
</div>
${r.disabled.length ? `<div class="reason"><b>Resilience switched off for this run:</b> ${esc(r.disabled.join(', '))}. Failures are expected where those mechanisms matter.</div>` : ''}
${overview(report)}
${report.scenarios.map(scenarioSection).join('\n')}
${definitions(report)}
<footer>Generated by faultline ${esc(r.faultlineVersion)} from report.json · command: <span class="mono">${esc(r.command)}</span> · regenerate with <span class="mono">faultline report &lt;run-dir&gt;</span></footer>
</main>`;
  return htmlPage({
    title: `${VERDICT_WORD[r.verdict]} — ${r.name} — Faultline report`,
    body,
    data: { kind: 'run', scenarios: report.scenarios.map(chartData) },
    script: 'charts.js',
  });
}
