// The trend page (`faultline report trend`): from the run history, MTTD/MTTR per scenario across runs
// against the runbook targets, and the pass rate per scenario per period — the quarter-over-quarter view
// a game-day review asks for. Same self-contained page shell and chart library as index.html.
import { fmtMs, VERDICT_WORD } from './format.ts';
import type { HistoryRow } from './history.ts';
import { escapeHtml as esc } from './markdown.ts';
import { htmlPage } from './page.ts';

export type Granularity = 'quarter' | 'month' | 'day';

export interface PeriodBucket {
  key: string;
  start: number;
}

export function periodOf(t: number, g: Granularity): PeriodBucket {
  const d = new Date(t);
  const y = d.getUTCFullYear();
  if (g === 'quarter') {
    const q = Math.floor(d.getUTCMonth() / 3);
    return { key: `${y}-Q${q + 1}`, start: Date.UTC(y, q * 3, 1) };
  }
  if (g === 'month')
    return {
      key: `${y}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`,
      start: Date.UTC(y, d.getUTCMonth(), 1),
    };
  return { key: d.toISOString().slice(0, 10), start: Date.UTC(y, d.getUTCMonth(), d.getUTCDate()) };
}

/** Quarters when the history spans at least two, else months, else days: always something to compare. */
export function chooseGranularity(rows: HistoryRow[]): Granularity {
  for (const g of ['quarter', 'month'] as const) {
    if (new Set(rows.map((r) => periodOf(r.t, g).key)).size >= 2) return g;
  }
  return 'day';
}

export interface TrendSummary {
  granularity: Granularity;
  periods: PeriodBucket[];
  scenarios: {
    name: string;
    runs: HistoryRow[];
    /** Per period (same order as `periods`): pass rate 0..1, or null when the scenario did not run. */
    passRate: (number | null)[];
    counts: number[];
  }[];
}

export function summarizeTrend(rows: HistoryRow[]): TrendSummary {
  const granularity = chooseGranularity(rows);
  const periods = [
    ...new Map(rows.map((r) => periodOf(r.t, granularity)).map((p) => [p.key, p])).values(),
  ].sort((a, b) => a.start - b.start);
  const names = [...new Set(rows.map((r) => r.scenario))].sort();
  return {
    granularity,
    periods,
    scenarios: names.map((name) => {
      const runs = rows.filter((r) => r.scenario === name).sort((a, b) => a.t - b.t);
      const inPeriod = periods.map((p) => runs.filter((r) => periodOf(r.t, granularity).key === p.key));
      return {
        name,
        runs,
        passRate: inPeriod.map((rs) =>
          rs.length ? rs.filter((r) => r.verdict === 'passed').length / rs.length : null,
        ),
        counts: inPeriod.map((rs) => rs.length),
      };
    }),
  };
}

const median = (xs: number[]) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const pct = (f: number | null) => (f === null ? '—' : `${Math.round(f * 100)}%`);
const sec = (ms: number | null) => (ms === null ? null : +(ms / 1000).toFixed(3));
const slug = (name: string) =>
  `trend-${name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')}`;

/** A run's MTTR for medians and charts: none when it did not recover or never breached an SLO. */
const mttrOf = (r: HistoryRow): number | null => (r.mttrBreached === false ? null : r.mttrMs);

/** One line on the direction of MTTR: first period vs last period median. */
function direction(runs: HistoryRow[], g: Granularity): string {
  const byPeriod = new Map<string, number[]>();
  for (const r of runs)
    if (mttrOf(r) !== null)
      byPeriod.set(periodOf(r.t, g).key, [...(byPeriod.get(periodOf(r.t, g).key) ?? []), mttrOf(r)!]);
  const keys = [...byPeriod.keys()].sort();
  if (keys.length < 2) return '';
  const a = median(byPeriod.get(keys[0])!)!;
  const b = median(byPeriod.get(keys.at(-1)!)!)!;
  const change = a ? (b - a) / a : 0;
  const word = Math.abs(change) < 0.05 ? 'unchanged' : change < 0 ? 'improved' : 'worsened';
  return `Median MTTR ${word}: ${fmtMs(a)} in ${keys[0]} → ${fmtMs(b)} in ${keys.at(-1)}.`;
}

export interface TrendOptions {
  since?: string;
  historyFile?: string;
  now?: number;
}

export function renderTrend(rows: HistoryRow[], opts: TrendOptions = {}): string {
  const t = summarizeTrend(rows);
  const runIds = new Set(rows.map((r) => r.runId));
  const periodWord = t.granularity;
  const head = `<header class="banner trend">
<div class="word">TREND</div>
<div><h1>Resilience trend${opts.since ? ` — last ${esc(opts.since)}` : ''}</h1><p>${runIds.size} run${runIds.size === 1 ? '' : 's'}, ${t.scenarios.length} scenario${
    t.scenarios.length === 1 ? '' : 's'
  }, ${t.periods.length} ${periodWord}${t.periods.length === 1 ? '' : 's'}${
    rows.length
      ? ` (${esc(new Date(rows[0].t).toISOString().slice(0, 10))} to ${esc(new Date(rows.at(-1)!.t).toISOString().slice(0, 10))})`
      : ''
  }.</p></div>
</header>
<div class="meta"><span>History <b class="mono">${esc(opts.historyFile ?? '')}</b></span><span>Generated <b>${esc(
    new Date(opts.now ?? Date.now()).toISOString().slice(0, 19).replace('T', ' '),
  )} UTC</b></span></div>`;
  if (!rows.length) {
    return htmlPage({
      title: 'Faultline resilience trend',
      body: `<main>${head}<div class="card"><p class="no-data">No runs recorded in this period.</p></div></main>`,
      data: { kind: 'trend', periods: [], passRate: [], scenarios: [] },
      script: 'trend.js',
    });
  }
  const passTable = `<div class="card">
<h2 style="margin-bottom:10px">Pass rate per scenario and ${periodWord}</h2>
<div class="chart" data-chart="pass-rate"><h3>Pass rate (% of runs that met every check)</h3><div class="plot"></div></div>
<table class="pass-rate">
<thead><tr><th>Scenario</th>${t.periods.map((p) => `<th class="num">${esc(p.key)}</th>`).join('')}</tr></thead>
<tbody>
${t.scenarios
  .map(
    (s) =>
      `<tr data-scenario="${esc(s.name)}"><td><a href="#${slug(s.name)}">${esc(s.name)}</a></td>${s.passRate
        .map(
          (p, i) =>
            `<td class="num">${pct(p)}${s.counts[i] ? ` <span class="muted">(${s.counts[i]})</span>` : ''}</td>`,
        )
        .join('')}</tr>`,
  )
  .join('\n')}
</tbody></table>
<p class="muted" style="margin-top:8px">In brackets: number of runs in the ${periodWord}.</p>
</div>`;
  const sections = t.scenarios
    .map((s) => {
      const last = s.runs.at(-1)!;
      const mttrs = s.runs.map(mttrOf).filter((x): x is number => x !== null);
      const noBreach = s.runs.filter((r) => r.mttrBreached === false).length;
      const mttds = s.runs.map((r) => r.mttdMs).filter((x): x is number => x !== null);
      return `<section class="scenario trend-scenario" id="${slug(s.name)}" data-scenario="${esc(s.name)}">
<div class="scenario-head"><h2>${esc(s.name)}</h2><span class="status ${last.verdict}">last: ${VERDICT_WORD[last.verdict]}</span>${
        last.runbook ? `<span class="file">runbook ${esc(last.runbook)}</span>` : ''
      }</div>
<p class="plain">${esc(direction(s.runs, t.granularity) || `${s.runs.length} run${s.runs.length === 1 ? '' : 's'} recorded.`)} Median MTTD ${esc(fmtMs(median(mttds)))}, median MTTR ${esc(
        fmtMs(median(mttrs)),
      )}${last.mttrTargetMs !== null ? ` (target ${esc(fmtMs(last.mttrTargetMs))})` : ''}${
        noBreach
          ? `; ${noBreach} run${noBreach === 1 ? '' : 's'} with no SLO breach, not counted in the MTTR median`
          : ''
      }.</p>
<div class="chart" data-chart="mttr"><h3>MTTD and MTTR per run (seconds; dashed: runbook targets)</h3><div class="plot"></div></div>
<table class="runs">
<thead><tr><th>Run</th><th>Date (UTC)</th><th>Result</th><th class="num">MTTD</th><th class="num">MTTR</th><th class="num">Checks failed</th><th>Failed checks</th></tr></thead>
<tbody>
${[...s.runs]
  .reverse()
  .map(
    (r) =>
      `<tr class="${r.verdict === 'passed' ? '' : 'check-failed'}"><td class="mono">${esc(r.runId)}</td><td>${esc(new Date(r.t).toISOString().slice(0, 16).replace('T', ' '))}</td><td><span class="status ${
        r.verdict
      }">${VERDICT_WORD[r.verdict]}</span></td><td class="num">${esc(fmtMs(r.mttdMs))}</td><td class="num">${esc(r.mttrBreached === false ? 'no SLO breach' : fmtMs(r.mttrMs))}</td><td class="num">${r.checksFailed} / ${
        r.checksTotal
      }</td><td class="why">${esc(
        r.checks
          .filter((c) => !c.passed)
          .map((c) => c.check)
          .join('; '),
      )}</td></tr>`,
  )
  .join('\n')}
</tbody></table>
</section>`;
    })
    .join('\n');
  const data = {
    kind: 'trend',
    periods: t.periods.map((p) => ({ key: p.key, start: p.start / 1000 })),
    passRate: t.scenarios.map((s) => ({
      name: s.name,
      values: s.passRate.map((p) => (p === null ? null : Math.round(p * 1000) / 10)),
    })),
    scenarios: t.scenarios.map((s) => ({
      name: s.name,
      x: s.runs.map((r) => r.t / 1000),
      mttd: s.runs.map((r) => sec(r.mttdMs)),
      mttr: s.runs.map((r) => sec(mttrOf(r))),
      mttdTarget: s.runs.map((r) => sec(r.mttdTargetMs)),
      mttrTarget: s.runs.map((r) => sec(r.mttrTargetMs)),
    })),
  };
  return htmlPage({
    title: 'Faultline resilience trend',
    body: `<main>${head}${passTable}${sections}<footer>Generated by faultline from the run history. MTTD and MTTR follow the measurement definitions printed in each run's report.</footer></main>`,
    data,
    script: 'trend.js',
  });
}
