import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readJournal } from '../src/journal/journal.ts';
import { start as startFeatureServer } from '../src/pipeline/feature-server/server.ts';
import { isAlive, ROOT, runCli, startCli, tempHome, waitFor } from './helpers/cli.ts';

// The runner's promises, proven on real processes: nothing stays injected after SIGINT, and after a
// kill -9 of the runner `faultline cleanup` restores the exact prior feature values and stops every
// process of the pipeline.

const SCENARIO = `apiVersion: faultline/v1
kind: Scenario
metadata: { name: corruption-held, runbook: feature-store-corruption }
spec:
  load: { rate: 20/s, duration: 60s, seed: 3 }
  warmup: 2s
  faults:
    - { type: feature-corruption, at: 4s, duration: 50s, mode: wrong-type, fraction: 20%, features: [txn_count_24h] }
  checks: [ "availability >= 99% during fault" ]
`;

interface Row {
  user_id: string;
  event_timestamp: string;
  features: Record<string, unknown>;
}

const homes: string[] = [];
afterAll(async () => {
  // Belt and braces: whatever a failed assertion left running is stopped.
  for (const home of homes) await runCli(['cleanup', '--all'], { home });
});

function setup() {
  const home = tempHome();
  homes.push(home);
  const file = path.join(home, 'corruption-held.yaml');
  fs.writeFileSync(file, SCENARIO);
  const reportDir = path.join(home, 'report');
  const scenarioDir = path.join(reportDir, 'scenarios', '01-corruption-held');
  return {
    home,
    file,
    reportDir,
    journal: path.join(scenarioDir, 'journal.ndjson'),
    db: path.join(scenarioDir, 'pipeline', 'features.db'),
  };
}

const injected = (journal: string) =>
  fs.existsSync(journal) ? readJournal(journal).find((e) => e.type === 'fault.injected') : undefined;

function activeTokens(home: string): string[] {
  const dir = path.join(home, 'active');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) =>
      String(
        (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { data: { adminToken: string } }).data
          .adminToken,
      ),
    );
}

function filesContaining(dir: string, needle: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .filter((f) => fs.readFileSync(f).includes(needle));
}

function activePids(home: string): number[] {
  const dir = path.join(home, 'active');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .flatMap(
      (f) =>
        (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { data: { pids: number[] } }).data.pids,
    );
}

/** Reads the rows the corruption touched straight from the store file, through a fresh feature-server. */
async function rowsNow(db: string, ids: string[]): Promise<Row[]> {
  const fsrv = await startFeatureServer({ store: db, handleSignals: false });
  try {
    const q = ids.map((u) => `user_id=${encodeURIComponent(u)}`).join('&');
    const res = await fetch(`${fsrv.url}/v1/admin/rows?${q}`);
    return ((await res.json()) as { rows: Row[] }).rows;
  } finally {
    await fsrv.close();
  }
}

function originalRows(journal: string): Row[] {
  const intent = readJournal(journal).find((e) => e.type === 'fault.inject.intent');
  const undo = intent?.undo as { rows: Row[] };
  expect(undo.rows.length).toBeGreaterThan(100);
  return undo.rows;
}

const norm = (rows: Row[]) =>
  rows
    .map((r) => ({ ...r, event_timestamp: new Date(r.event_timestamp).toISOString() }))
    .sort((a, b) => a.user_id.localeCompare(b.user_id));

describe('runner guarantees', () => {
  it('SIGINT mid-fault reverts every fault and stops every pipeline process within 5 s', async () => {
    const s = setup();
    const run = startCli(
      ['run', s.file, '--runbooks', path.join(ROOT, 'runbooks'), '--report-dir', s.reportDir, '--quiet'],
      { home: s.home },
    );
    await waitFor(() => injected(s.journal), 120_000, 'the corruption to be injected');
    const pids = activePids(s.home);
    expect(pids.length).toBeGreaterThanOrEqual(5);
    const before = originalRows(s.journal);
    // The corruption is really in the store while the fault is active.
    const during = await (async () => {
      const res = await fetch(
        `${(readJournal(s.journal).find((e) => e.type === 'platform.ready')!.endpoints as { featureServer: string }).featureServer}/v1/features/${before[0].user_id}`,
      );
      return (await res.json()) as { features: Record<string, { value: unknown }> };
    })();
    expect(typeof during.features.txn_count_24h.value).toBe('string');

    const sentAt = Date.now();
    run.child.kill('SIGINT');
    const result = await run.done;
    const took = Date.now() - sentAt;
    expect(result.code).toBe(130);
    expect(took).toBeLessThan(5000 + 2000); // 5 s budget (+ process exit slack on a loaded machine)
    expect(pids.filter(isAlive)).toEqual([]);
    const journal = readJournal(s.journal);
    expect(journal.some((e) => e.type === 'fault.reverted')).toBe(true);
    expect(
      norm(
        await rowsNow(
          s.db,
          before.map((r) => r.user_id),
        ),
      ),
    ).toEqual(norm(before));
    expect(fs.existsSync(path.join(s.reportDir, 'report.json'))).toBe(true);
  }, 240_000);

  it('after kill -9 of the runner mid-fault, `faultline cleanup` restores the exact prior values and stops everything', async () => {
    const s = setup();
    const run = startCli(
      ['run', s.file, '--runbooks', path.join(ROOT, 'runbooks'), '--report-dir', s.reportDir, '--quiet'],
      { home: s.home },
    );
    await waitFor(() => injected(s.journal), 120_000, 'the corruption to be injected');
    const pids = activePids(s.home);
    const token = activeTokens(s.home)[0];
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    const before = originalRows(s.journal);
    run.child.kill('SIGKILL');
    await run.done;
    // The runner is gone, its pipeline is not: the orphaned processes still hold the corruption.
    expect(pids.filter(isAlive).length).toBe(pids.length);

    const cleaned = await runCli(['cleanup'], { home: s.home });
    expect(cleaned.code).toBe(0);
    expect(cleaned.stdout).toMatch(/reverted feature-corruption/);
    await waitFor(() => pids.every((p) => !isAlive(p)), 10_000, 'every pipeline process to exit');
    expect(
      norm(
        await rowsNow(
          s.db,
          before.map((r) => r.user_id),
        ),
      ),
    ).toEqual(norm(before));
    const second = await runCli(['cleanup'], { home: s.home });
    expect(second.stdout).toMatch(/nothing to clean up/);
    // The report folder (journal, pipeline state, logs: what CI uploads) never holds the admin token;
    // cleanup got it from the owner-only attach record.
    expect(filesContaining(s.reportDir, token)).toEqual([]);
  }, 240_000);

  it('after kill -9 of the runner while the pipeline bootstraps, `faultline cleanup` stops the trainer too', async () => {
    const s = setup();
    // A large user population keeps the bootstrap trainer busy for many seconds (it generates and
    // materializes every user), so only cleanup can explain its exit below.
    const run = startCli(
      ['run', s.file, '--runbooks', path.join(ROOT, 'runbooks'), '--report-dir', s.reportDir, '--quiet'],
      { home: s.home, env: { FAULTLINE_TRAINER_CACHE: 'off', USERS: '400000' } },
    );
    const cmdline = (pid: number) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    };
    const trainerPid = await waitFor(
      () => activePids(s.home).find((p) => cmdline(p).includes('trainer')),
      60_000,
      'the bootstrap trainer in the active record',
    );
    const pids = activePids(s.home);
    run.child.kill('SIGKILL');
    await run.done;
    expect(isAlive(trainerPid)).toBe(true);

    const cleaned = await runCli(['cleanup'], { home: s.home });
    expect(cleaned.code).toBe(0);
    // cleanup returns once what it stopped has exited.
    expect(isAlive(trainerPid)).toBe(false);
    await waitFor(() => pids.every((p) => !isAlive(p)), 10_000, 'every started process to exit');
  }, 120_000);
});
