// A synthetic, clearly labelled demo RunReport: a game day of 2–6 scenarios, 60 s of 1 s buckets each,
// faults with windows, markers, runbooks and a failing scenario. Deterministic. Used by the report tests
// (via test/helpers/sample-report.ts), the report benchmark and the README screenshot — never by a run.
import { seededRandom } from '../load/random.ts';
import type { TimeSeriesPoint } from '../slo/timeseries.ts';
import type {
  CheckResult,
  FaultRecord,
  Marker,
  RunbookSummary,
  RunReport,
  ScenarioReport,
  Verdict,
} from './model.ts';

export interface SampleOptions {
  /** 2–6 scenarios (default 4). */
  scenarios?: number;
  /** Make the last scenario an errored one (infrastructure failure, no checks evaluated). */
  errored?: boolean;
  /** Start of the run (epoch ms). */
  start?: number;
  /** Run id. */
  id?: string;
  /** Shifts the measured MTTR/MTTD of every scenario by this factor (for trend tests). */
  mttrFactor?: number;
  /** Make every check pass. */
  allPass?: boolean;
  /** Run name. */
  name?: string;
}

const SECTIONS = (id: string, action: string): Record<string, string> => ({
  Detection: `Page fires on **${id}**. Confirm in Grafana:\n\n- error rate panel above 1%\n- \`model_server_up\` < replicas\n\nIf only one replica is affected, continue below.`,
  'Immediate mitigation': `1. Verify the automated ${action} happened (controller events).\n2. If not, run \`kubectl rollout restart deploy/model-server\`.\n3. Announce in #inc-fraud: "mitigation in progress" & keep the channel updated.\n\n<script>alert("not executed")</script>`,
  'Root-cause analysis':
    '- Collect the journal and `report.json`\n- Compare p99 latency before/after the fault\n- Check the feature-store freshness (`OUTSIDE_MAX_AGE` counts)',
  'Post-mortem template':
    '## Summary\nWhat happened, impact in requests & minutes.\n\n## Timeline\n\n## Action items\n- [ ] owner, due date',
});

function runbook(id: string, title: string, signal: string, action: string, mttrS: number): RunbookSummary {
  return {
    id,
    title,
    severity: 'SEV2',
    file: `runbooks/${id}.md`,
    detection: { signal, withinMs: 10_000 },
    mitigation: { automated: action, withinMs: 30_000 },
    mttrTargetMs: mttrS * 1000,
    slos: ['availability >= 99%', 'latency.p99 <= 250ms'],
    sections: SECTIONS(id, action),
  };
}

interface Def {
  name: string;
  description: string;
  rb: RunbookSummary;
  /** [fault type, inject s, revert s][] */
  faults: [string, number, number][];
  /** Error share at the worst of the fault, and recovery seconds after revert. */
  errPeak: number;
  fallbackPeak: number;
  latencyPeak: number;
  detectS: number;
  recoverS: number;
  rollbackS?: number;
  badVersion?: string;
}

const DEFS: Def[] = [
  {
    name: 'model-server-pod-kill',
    description: 'Kill one model-server replica under 200 req/s; the supervisor must replace it.',
    rb: runbook('model-server-crash', 'Model server crash', 'replica-exit', 'restart', 30),
    // The runner gives pod-kill a 10 s fault window (the kill itself is instantaneous).
    faults: [['pod-kill', 15, 25]],
    errPeak: 0.001,
    fallbackPeak: 0,
    latencyPeak: 150,
    detectS: 0.4,
    recoverS: 3,
  },
  {
    name: 'feature-store-latency',
    description:
      'Add 300 ms ± 50 ms to the feature-store link: fallback & breaker must keep "p99" in budget.',
    rb: runbook('feature-store-slow', 'Feature store slow', 'breaker-open', 'fallback', 45),
    faults: [['latency', 15, 35]],
    errPeak: 0.002,
    fallbackPeak: 0.62,
    latencyPeak: 140,
    detectS: 2.1,
    recoverS: 3,
  },
  {
    name: 'bad-model-rollout',
    description: 'Promote a degraded model version; the controller must roll back to the last good one.',
    rb: runbook('bad-model-rollout', 'Bad model rollout', 'controller-rollback', 'rollback', 30),
    faults: [['bad-model-rollout', 15, 40]],
    errPeak: 0.06,
    fallbackPeak: 0.02,
    latencyPeak: 95,
    detectS: 8,
    recoverS: 8,
    rollbackS: 12,
    badVersion: '4',
  },
  {
    name: 'feature-corruption',
    description: 'Corrupt 20% of entities with NaN and stale values at the same time.',
    rb: runbook('feature-corruption', 'Feature corruption', 'fallback-engaged', 'fallback', 20),
    faults: [
      ['feature-corruption', 15, 30],
      ['feature-corruption', 20, 33],
    ],
    errPeak: 0.002,
    fallbackPeak: 0.21,
    latencyPeak: 60,
    detectS: 0.9,
    recoverS: 2,
  },
  {
    name: 'data-drift',
    description: 'Ramp a +3σ shift on `amount` over 20 s; the drift monitor must flag it.',
    rb: runbook('data-drift', 'Data drift', 'drift-gauge', 'none', 60),
    faults: [['drift', 12, 42]],
    errPeak: 0,
    fallbackPeak: 0,
    latencyPeak: 40,
    detectS: 9,
    recoverS: 1,
  },
  {
    name: 'dependency-outage',
    description: 'Take the registry down for 20 s; serving must continue on the loaded model.',
    rb: runbook('registry-outage', 'Registry outage', 'alert', 'none', 30),
    faults: [['dependency-outage', 18, 38]],
    errPeak: 0.001,
    fallbackPeak: 0,
    latencyPeak: 35,
    detectS: 4,
    recoverS: 1,
  },
];

const DEFINITIONS: Record<string, string> = {
  'fault start (t0)': 'The instant the fault starts acting on the system (per fault kind).',
  MTTD: 't0 → the first detection signal named by the runbook, emitted by the pipeline or its monitoring.',
  MTTR: 't0 → the start of the stable period (every SLI named by the runbook within its SLO for stableFor, default 5 s) after the last violation; never breached → "no SLO breach".',
  latency:
    'Measured from the intended send time of an open-model load (no coordinated omission); HDR percentiles.',
  availability:
    'Successful responses / requests sent; a fallback answer is a success, counted separately as fallback.share.',
};

const RATE = 200;
const SECONDS = 60;

function check(
  check: string,
  metric: string,
  phase: CheckResult['phase'],
  op: string,
  target: number,
  targetText: string,
  measured: number | null,
  measuredText: string,
  passed: boolean,
  explanation: string,
): CheckResult {
  const status = passed ? 'passed' : 'failed';
  return {
    check,
    metric,
    phase,
    op,
    target,
    targetText,
    measured,
    measuredText,
    status,
    passed,
    explanation,
  };
}

const pct = (n: number) => `${+(n * 100).toFixed(4)}%`;
const dur = (ms: number) => (ms < 1000 ? `${Math.round(ms)}ms` : `${+(ms / 1000).toFixed(3)}s`);

function scenario(def: Def, index: number, start: number, opts: SampleOptions): ScenarioReport {
  const r = seededRandom(1000 + index);
  const t0 = start;
  const factor = opts.mttrFactor ?? 1;
  const firstInject = Math.min(...def.faults.map((f) => f[1]));
  const lastRevert = Math.max(...def.faults.map((f) => f[2]));
  const recoverAt = lastRevert + def.recoverS * factor;
  const timeline: TimeSeriesPoint[] = [];
  for (let s = 0; s < SECONDS; s++) {
    const inFault = s >= firstInject && s < lastRevert;
    const recovering = s >= lastRevert && s < recoverAt;
    const sev = inFault
      ? 1
      : recovering
        ? Math.max(0, 1 - (s - lastRevert) / Math.max(1, recoverAt - lastRevert))
        : 0;
    const requests = RATE + Math.round((r() - 0.5) * 6);
    const errors = Math.round(requests * (0.0004 + def.errPeak * sev * (0.7 + 0.6 * r())));
    const ok = requests - errors;
    const p50 = 8 + r() * 2 + def.latencyPeak * 0.3 * sev;
    const p99 = 24 + r() * 8 + def.latencyPeak * sev * (0.8 + 0.4 * r());
    const fallback = def.fallbackPeak * sev * (0.85 + 0.3 * r());
    const bad = def.badVersion && s >= firstInject && s < firstInject + (def.rollbackS ?? 0);
    const versions: Record<string, number> = bad ? { [def.badVersion!]: ok } : { '3': ok };
    timeline.push({
      t: t0 + s * 1000,
      requests,
      ok,
      errors,
      dropped: 0,
      availability: ok / requests,
      errorRate: errors / requests,
      p50: +p50.toFixed(2),
      p99: +p99.toFixed(2),
      fallbackShare: +Math.min(1, fallback).toFixed(4),
      modelVersions: versions,
    });
  }
  const at = (s: number) => t0 + Math.round(s * 1000);
  const faults: FaultRecord[] = def.faults.map(([type, inj, rev], k) => ({
    id: `f${index + 1}-${k + 1}`,
    type,
    name: `${type} #${k + 1}`,
    spec: { type, at: `${inj}s`, duration: `${rev - inj}s`, target: { service: 'model-server', count: 1 } },
    plan: { description: `${type} on model-server` },
    injectedAt: at(inj),
    revertedAt: at(rev),
    revertResult: 'reverted',
  }));
  const mttdMs = Math.round(def.detectS * 1000 * factor);
  const mttrMs = Math.round((recoverAt - firstInject) * 1000);
  const markers: Marker[] = [];
  for (const f of faults) {
    markers.push({ t: f.injectedAt!, kind: 'fault-inject', label: `${f.type} injected` });
    markers.push({ t: f.revertedAt!, kind: 'fault-revert', label: `${f.type} reverted` });
  }
  markers.push({
    t: at(firstInject) + mttdMs,
    kind: 'detection',
    label: `${def.rb.detection.signal} signal`,
  });
  if (def.name === 'model-server-pod-kill') {
    markers.push({ t: at(firstInject) + 5, kind: 'replica-exit', label: 'model-server-1 exited (SIGKILL)' });
    markers.push({ t: at(firstInject + 1.8), kind: 'replica-start', label: 'model-server-1 restarted' });
  }
  if (def.rollbackS !== undefined) {
    markers.push({ t: at(firstInject), kind: 'alias', label: `champion → v${def.badVersion}` });
    markers.push({
      t: at(firstInject + def.rollbackS),
      kind: 'rollback',
      label: 'controller rolled champion back to v3',
    });
  }
  if (def.rb.mitigation.automated !== 'none' && def.rollbackS === undefined) {
    markers.push({
      t: at(firstInject) + mttdMs + 300,
      kind: 'mitigation',
      label: `${def.rb.mitigation.automated} observed`,
    });
  }
  markers.push({ t: at(firstInject) + mttdMs + 200, kind: 'alert', label: `${def.rb.id} alert firing` });
  markers.push({ t: at(recoverAt), kind: 'recovery', label: 'SLOs held for 5 s' });
  markers.sort((a, b) => a.t - b.t);

  const phases = {
    steady: { from: at(0), to: at(firstInject) },
    fault: { from: at(firstInject), to: at(lastRevert) },
    recovery: { from: at(lastRevert), to: at(SECONDS) },
    whole: { from: at(0), to: at(SECONDS) },
  };
  const phaseStats = (w: { from: number; to: number }) => {
    const pts = timeline.filter((p) => p.t >= w.from && p.t < w.to);
    const requests = pts.reduce((a, p) => a + p.requests, 0);
    const ok = pts.reduce((a, p) => a + p.ok, 0);
    const fb = pts.reduce((a, p) => a + (p.fallbackShare ?? 0) * p.ok, 0);
    const p99s = pts.map((p) => p.p99 ?? 0).sort((a, b) => a - b);
    const p50s = pts.map((p) => p.p50 ?? 0).sort((a, b) => a - b);
    const q = (xs: number[], f: number) =>
      xs.length ? xs[Math.min(xs.length - 1, Math.floor(f * xs.length))] : null;
    return {
      requests,
      ok,
      availability: requests ? ok / requests : null,
      errorRate: requests ? (requests - ok) / requests : null,
      fallbackShare: ok ? fb / ok : null,
      latency: {
        p50: q(p50s, 0.5),
        p90: q(p99s, 0.5),
        p95: q(p99s, 0.7),
        p99: q(p99s, 0.95),
        p999: q(p99s, 1),
        max: q(p99s, 1),
        mean: q(p50s, 0.5),
      },
      throughput: ok / ((w.to - w.from) / 1000),
    };
  };
  const m = Object.fromEntries(Object.entries(phases).map(([k, w]) => [k, phaseStats(w)]));
  const fault = m.fault;
  const steady = m.steady;
  const availTarget = 0.995;
  const force = opts.allPass;
  const checks: CheckResult[] = [
    check(
      'availability >= 99.5% during fault',
      'availability',
      'fault',
      '>=',
      availTarget,
      '99.5%',
      fault.availability,
      pct(fault.availability!),
      force || fault.availability! >= availTarget,
      `${fault.ok} of ${fault.requests} requests succeeded over the fault phase (${((phases.fault.to - phases.fault.from) / 1000).toFixed(1)} s, ${fault.requests} requests)`,
    ),
    check(
      'latency.p99 <= 250ms during fault',
      'latency.p99',
      'fault',
      '<=',
      250,
      '250ms',
      fault.latency.p99,
      dur(fault.latency.p99!),
      force || fault.latency.p99! <= 250,
      'latency.p99 from the intended send time over the fault phase',
    ),
    check(
      'mttd <= runbook',
      'mttd',
      'event',
      '<=',
      def.rb.detection.withinMs,
      `${dur(def.rb.detection.withinMs)} (runbook ${def.rb.id})`,
      mttdMs,
      dur(mttdMs),
      force || mttdMs <= def.rb.detection.withinMs,
      `first "${def.rb.detection.signal}" signal after fault start`,
    ),
    check(
      'mttr <= runbook',
      'mttr',
      'event',
      '<=',
      def.rb.mttrTargetMs,
      `${dur(def.rb.mttrTargetMs)} (runbook ${def.rb.id})`,
      mttrMs,
      dur(mttrMs),
      force || mttrMs <= def.rb.mttrTargetMs,
      `every runbook SLO held for 5 s from ${(mttrMs / 1000).toFixed(2)} s after fault start`,
    ),
  ];
  if (def.fallbackPeak > 0) {
    checks.push(
      check(
        'fallback.share > 0 during fault',
        'fallback.share',
        'fault',
        '>',
        0,
        '0%',
        fault.fallbackShare,
        pct(fault.fallbackShare!),
        true,
        'fallback answers over the fault phase',
      ),
    );
  }
  const steadyState: CheckResult[] = [
    check(
      'availability >= 99.9%',
      'availability',
      'steady',
      '>=',
      0.999,
      '99.9%',
      steady.availability,
      pct(steady.availability!),
      true,
      'over the steady phase',
    ),
    check(
      'latency.p99 <= 200ms',
      'latency.p99',
      'steady',
      '<=',
      200,
      '200ms',
      steady.latency.p99,
      dur(steady.latency.p99!),
      true,
      'over the steady phase',
    ),
  ];
  const whole = m.whole;
  const allowed = (1 - 0.99) * whole.requests;
  const errors = whole.requests - whole.ok;
  const failed = [...checks, ...steadyState].some((c) => !c.passed);
  const verdict: Verdict = failed ? 'failed' : 'passed';
  return {
    name: def.name,
    description: def.description,
    file: `scenarios/${def.name}.yaml`,
    verdict,
    startedAt: at(0),
    endedAt: at(SECONDS),
    runbook: def.rb,
    phases,
    load: { driver: 'builtin', rate: RATE, durationMs: SECONDS * 1000, seed: 7 + index },
    faults,
    steadyState,
    checks,
    measurements: {
      mttdMs,
      mttrMs,
      rollbackMs: def.rollbackS !== undefined ? def.rollbackS * 1000 : null,
      driftDetectionMs: def.name === 'data-drift' ? mttdMs : null,
      detectionSignal: def.rb.detection.signal,
      mitigation: {
        name: def.rb.mitigation.automated,
        observed: true,
        t: at(firstInject) + mttdMs + 300,
        evidence: `${def.rb.mitigation.automated} observed`,
      },
      recoveredAt: at(recoverAt),
      phases: m,
    },
    errorBudget: {
      objective: 0.99,
      requests: whole.requests,
      allowedErrors: allowed,
      errors,
      consumed: errors / allowed,
    },
    timeline,
    markers,
    journal: `journal/${def.name}.ndjson`,
  };
}

function erroredScenario(def: Def, start: number): ScenarioReport {
  return {
    name: def.name,
    description: def.description,
    file: `scenarios/${def.name}.yaml`,
    verdict: 'error',
    reason: 'platform failure: registry container exited with code 137 before the load started <OOMKilled>',
    startedAt: start,
    endedAt: start + 4000,
    runbook: def.rb,
    phases: {
      steady: { from: start, to: start },
      fault: { from: start, to: start },
      recovery: { from: start, to: start },
      whole: { from: start, to: start + 4000 },
    },
    load: { driver: 'builtin', rate: RATE, durationMs: SECONDS * 1000, seed: 99 },
    faults: [],
    steadyState: [],
    checks: [],
    measurements: { mttdMs: null, mttrMs: null, rollbackMs: null, driftDetectionMs: null, phases: {} },
    timeline: [],
    markers: [{ t: start + 3900, kind: 'abort', label: 'infrastructure failure' }],
    journal: `journal/${def.name}.ndjson`,
  };
}

export function sampleReport(opts: SampleOptions = {}): RunReport {
  const n = Math.max(2, Math.min(6, opts.scenarios ?? 4));
  const start = opts.start ?? Date.UTC(2025, 2, 14, 9, 30, 0);
  const scenarios: ScenarioReport[] = [];
  let t = start;
  for (let i = 0; i < n; i++) {
    const def = DEFS[i];
    scenarios.push(opts.errored && i === n - 1 ? erroredScenario(def, t) : scenario(def, i, t, opts));
    t += (SECONDS + 5) * 1000;
  }
  const anyError = scenarios.some((s) => s.verdict === 'error' || s.verdict === 'aborted');
  const anyFail = scenarios.some((s) => s.verdict === 'failed');
  const verdict: Verdict = anyError ? 'error' : anyFail ? 'failed' : 'passed';
  return {
    schemaVersion: 1,
    run: {
      id: opts.id ?? '20250314-093000-q1-gameday',
      name: opts.name ?? 'Q1 game day (synthetic sample)',
      startedAt: new Date(start).toISOString(),
      endedAt: new Date(t).toISOString(),
      platform: 'local',
      seed: 7,
      faultlineVersion: '0.1.0',
      host: 'ci-runner-3',
      command: 'faultline gameday scenarios/game-day.yaml',
      exitCode: anyError ? 3 : anyFail ? 1 : 0,
      verdict,
      disabled: [],
    },
    definitions: DEFINITIONS,
    scenarios,
  };
}
