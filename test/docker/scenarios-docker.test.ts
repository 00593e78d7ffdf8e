// Scenarios on the docker platform through the real CLI: a Toxiproxy latency toxic shifts the
// faulted link's latency by what was injected; a runbook detected by its Prometheus alert is
// reported with that alert; and a runner killed with SIGKILL mid-corruption leaves nothing that
// `faultline cleanup` does not revert (Redis rows back to their prior values) and remove (by label).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readJournal } from '../../src/journal/journal.ts';
import { imageName } from '../../src/platforms/docker/images.ts';
import { ROOT, readReport, runCli, startCli, tempHome, waitFor } from '../helpers/cli.ts';
import { describeDocker } from './support.ts';

const homes: string[] = [];
afterAll(async () => {
  for (const home of homes) await runCli(['cleanup', '--all'], { home });
});

/**
 * A shipped scenario, adjusted for one test and written to `dir`. The steady-state hypothesis keeps
 * only a loose availability bound: what these tests prove (a toxic's effect, an alert's detection,
 * cleanup after a crash) must not hinge on how busy a shared 2-core machine is before the fault.
 */
// biome-ignore lint/suspicious/noExplicitAny: a YAML document edited in place by each test
function scenarioCopy(file: string, dir: string, edit: (doc: any) => void): string {
  const doc = parse(fs.readFileSync(path.join(ROOT, 'scenarios', file), 'utf8'));
  doc.spec.steadyState.checks = ['availability >= 99%'];
  edit(doc);
  const out = path.join(dir, file);
  fs.writeFileSync(out, stringify(doc));
  return out;
}

function home() {
  const h = tempHome('faultline-docker-');
  homes.push(h);
  return h;
}

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();

describeDocker('scenarios on the docker platform', () => {
  it('a latency toxic on gateway->model-server is journaled and shifts p50 by the injected delay (±10 %)', async () => {
    const h = home();
    const delay = 250;
    const file = scenarioCopy('latency.yaml', h, (doc) => {
      doc.metadata = { name: 'docker-latency-shift', description: 'p50 shift = injected latency' };
      doc.spec.load = { driver: 'builtin', rate: '50/s', duration: '36s', seed: 13 };
      doc.spec.faults = [
        {
          type: 'latency',
          at: '16s',
          duration: '14s',
          link: 'gateway->model-server',
          toxic: 'latency',
          latency: `${delay}ms`,
          jitter: '0ms',
        },
      ];
      doc.spec.checks = ['availability >= 99% during fault'];
    });
    const reportDir = path.join(h, 'report');
    const r = await runCli(['run', file, '--platform', 'docker', '--report-dir', reportDir, '--quiet'], {
      home: h,
    });
    const report = readReport(reportDir);
    const s = report.scenarios[0];
    expect(s.verdict, `${r.stdout}\n${r.stderr}`).toBe('passed');
    const journal = readJournal(path.join(reportDir, s.journal));
    const start = journal.find((e) => e.type === 'run.start');
    expect(start?.platform).toBe('docker');
    expect(start?.fault_links).toEqual(['gateway->model-server']);
    // The toxic as sent to Toxiproxy, once per replica link, in the journal before injection.
    const intent = journal.find((e) => e.type === 'fault.inject.intent');
    const plan = intent?.plan as {
      links: string[];
      toxic: { type: string; attributes: { latency: number } };
    };
    expect(plan.links).toEqual(['gateway->model-server-0', 'gateway->model-server-1']);
    expect(plan.toxic).toMatchObject({ type: 'latency', attributes: { latency: delay, jitter: 0 } });
    expect(journal.findIndex((e) => e.type === 'fault.inject.intent')).toBeLessThan(
      journal.findIndex((e) => e.type === 'fault.injected'),
    );
    const p50 = (phase: 'steady' | 'fault') => s.measurements.phases[phase].latency.p50 as number;
    const shift = p50('fault') - p50('steady');
    expect(
      Math.abs(shift - delay),
      `steady p50 ${p50('steady')} ms, fault p50 ${p50('fault')} ms`,
    ).toBeLessThanOrEqual(delay * 0.1);
    // Reverted: the recovery phase is back near the steady state.
    expect(s.measurements.phases.recovery.latency.p50).toBeLessThan(p50('steady') + delay * 0.1);
  }, 300_000);

  it("a runbook whose detection is its Prometheus alert: MTTD is the alert's, and the report names it", async () => {
    const h = home();
    const runbooks = path.join(h, 'runbooks');
    fs.mkdirSync(runbooks);
    // The shipped model-server-crash runbook, detected by its own exported alert instead of the
    // gateway's ejection metric.
    const rb = fs
      .readFileSync(path.join(ROOT, 'runbooks/model-server-crash.md'), 'utf8')
      .replace(/^(\s*signal:\s*)gateway-ejection\s*$/m, '$1alert:ModelServerReplicaDown');
    expect(rb).toContain('alert:ModelServerReplicaDown');
    fs.writeFileSync(path.join(runbooks, 'model-server-crash.md'), rb);
    const file = scenarioCopy('pod-kill.yaml', h, (doc) => {
      doc.spec.checks = ['mttd <= runbook', 'mitigation.observed == true'];
    });
    const reportDir = path.join(h, 'report');
    const r = await runCli(
      ['run', file, '--platform', 'docker', '--runbooks', runbooks, '--report-dir', reportDir, '--quiet'],
      // The platform's Prometheus loads the alert rules of the same runbooks the run is measured by.
      { home: h, env: { FAULTLINE_RUNBOOKS: runbooks } },
    );
    const s = readReport(reportDir).scenarios[0];
    expect(s.verdict, `${r.stdout}\n${r.stderr}`).toBe('passed');
    expect(s.measurements.detectionSignal).toMatch(/^alert:ModelServerReplicaDown \(Prometheus alert/);
    expect(s.measurements.mttdMs).toBeGreaterThan(0);
    const journal = readJournal(path.join(reportDir, s.journal));
    const t0 = s.faults[0].injectedAt as number;
    const alert = journal.find(
      (e) => e.type === 'alert' && e.name === 'ModelServerReplicaDown' && e.state !== 'inactive',
    );
    expect(alert, 'the alert went pending in Prometheus').toBeDefined();
    expect(alert!.ts_ms).toBeGreaterThanOrEqual(t0);
    expect(s.measurements.mttdMs).toBe(alert!.ts_ms - t0);
    expect(fs.readFileSync(path.join(reportDir, 'summary.md'), 'utf8')).toContain(
      'alert:ModelServerReplicaDown',
    );
  }, 300_000);

  it('kill -9 of the runner mid-corruption, then `faultline cleanup`: Redis rows restored, nothing labelled left', async () => {
    const h = home();
    const file = scenarioCopy('feature-corruption.yaml', h, (doc) => {
      // Long enough that the runner is killed while the corruption is in place.
      doc.spec.load.duration = '120s';
      doc.spec.faults[0].duration = '90s';
      // The fault must be injected for this test to mean anything, whatever the machine's load.
      delete doc.spec.steadyState;
    });
    const reportDir = path.join(h, 'report');
    const run = startCli(
      [
        'run',
        file,
        '--platform',
        'docker',
        '--runbooks',
        path.join(ROOT, 'runbooks'),
        '--report-dir',
        reportDir,
        '--quiet',
      ],
      { home: h },
    );
    let replica: StartedTestContainer | undefined;
    let redis: Redis | undefined;
    try {
      const journalFile = await waitFor(
        () => {
          const dir = path.join(reportDir, 'scenarios');
          if (!fs.existsSync(dir)) return undefined;
          const f = fs.readdirSync(dir).map((d) => path.join(dir, d, 'journal.ndjson'))[0];
          return f && fs.existsSync(f) ? f : undefined;
        },
        60_000,
        'the run journal',
      );
      const ready = await waitFor(
        () => readJournal(journalFile).find((e) => e.type === 'platform.ready'),
        120_000,
        'the platform to be ready',
      );
      const runId = String(ready.run_id);
      // A Redis replica outside the run (host network, no run label) follows the online store, so the
      // store's last state can be read after cleanup has removed the run's own Redis.
      const ports = docker(
        'ps',
        '--filter',
        `label=faultline.io/run=${runId}`,
        '--filter',
        'label=faultline.io/service=redis',
        '--format',
        '{{.Ports}}',
      );
      const redisPort = /:(\d+)->6379\/tcp/.exec(ports)?.[1];
      expect(redisPort, ports).toBeDefined();
      const replicaPort = 20000 + Math.floor(Math.random() * 20000);
      replica = await new GenericContainer(imageName('redis'))
        .withNetworkMode('host')
        .withCommand([
          'redis-server',
          '--port',
          String(replicaPort),
          '--replicaof',
          '127.0.0.1',
          String(redisPort),
        ])
        .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
        .start();
      redis = new Redis({ host: '127.0.0.1', port: replicaPort, lazyConnect: true });
      redis.on('error', () => undefined);
      await redis.connect();
      await waitFor(
        async () => /master_link_status:up/.test(await redis!.info('replication')),
        30_000,
        'the replica to sync',
      );
      const snapshot = async () => {
        const keys = (await redis!.keys('*')).sort();
        const out: Record<string, Record<string, string>> = {};
        for (const k of keys) if ((await redis!.type(k)) === 'hash') out[k] = await redis!.hgetall(k);
        return out;
      };
      // Features were materialized by the bootstrap trainer before the platform was ready.
      const prior = await snapshot();
      expect(Object.keys(prior).length).toBeGreaterThan(10);

      await waitFor(
        () => readJournal(journalFile).find((e) => e.type === 'fault.injected'),
        120_000,
        'the corruption',
      );
      await new Promise((r) => setTimeout(r, 500));
      const corrupted = await snapshot();
      const changed = Object.keys(prior).filter(
        (k) => JSON.stringify(prior[k]) !== JSON.stringify(corrupted[k]),
      );
      expect(changed.length, 'rows corrupted in Redis').toBeGreaterThan(0);

      run.child.kill('SIGKILL');
      await run.done;
      expect(docker('ps', '-q', '--filter', `label=faultline.io/run=${runId}`)).not.toBe('');

      const c = await runCli(['cleanup'], { home: h });
      expect(c.code, `${c.stdout}\n${c.stderr}`).toBe(0);
      expect(c.stdout).toMatch(/reverted feature-corruption .*restored \d+ rows/);

      // The run's Redis is gone; its replica holds the store's last state: every row as before.
      const after = await snapshot();
      expect(after).toEqual(prior);
      expect(docker('ps', '-a', '-q', '--filter', `label=faultline.io/run=${runId}`)).toBe('');
      expect(docker('network', 'ls', '-q', '--filter', `label=faultline.io/run=${runId}`)).toBe('');
      expect(docker('volume', 'ls', '-q', '--filter', `label=faultline.io/run=${runId}`)).toBe('');
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
      redis?.disconnect();
      await replica?.stop();
    }
  }, 400_000);
});
