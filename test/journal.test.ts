// The journal batches per-request records off the hot path but keeps fault records crash-safe.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal, readJournal } from '../src/journal/journal.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmpFile = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-journal-'));
  dirs.push(d);
  return path.join(d, 'journal.ndjson');
};
const types = (file: string) => readJournal(file).map((e) => e.type);

describe('Journal', () => {
  it('buffers request records; any other entry writes them first, in append order', () => {
    const file = tmpFile();
    const j = new Journal(file, { flushMs: 60_000 });
    j.append('run.start');
    j.append('request', { r: { seq: 0 } });
    j.append('request', { r: { seq: 1 } });
    // Not on disk yet: no write per request.
    expect(types(file)).toEqual(['run.start']);
    j.append('fault.inject.intent', { fault_id: 'f1' });
    expect(types(file)).toEqual(['run.start', 'request', 'request', 'fault.inject.intent']);
    j.append('request', { r: { seq: 2 } });
    j.sync();
    expect(readJournal(file).at(-1)).toMatchObject({ type: 'request', r: { seq: 2 } });
    j.append('request', { r: { seq: 3 } });
    j.close();
    expect(readJournal(file).map((e) => (e.r as { seq?: number } | undefined)?.seq)).toEqual([
      undefined,
      0,
      1,
      undefined,
      2,
      3,
    ]);
  });

  it('flushes buffered records on its interval and when the buffer is large', async () => {
    const file = tmpFile();
    const j = new Journal(file, { flushMs: 50, maxBufferBytes: 4096 });
    j.append('request', { r: { seq: 0 } });
    expect(types(file)).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(types(file)).toEqual(['request']);
    for (let i = 1; i <= 100; i++) j.append('request', { r: { seq: i, pad: 'x'.repeat(100) } });
    // 100 × ~150 bytes crossed 4 KiB several times: most are on disk before the interval.
    expect(types(file).length).toBeGreaterThan(60);
    j.close();
    expect(types(file).length).toBe(101);
  });

  it('listeners see every entry at once, batched or not', () => {
    const j = new Journal(tmpFile(), { flushMs: 60_000 });
    const seen: string[] = [];
    j.onAppend((e) => seen.push(e.type));
    j.append('request');
    j.append('probe');
    expect(seen).toEqual(['request', 'probe']);
    j.close();
  });

  it('kill -9 loses at most the unflushed request records, never a fault record', () => {
    const file = tmpFile();
    const mod = new URL('../src/journal/journal.ts', import.meta.url).href;
    const script = `
      const { Journal } = await import(${JSON.stringify(mod)});
      const j = new Journal(${JSON.stringify(file)});
      j.append('run.start');
      for (let i = 0; i < 100; i++) j.append('request', { r: { seq: i } });
      j.append('fault.inject.intent', { fault_id: 'f1' });
      j.sync();
      for (let i = 100; i < 150; i++) j.append('request', { r: { seq: i } });
      j.append('fault.injected', { fault_id: 'f1' });
      for (let i = 150; i < 160; i++) j.append('request', { r: { seq: i } });
      process.kill(process.pid, 'SIGKILL');
    `;
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(res.signal).toBe('SIGKILL');
    const entries = readJournal(file);
    const faults = entries.filter((e) => e.type !== 'request').map((e) => e.type);
    expect(faults).toEqual(['run.start', 'fault.inject.intent', 'fault.injected']);
    const seqs = entries.filter((e) => e.type === 'request').map((e) => (e.r as { seq: number }).seq);
    // Everything before the last synchronous entry is there; the 10 after it were still buffered.
    expect(seqs).toEqual(Array.from({ length: 150 }, (_, i) => i));
  });
});
