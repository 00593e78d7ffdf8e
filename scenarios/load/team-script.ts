// An example of a team's own k6 script used as a scenario's load (`load: { driver: k6, script: … }`):
// plain k6, no Faultline module. Faultline reads its `http_req_duration` samples (one record per
// request; k6 gives no intended send time, so latency is k6's own request duration, and a request's
// `model_version` / `fallback` tags when the script sets them). Exported scripts (`faultline export
// k6`) measure from the intended send time instead, tag each answer and carry true labels.
//
//   k6 run -e FAULTLINE_URL=http://127.0.0.1:8080 --out json=k6.json scenarios/load/team-script.ts
import http from 'k6/http';
import type { Options } from 'k6/options';

export const options: Options = {
  scenarios: {
    checkout: {
      executor: 'ramping-arrival-rate',
      startRate: 20,
      timeUnit: '1s',
      stages: [
        { target: 100, duration: '20s' },
        { target: 100, duration: '20s' },
      ],
      preAllocatedVUs: 20,
      maxVUs: 200,
    },
  },
  thresholds: { http_req_failed: ['rate<0.01'], http_req_duration: ['p(99)<500'] },
};

const BASE_URL = __ENV.FAULTLINE_URL || 'http://127.0.0.1:8080';
const TYPES = ['PAYMENT', 'TRANSFER', 'CASH_OUT', 'DEBIT', 'CASH_IN'];

export default function (): void {
  const user = Math.floor(Math.random() * 5000);
  const amount = Math.round(Math.random() * 50_000) / 100;
  const body = {
    user_id: `u${String(user).padStart(5, '0')}`,
    type: TYPES[Math.floor(Math.random() * TYPES.length)],
    amount,
    old_balance: amount * 3,
    new_balance: amount * 2,
    hour: Math.floor(Math.random() * 24),
    merchant_risk: Math.random() * 0.5,
  };
  http.post(`${BASE_URL}/v1/predict`, JSON.stringify(body), {
    headers: { 'content-type': 'application/json' },
    tags: { name: 'predict' },
  });
}
