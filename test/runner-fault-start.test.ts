import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type JournalEntry, readJournal } from '../src/journal/journal.ts';
import type { RequestRecord } from '../src/load/driver.ts';
import type { ScenarioReport } from '../src/report/model.ts';
import { ROOT, readReport, runCli, tempHome } from './helpers/cli.ts';

// Fault start (t0) per kind, on the real local pipeline: whatever the fault broke, slowed or changed
// must not precede the t0 the runner stamped (docs/measurements.md, "Fault start"), and what it
// caused lands in the fault phase, not in steady state.

const home = tempHome();
afterAll(async () => {
  await runCli(['cleanup', '--all'], { home });
});

const scenario = (name: string, fault: string, extra = '') => `apiVersion: faultline/v1
kind: Scenario
metadata:
  name: ${name}
  description: fault start of ${name}
${extra}spec:
  target: reference
  load: { driver: builtin, rate: 100/s, duration: 14s, seed: 5 }
  warmup: 2s
  steadyState:
    window: 3s
    checks:
      - availability >= 99%
  faults:
    - at: 6s
      duration: 5s
${fault}
  checks:
    - throughput > 0 during steady
`;

const SCENARIOS: Record<string, string> = {
  outage: scenario('outage', '      type: dependency-outage\n      service: feature-server'),
  kill: scenario(
    'kill',
    '      type: pod-kill\n      target: { service: model-server, count: 1 }\n      signal: SIGKILL',
    '  runbook: model-server-crash\n',
  ),
  latency: scenario(
    'latency',
    '      type: latency\n      link: gateway->model-server\n      toxic: latency\n      latency: 400ms',
  ),
  corruption: scenario(
    'corruption',
    '      type: feature-corruption\n      mode: nan\n      fraction: 0.5\n      features: [avg_amount_30d]',
  ),
  drift: scenario(
    'drift',
    '      type: drift\n      feature: merchant_risk\n      kind: shift\n      amount: 0.3\n      profile: ramp\n      rampDuration: 3s',
  ),
  rollout: scenario('rollout', '      type: bad-model-rollout\n      degradation: skewed'),
};

interface Run {
  s: ScenarioReport;
  t0: number;
  records: RequestRecord[];
  journal: JournalEntry[];
}

let runs: Record<string, Run> | undefined;
async function all(): Promise<Record<string, Run>> {
  if (runs) return runs;
  const dir = fs.mkdtempSync(path.join(home, 'scenarios-'));
  // The shipped runbooks, found beside the scenarios.
  fs.symlinkSync(path.join(ROOT, 'runbooks'), path.join(dir, 'runbooks'));
  for (const [k, text] of Object.entries(SCENARIOS)) fs.writeFileSync(path.join(dir, `${k}.yaml`), text);
  fs.writeFileSync(
    path.join(dir, 'suite.yaml'),
    `apiVersion: faultline/v1
kind: Suite
metadata: { name: fault-start, description: t0 per fault kind }
spec:
  scenarios: [${Object.keys(SCENARIOS)
    .map((k) => `${k}.yaml`)
    .join(', ')}]
  continueOnFailure: true
  cooldown: 1s
`,
  );
  const reportDir = path.join(home, 'report');
  const r = await runCli(['gameday', path.join(dir, 'suite.yaml'), '--report-dir', reportDir, '--quiet'], {
    home,
  });
  if (!fs.existsSync(path.join(reportDir, 'report.json')))
    throw new Error(`gameday exited ${r.code}: ${r.stderr.slice(-2000)}${r.stdout.slice(-2000)}`);
  const report = readReport(reportDir);
  runs = {};
  for (const s of report.scenarios) {
    expect(s.verdict, `${s.name}: ${s.reason ?? ''} ${r.stderr.slice(-500)}`).toBe('passed');
    const journal = readJournal(path.join(reportDir, s.journal));
    runs[s.name] = {
      s,
      t0: s.faults[0].injectedAt!,
      journal,
      records: journal.filter((e) => e.type === 'request').map((e) => e.r as RequestRecord),
    };
  }
  return runs;
}

const affected = (recs: RequestRecord[], pred: (r: RequestRecord) => boolean) =>
  recs.filter(pred).sort((a, b) => a.tDone - b.tDone);

describe('fault start (t0) per fault kind', () => {
  it('dependency-outage: t0 is when the stop was initiated; the failures land in the fault phase', async () => {
    const { s, t0, records, journal } = (await all()).outage;
    const hit = affected(records, (r) => r.outcome !== 'ok' || !!r.fallback);
    expect(hit.length).toBeGreaterThan(100);
    // The first request the outage broke finished after t0 — not during the 3 s graceful stop before it.
    expect(hit[0].tDone).toBeGreaterThanOrEqual(t0);
    const m = s.measurements.phases;
    expect(m.steady.availability).toBe(1);
    expect(m.steady.fallbackShare ?? 0).toBe(0);
    expect(m.fault.fallbackShare).toBeGreaterThan(0.5);
    // The platform's own record of the stop comes after t0, and the injection returned after it.
    const stopped = journal.find((e) => e.type === 'platform.event' && e.kind === 'service-stopped');
    expect(stopped!.ts_ms).toBeGreaterThanOrEqual(t0);
    const injected = journal.find((e) => e.type === 'fault.injected');
    expect(injected!.returned_at as number).toBeGreaterThan(t0);
  }, 600_000);

  it('pod-kill: t0 is when the signal was sent; the exit and the detection come after it', async () => {
    const { s, t0, records, journal } = (await all()).kill;
    const exited = journal.find((e) => e.type === 'platform.event' && e.kind === 'replica-gone');
    expect(exited!.ts_ms).toBeGreaterThanOrEqual(t0);
    for (const r of affected(records, (x) => x.outcome !== 'ok')) expect(r.tDone).toBeGreaterThanOrEqual(t0);
    // Detected by the gateway (a pipeline signal), not by the supervisor noticing its own kill.
    expect(s.measurements.detectionSignal).toMatch(/^gateway-ejection \(gateway metrics: /);
    expect(s.measurements.mttdMs).toBeGreaterThanOrEqual(0);
  }, 600_000);

  it('latency: t0 is when the toxic was added; a request slowed by 400 ms finished 400 ms after it', async () => {
    const { t0, records } = (await all()).latency;
    const slow = affected(records, (r) => (r.latencyMs ?? 0) >= 400 && r.tDone >= t0 - 5000);
    expect(slow.length).toBeGreaterThan(100);
    expect(slow[0].tDone).toBeGreaterThanOrEqual(t0 + 400);
  }, 600_000);

  it('feature-corruption: t0 is when rows were written; invalid-feature fallbacks only after it', async () => {
    const { t0, records } = (await all()).corruption;
    const hit = affected(records, (r) => r.fallback === 'features_invalid');
    expect(hit.length).toBeGreaterThan(10);
    expect(hit[0].tDone).toBeGreaterThanOrEqual(t0);
  }, 600_000);

  it('drift: t0 is the intended time of the first drifted payload', async () => {
    const { t0, records, journal } = (await all()).drift;
    const intent = journal.find((e) => e.type === 'fault.inject.intent')!;
    expect(t0).toBeGreaterThanOrEqual(intent.ts_ms);
    // A request was scheduled at exactly t0 (the one whose payload the transform changed first).
    expect(records.some((r) => r.tIntended === t0)).toBe(true);
    const injected = journal.find((e) => e.type === 'fault.injected')!;
    const [before, after] = (injected.details as { first_drifted: { merchant_risk: number[] } }).first_drifted
      .merchant_risk;
    expect(after).not.toBe(before);
  }, 600_000);

  it('bad-model-rollout: t0 is when the alias moved; the bad version answers only after it', async () => {
    const { s, t0, records } = (await all()).rollout;
    const bad = String(s.faults[0].plan?.to_version);
    const served = affected(records, (r) => r.modelVersion === bad);
    expect(served.length).toBeGreaterThan(10);
    expect(served[0].tDone).toBeGreaterThanOrEqual(t0);
  }, 600_000);
});
