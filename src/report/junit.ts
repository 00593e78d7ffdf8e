// junit.xml for CI: one <testsuite> per scenario, one <testcase> per check (steady-state hypotheses
// included), a failure states measured vs target and the phase. Follows the Jenkins junit-10 schema
// (test/fixtures/junit.xsd) and keeps the element order the stricter Ant-style schemas require:
// properties, testcases, system-out, system-err.
import { allChecks, failureMessage, fmtMs, isBroken, mttrValue, VERDICT_WORD } from './format.ts';
import type { RunReport, ScenarioReport } from './model.ts';

/** XML 1.0 forbids most C0 controls (even as character references), U+FFFE/U+FFFF and lone surrogates. */
function stripInvalidXml(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (
      (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) ||
      c === 0xfffe ||
      c === 0xffff ||
      (c >= 0xd800 && c <= 0xdfff)
    )
      continue;
    out += ch;
  }
  return out;
}

export function xmlText(s: string): string {
  return stripInvalidXml(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function xmlAttr(s: string): string {
  return xmlText(s)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

const attrs = (a: Record<string, string | number>) =>
  Object.entries(a)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join('');

const secs = (ms: number) => (Math.max(0, ms) / 1000).toFixed(3);

/** ISO 8601 without zone or fraction (UTC), the form the strict JUnit schemas accept. */
function timestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

function suite(
  s: ScenarioReport,
  index: number,
  report: RunReport,
): { xml: string; tests: number; failures: number; errors: number } {
  const classname = `faultline.${s.name}`;
  const cases: string[] = [];
  let failures = 0;
  let errors = 0;
  for (const { label, result } of allChecks(s)) {
    const head = `    <testcase${attrs({ name: label, classname, time: '0' })}`;
    if (result.passed) {
      cases.push(`${head}/>`);
      continue;
    }
    failures++;
    const body = `${result.explanation}\nmetric: ${result.metric}\nphase: ${result.phase}`;
    const type = result.status === 'inconclusive' ? 'CheckInconclusive' : 'CheckFailed';
    cases.push(
      `${head}>\n      <failure${attrs({ type, message: failureMessage(result) })}>${xmlText(body)}</failure>\n    </testcase>`,
    );
  }
  if (isBroken(s.verdict)) {
    errors++;
    const message = `scenario ${s.verdict === 'aborted' ? 'aborted' : 'errored'}: ${s.reason ?? 'no reason recorded'}`;
    cases.push(
      `    <testcase${attrs({ name: 'scenario run', classname, time: secs(s.endedAt - s.startedAt) })}>\n      <error${attrs(
        {
          type: s.verdict === 'aborted' ? 'ScenarioAborted' : 'ScenarioError',
          message,
        },
      )}>${xmlText(`${message}\nscenario file: ${s.file}\nsee report.json and ${s.journal}`)}</error>\n    </testcase>`,
    );
  }
  const props: Record<string, string> = {
    'faultline.run': report.run.id,
    'faultline.platform': report.run.platform,
    'faultline.seed': String(report.run.seed),
    'scenario.file': s.file,
    'scenario.verdict': VERDICT_WORD[s.verdict],
    ...(s.runbook ? { runbook: s.runbook.id } : {}),
    mttd: fmtMs(s.measurements.mttdMs),
    mttr: mttrValue(s.measurements, 'n/a'),
    ...(s.measurements.mttr ? { 'mttr.breached': String(s.measurements.mttr.breached) } : {}),
    ...(s.runbook
      ? { 'mttd.target': fmtMs(s.runbook.detection.withinMs), 'mttr.target': fmtMs(s.runbook.mttrTargetMs) }
      : {}),
  };
  const out = [
    `  <testsuite${attrs({
      name: s.name,
      tests: cases.length,
      failures,
      errors,
      time: secs(s.endedAt - s.startedAt),
      timestamp: timestamp(s.startedAt),
      hostname: report.run.host || 'localhost',
      id: index,
      package: 'faultline',
      file: s.file,
    })}>`,
    '    <properties>',
    ...Object.entries(props).map(([name, value]) => `      <property${attrs({ name, value })}/>`),
    '    </properties>',
    ...cases,
    `    <system-out>${xmlText(systemOut(s))}</system-out>`,
    '    <system-err/>',
    '  </testsuite>',
  ];
  return { xml: out.join('\n'), tests: cases.length, failures, errors };
}

function systemOut(s: ScenarioReport): string {
  const lines = [`${s.name}: ${VERDICT_WORD[s.verdict]}${s.reason ? ` (${s.reason})` : ''}`];
  if (s.description) lines.push(s.description);
  for (const f of s.faults)
    lines.push(
      `fault ${f.id} ${f.type}: ${f.injectedAt ? 'injected' : 'not injected'}${f.error ? ` (${f.error})` : ''}`,
    );
  lines.push(`MTTD ${fmtMs(s.measurements.mttdMs)}, MTTR ${mttrValue(s.measurements, 'n/a')}`);
  return lines.join('\n');
}

export function renderJunit(report: RunReport): string {
  const suites = report.scenarios.map((s, i) => suite(s, i, report));
  const sum = (k: 'tests' | 'failures' | 'errors') => suites.reduce((a, x) => a + x[k], 0);
  const [tests, failures, errors] = [sum('tests'), sum('failures'), sum('errors')];
  const time = report.scenarios.reduce((a, s) => a + Math.max(0, s.endedAt - s.startedAt), 0);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: `faultline: ${report.run.name}`, tests, failures, errors, time: secs(time) })}>`,
    ...suites.map((x) => x.xml),
    '</testsuites>',
    '',
  ].join('\n');
}
