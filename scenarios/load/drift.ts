// k6 load script for the Faultline scenario "amount-drift", written by `faultline export k6 scenarios/drift.yaml`.
// It replays the scenario's load: constant arrival rate 100/s for 45000 ms, seed 19, the built-in driver's
// payloads (../../src/load/portable.ts is Faultline's src/load/portable.ts) at the same intended times, and one
// `faultline_request` sample per request that `faultline run --load-from` turns into records.
//
//   k6 run -e FAULTLINE_URL=http://<gateway> --out json=k6.json <this file>
//
// Needs k6 with TypeScript support (v0.57 or later). Thresholds mirror the scenario's checks where
// k6 has a counterpart, over the planned phases; Faultline's verdict does not depend on them.
// Checks only Faultline measures:
//   - drift.detection_time <= 30s (measured by Faultline from fault start and pipeline signals)
//   - mttd <= runbook (compares with the runbook)
//   - mttr <= runbook (compares with the runbook)
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import http from 'k6/http';
import { Rate, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import {
  type AnswerFacts,
  ArrivalSchedule,
  classifyAnswer,
  DEFAULT_POPULATION_SEED,
  DEFAULT_POPULATION_SIZE,
  generateUsers,
  type PlannedDrift,
  PayloadStream,
  type RateProfile,
  type SyntheticUser,
} from '../../src/load/portable.ts';

interface Load {
  scenario: string;
  url: string | null;
  path: string;
  seed: number;
  profile: RateProfile;
  payloadOptions: { fraudShare?: number };
  maxInFlight: number;
  timeoutMs: number;
  warmupMs: number;
  phases: { name: string; startMs: number; endMs: number }[];
  drifts: PlannedDrift[];
}

// faultline:load-begin
const LOAD: Load = {
  "scenario": "amount-drift",
  "url": null,
  "path": "/v1/predict",
  "seed": 19,
  "profile": {
    "rate": 100,
    "durationMs": 45000
  },
  "payloadOptions": {},
  "maxInFlight": 1000,
  "timeoutMs": 2000,
  "warmupMs": 5000,
  "phases": [
    {
      "name": "steady",
      "startMs": 5000,
      "endMs": 15000
    },
    {
      "name": "fault",
      "startMs": 15000,
      "endMs": 35000
    },
    {
      "name": "recovery",
      "startMs": 35000,
      "endMs": 45000
    }
  ],
  "drifts": [
    {
      "spec": {
        "kind": "scale",
        "feature": "amount",
        "factor": 4,
        "startMs": 15000,
        "profile": {
          "kind": "step"
        }
      },
      "endMs": 35000
    }
  ]
};
// faultline:load-end

export const options: Options = {
  "scenarios": {
    "faultline": {
      "executor": "constant-arrival-rate",
      "rate": 100,
      "timeUnit": "1s",
      "duration": "45000ms",
      "preAllocatedVUs": 25,
      "maxVUs": 1000,
      "gracefulStop": "3000ms"
    }
  },
  "thresholds": {
    "faultline_ok{phase:steady}": [
      "rate>=0.999"
    ],
    "faultline_request{phase:steady}": [
      "p(99)<=200"
    ],
    "faultline_ok{phase:fault}": [
      "rate>=0.995"
    ],
    "faultline_request{phase:fault}": [
      "p(99)<=300"
    ]
  }
};

const BASE_URL = __ENV.FAULTLINE_URL || LOAD.url;
if (!BASE_URL) throw new Error('set the gateway URL: k6 run -e FAULTLINE_URL=http://<gateway> …');

// One copy of the user population for every VU (the payloads are for users the feature store knows).
const users = new SharedArray<SyntheticUser>('faultline-users', () =>
  generateUsers(DEFAULT_POPULATION_SEED, DEFAULT_POPULATION_SIZE),
);
const schedule = new ArrivalSchedule(LOAD.profile);
const requests = new Trend('faultline_request', true);
const answered = new Rate('faultline_ok');
const fallback = new Rate('faultline_fallback');
// Per VU: replays the seeded stream forward to each iteration it runs.
let stream: PayloadStream | undefined;
// Per-request metadata, cleared after each request so it never sticks to the next one's samples.
const META_KEYS = ['seq', 't_intended', 't_sent', 'label', 'score', 'decision', 'upstream', 'error'];

function phaseAt(offsetMs: number): string {
  for (const p of LOAD.phases) if (offsetMs >= p.startMs && offsetMs < p.endMs) return p.name;
  return offsetMs < LOAD.warmupMs ? 'warmup' : 'none';
}

function headerOf(headers: Record<string, string>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

export default function (): void {
  // Iteration i of the arrival-rate executor is arrival i of the schedule (k6 does not number the
  // iterations it drops, so after a drop the following ones shift: keep maxVUs large enough).
  const seq = exec.scenario.iterationInTest;
  const offset = schedule.offset(seq);
  if (offset === undefined) return;
  const tIntended = exec.scenario.startTime + offset;
  if (!stream) stream = new PayloadStream(LOAD.seed, LOAD.payloadOptions, users, { schedule, drifts: LOAD.drifts });
  const { tx, label } = stream.at(seq);
  const phase = phaseAt(offset);
  const measured = offset >= LOAD.warmupMs ? 'yes' : 'no';
  const meta = exec.vu.metrics.metadata;
  meta.seq = seq;
  meta.t_intended = tIntended;
  const tSent = Date.now();
  const res = http.post(`${BASE_URL}${LOAD.path}`, JSON.stringify(tx), {
    headers: { 'content-type': 'application/json', 'x-faultline-seq': String(seq) },
    timeout: `${LOAD.timeoutMs}ms`,
    tags: { name: 'predict', phase, measured },
  });
  const tDone = Date.now();
  // k6 reports a timeout as error code 1050 and status 0 (https://grafana.com/docs/k6/latest/javascript-api/error-codes/).
  const timedOut = res.error_code === 1050;
  const facts: AnswerFacts =
    res.status === 0
      ? { outcome: 'error', error: timedOut ? 'timeout' : res.error || `k6_${res.error_code}` }
      : classifyAnswer(res.status, (n) => headerOf(res.headers, n), typeof res.body === 'string' ? res.body : '');
  const outcome = timedOut ? 'timeout' : facts.outcome;
  meta.t_sent = tSent;
  meta.label = label;
  if (facts.score !== undefined) meta.score = facts.score;
  if (facts.decision) meta.decision = facts.decision;
  if (facts.upstream) meta.upstream = facts.upstream;
  if (facts.error) meta.error = facts.error;
  const tags: Record<string, string> = { outcome, status: String(res.status), phase, measured };
  if (facts.modelVersion) tags.model_version = facts.modelVersion;
  if (facts.fallback) tags.fallback = facts.fallback;
  requests.add(tDone - tIntended, tags);
  answered.add(outcome === 'ok', { phase, measured });
  if (outcome === 'ok') fallback.add(facts.fallback !== undefined, { phase, measured });
  for (const k of META_KEYS) delete meta[k];
}
