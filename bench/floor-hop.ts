// One process of the "topology floor": the pipeline's hops with nothing but Node's HTTP server and
// the same undici client (exchange) in them. ROLE=gateway forwards the body to UPSTREAMS round
// robin; ROLE=model-server GETs features from UPSTREAMS and answers a prediction-shaped body;
// ROLE=feature-server answers a feature-shaped body. Prints its port on stdout.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { exchange } from '../src/pipeline/common/exchange.ts';

const role = process.env.ROLE ?? 'feature-server';
const upstreams = (process.env.UPSTREAMS ?? '')
  .split(',')
  .filter(Boolean)
  .map((u) => new Pool(u, { connections: 64 }));
const PREDICTION = JSON.stringify({
  transaction_id: 'tx-0000000001',
  score: 0.0123,
  decision: 'approve',
  model_name: 'fraud-primary',
  model_version: '2',
  fallback: { used: false, reason: null },
});
const FEATURES = JSON.stringify({
  user_id: 'u00001',
  features: Object.fromEntries(
    [
      'account_age_days',
      'avg_amount_30d',
      'txn_count_24h',
      'chargebacks_90d',
      'merchant_risk',
      'device_change_7d',
    ].map((k) => [k, { value: 1, status: 'PRESENT', event_timestamp: '2026-01-01T00:00:00.000Z' }]),
  ),
});
const JSON_HEADERS = { 'content-type': 'application/json' };
let next = 0;

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (role === 'feature-server') {
      res.writeHead(200, JSON_HEADERS).end(FEATURES);
      return;
    }
    const up = upstreams[next++ % upstreams.length];
    const call =
      role === 'gateway'
        ? exchange(up, {
            method: 'POST',
            path: '/v1/predict',
            headers: JSON_HEADERS,
            body: Buffer.concat(chunks),
          })
        : exchange(up, {
            method: 'GET',
            path: '/v1/features/u00001',
            headers: { accept: 'application/json' },
          });
    call.then(
      (r) => {
        if (role === 'model-server') JSON.parse(r.body.toString('utf8'));
        res.writeHead(r.statusCode, JSON_HEADERS).end(role === 'gateway' ? r.body : PREDICTION);
      },
      () => res.writeHead(502, JSON_HEADERS).end('{"error_code":"UPSTREAM"}'),
    );
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
process.on('SIGTERM', () => process.exit(0));
