import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../src/report/html.ts';
import { renderJunit } from '../src/report/junit.ts';
import type { RunReport } from '../src/report/model.ts';
import { renderSummary } from '../src/report/summary.ts';
import { sampleReport } from './helpers/sample-report.ts';

const XSD = new URL('./fixtures/junit.xsd', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'faultline-junit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// xmllint is required (CI installs libxml2-utils): a missing binary fails these tests, it never skips them.
function xmllint(args: string[]): { status: number; out: string } {
  const r = spawnSync('xmllint', args, { encoding: 'utf8' });
  if (r.error)
    throw new Error(
      `xmllint is required for the JUnit tests (apt-get install -y libxml2-utils): ${r.error.message}`,
    );
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function validateXml(xml: string, name: string): { status: number; out: string } {
  const file = join(dir, name);
  writeFileSync(file, xml);
  return xmllint(['--noout', '--schema', XSD, file]);
}

function xpath(xml: string, expr: string): string {
  const file = join(dir, `xpath-${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(file, xml);
  // xmllint ends string results with a newline of its own.
  return execFileSync('xmllint', ['--xpath', expr, file], { encoding: 'utf8' }).replace(/\n$/, '');
}

describe('junit.xml', () => {
  const report = sampleReport({ scenarios: 4, errored: true });
  const xml = renderJunit(report);

  it('validates against the JUnit XSD with xmllint', () => {
    const r = validateXml(xml, 'junit.xml');
    expect(r.out).toContain('validates');
    expect(r.status).toBe(0);
  });

  it('the XSD check can fail: a malformed count or a missing name is rejected', () => {
    expect(validateXml(xml.replace(/tests="\d+"/, 'tests="many"'), 'bad-count.xml').status).not.toBe(0);
    expect(validateXml(xml.replace(/<testcase name="[^"]*"/, '<testcase'), 'no-name.xml').status).not.toBe(0);
  });

  it('has one testsuite per scenario and one testcase per check, steady-state checks included', () => {
    expect(xpath(xml, 'count(/testsuites/testsuite)')).toBe(String(report.scenarios.length));
    for (const s of report.scenarios) {
      const suite = `/testsuites/testsuite[@name="${s.name}"]`;
      const broken = s.verdict === 'error' || s.verdict === 'aborted' ? 1 : 0;
      expect(xpath(xml, `count(${suite}/testcase)`)).toBe(
        String(s.steadyState.length + s.checks.length + broken),
      );
      expect(xpath(xml, `string(${suite}/@tests)`)).toBe(
        String(s.steadyState.length + s.checks.length + broken),
      );
      expect(xpath(xml, `count(${suite}/testcase[@classname="faultline.${s.name}"])`)).toBe(
        String(s.steadyState.length + s.checks.length + broken),
      );
      expect(xpath(xml, `count(${suite}/testcase[starts-with(@name, "steady-state: ")])`)).toBe(
        String(s.steadyState.length),
      );
      const failed = [...s.steadyState, ...s.checks].filter((c) => !c.passed).length;
      expect(xpath(xml, `string(${suite}/@failures)`)).toBe(String(failed));
      expect(xpath(xml, `count(${suite}/testcase/failure)`)).toBe(String(failed));
      expect(xpath(xml, `string(${suite}/@errors)`)).toBe(String(broken));
      expect(xpath(xml, `string(${suite}/@timestamp)`)).toBe(
        new Date(s.startedAt).toISOString().slice(0, 19),
      );
    }
    const total = report.scenarios.reduce((a, s) => a + s.steadyState.length + s.checks.length, 0) + 1;
    expect(xpath(xml, 'string(/testsuites/@tests)')).toBe(String(total));
  });

  it('a failure states measured vs target and the phase; the body explains', () => {
    const s = report.scenarios.find((x) => x.name === 'bad-model-rollout')!;
    const c = s.checks.find((x) => x.check === 'availability >= 99.5% during fault')!;
    expect(c.passed).toBe(false);
    const q = `/testsuites/testsuite[@name="bad-model-rollout"]/testcase[@name="availability >= 99.5% during fault"]/failure`;
    expect(xpath(xml, `string(${q}/@message)`)).toBe(
      `measured ${c.measuredText} (fault phase), target >= 99.5%`,
    );
    expect(xpath(xml, `string(${q})`)).toContain(c.explanation);
    const mttr = `/testsuites/testsuite[@name="bad-model-rollout"]/testcase[@name="mttr <= runbook"]/failure/@message`;
    expect(xpath(xml, `string(${mttr})`)).toBe(
      'measured 33s (from fault start), target <= 30s (runbook bad-model-rollout)',
    );
  });

  it('an errored scenario becomes an <error> carrying the reason', () => {
    const s = report.scenarios.at(-1)!;
    expect(s.verdict).toBe('error');
    const msg = xpath(
      xml,
      `string(/testsuites/testsuite[@name="${s.name}"]/testcase[@name="scenario run"]/error/@message)`,
    );
    expect(msg).toBe(`scenario errored: ${s.reason}`);
  });

  it('escapes <, &, quotes, newlines and control characters so names round-trip exactly', () => {
    const r: RunReport = structuredClone(sampleReport({ scenarios: 2 }));
    const nasty = `latency.p99 < 200ms & "p50" <= 'x' ]]> <!-- \u0007`;
    r.scenarios[0].name = 'a&b <scenario> "quoted"';
    r.scenarios[0].checks[0] = {
      ...r.scenarios[0].checks[0],
      check: nasty,
      passed: false,
      explanation: 'line 1\nline 2 </failure> & more',
      measuredText: '<1%',
    };
    const out = renderJunit(r);
    const v = validateXml(out, 'escaped.xml');
    expect(v.status, v.out).toBe(0);
    expect(xpath(out, 'string(/testsuites/testsuite[1]/@name)')).toBe('a&b <scenario> "quoted"');
    expect(xpath(out, 'string(/testsuites/testsuite[1]/testcase[3]/@name)')).toBe(
      nasty.replace('\u0007', ''),
    );
    expect(xpath(out, 'string(/testsuites/testsuite[1]/testcase[3]/failure/@message)')).toContain(
      'measured <1% (fault phase)',
    );
    expect(xpath(out, 'string(/testsuites/testsuite[1]/testcase[3]/failure)')).toContain(
      'line 1\nline 2 </failure> & more',
    );
  });
});

describe('summary.md', () => {
  it('leads with the verdict, tables every check and links the other artifacts relatively', () => {
    const report = sampleReport({ scenarios: 3 });
    const md = renderSummary(report, { html: 'index.html', pdf: 'report.pdf', junit: 'junit.xml' });
    const lines = md.split('\n');
    expect(lines[0]).toBe('## Faultline: Q1 game day (synthetic sample) — FAILED');
    expect(md).toContain('**FAILED** — 2 of 3 scenarios passed');
    expect(md).toContain('Reports: [HTML report](index.html) · [PDF](report.pdf) · [JUnit XML](junit.xml)');
    expect(md).toContain('| Check | Phase | Measured | Target | Result |');
    // Markdown-significant characters are escaped, failures are marked in words.
    expect(md).toContain(
      '| availability &gt;= 99.5% during fault | fault phase | 94.2131% | &gt;= 99.5% | **FAIL** |',
    );
    expect(md).toContain('| steady-state: latency.p99 &lt;= 200ms | steady phase |');
    expect(md).toMatch(/- \*\*MTTR:\*\* 33\.0 s \(target 30\.0 s, missed\)/);
    expect(md).toMatch(/- \*\*MTTD:\*\* 8\.0 s \(target 10\.0 s, met\)/);
    for (const s of report.scenarios)
      expect(md).toContain(`### ${s.name.replace(/-/g, '-')} — ${s.verdict.toUpperCase()}`);
    // No emoji: plain status words only.
    expect(md).not.toMatch(/\p{Extended_Pictographic}/u);
    const rows = md
      .split('\n')
      .filter(
        (l) =>
          l.startsWith('| ') &&
          !l.startsWith('| Check') &&
          !l.startsWith('| Scenario') &&
          !l.startsWith('| ---'),
      );
    const checkCount = report.scenarios.reduce((a, s) => a + s.steadyState.length + s.checks.length, 0);
    expect(rows).toHaveLength(checkCount + report.scenarios.length);
  });

  it('a passing run says PASSED and omits the PDF link when no PDF was made', () => {
    const md = renderSummary(sampleReport({ scenarios: 2, allPass: true }), {
      html: 'index.html',
      junit: 'junit.xml',
    });
    expect(md.split('\n')[0]).toMatch(/— PASSED$/);
    expect(md).not.toContain('report.pdf');
    expect(md).not.toContain('**FAIL**');
  });

  it('escapes a pipe or an HTML tag in a reason so the table and page stay intact', () => {
    const r = sampleReport({ scenarios: 2, errored: true });
    r.scenarios[1].reason = 'exit | <OOMKilled> *boom*';
    const md = renderSummary(r);
    expect(md).toContain('exit \\| &lt;OOMKilled&gt; \\*boom\\*');
  });
});

describe('an inconclusive check (missing evidence) in every artifact', () => {
  // One check of a passing scenario lost its evidence: the gate must fail and every artifact say why.
  const inconclusiveReport = () => {
    const r = sampleReport({ scenarios: 2, allPass: true });
    const s = r.scenarios[0];
    s.checks.push({
      check: 'retries.total > 0 during fault',
      metric: 'retries.total',
      phase: 'fault',
      op: '>',
      target: 0,
      targetText: '0',
      measured: null,
      measuredText: 'n/a',
      status: 'inconclusive',
      passed: false,
      explanation:
        'inconclusive: no scrape of gateway_retries_total spans the fault phase (one at or before its start and one at or after its end), so the increase is unknown',
    });
    return { r, s };
  };

  it('junit.xml: a failure of type CheckInconclusive whose message says inconclusive and what was missing', () => {
    const { r, s } = inconclusiveReport();
    const out = renderJunit(r);
    expect(validateXml(out, 'inconclusive.xml').status).toBe(0);
    const q = `/testsuites/testsuite[@name="${s.name}"]/testcase[@name="retries.total > 0 during fault"]/failure`;
    expect(xpath(out, `string(${q}/@type)`)).toBe('CheckInconclusive');
    expect(xpath(out, `string(${q}/@message)`)).toBe(
      'inconclusive: no scrape of gateway_retries_total spans the fault phase (one at or before its start and one at or after its end), so the increase is unknown (fault phase), target > 0',
    );
    expect(xpath(out, `string(/testsuites/testsuite[@name="${s.name}"]/@failures)`)).toBe('1');
  });

  it('summary.md and index.html mark it INCONCLUSIVE (not pass), and count it', () => {
    const { r } = inconclusiveReport();
    const md = renderSummary(r);
    expect(md).toContain(
      '| retries.total &gt; 0 during fault | fault phase | n/a | &gt; 0 | **INCONCLUSIVE** |',
    );
    expect(md).toContain('1 inconclusive for missing evidence');
    expect(md).toMatch(
      /- retries\.total &gt; 0 during fault: inconclusive: no scrape of gateway\\_retries\\_total/,
    );
    const html = renderHtml(r);
    const row =
      /<tr class="check-failed" data-check="retries.total &gt; 0 during fault" data-status="inconclusive">[\s\S]*?<\/tr>/.exec(
        html,
      );
    expect(row?.[0]).toContain('<span class="status inconclusive">INCONCLUSIVE</span>');
    expect(row?.[0]).toContain('inconclusive: no scrape of gateway_retries_total');
  });
});
