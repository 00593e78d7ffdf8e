// The buffered undici exchange used on the hot paths, against a real HTTP server.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange } from '../src/pipeline/common/exchange.ts';

let server: http.Server;
let pool: Pool;
let closedEarly = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/slow') {
      res.on('close', () => {
        if (!res.writableEnded) closedEarly++;
      });
      setTimeout(() => res.end('late'), 2000).unref();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'text/plain', 'x-echo': req.method ?? '' });
      // Two writes: the body arrives in more than one chunk.
      res.write('got:');
      res.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 4 });
});

afterAll(async () => {
  await pool.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('exchange', () => {
  it('returns status, headers and the whole body', async () => {
    const r = await exchange(pool, { method: 'POST', path: '/echo', body: 'hello' });
    expect(r.statusCode).toBe(201);
    expect(r.headers['x-echo']).toBe('POST');
    expect(r.body.toString()).toBe('got:hello');
  });

  it('rejects with the signal reason at once and cancels the request on the wire', async () => {
    const ac = new AbortController();
    const t0 = performance.now();
    const p = exchange(pool, { method: 'GET', path: '/slow' }, ac.signal);
    setTimeout(() => ac.abort(new Error('deadline')), 100);
    await expect(p).rejects.toThrow('deadline');
    expect(performance.now() - t0).toBeLessThan(1500);
    await new Promise((r) => setTimeout(r, 200));
    expect(closedEarly).toBe(1);
  });

  it('rejects an already aborted signal without sending, and transport errors with their code', async () => {
    await expect(
      exchange(pool, { method: 'GET', path: '/echo' }, AbortSignal.abort(new Error('gone'))),
    ).rejects.toThrow('gone');
    const dead = new Pool('http://127.0.0.1:1');
    await expect(exchange(dead, { method: 'GET', path: '/' })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    await dead.close();
  });
});
