// MLflow's own Python client (mlflow-skinny from PyPI, in a cached virtualenv made by
// scripts/setup-mlflow-venv) against a real registry process: every MLflow REST call the registry
// serves, so drift from MLflow's protocol shows up here. Skipped, with the reason in the test name,
// when the venv cannot be made (no python3-venv, no PyPI) unless FAULTLINE_REQUIRE_MLFLOW=1.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TOKEN = 'compat-admin-token';

function setupVenv(): { python?: string; reason?: string } {
  const r = spawnSync(path.join(ROOT, 'scripts/setup-mlflow-venv'), {
    encoding: 'utf8',
    timeout: 10 * 60_000,
  });
  const python = r.stdout?.trim().split('\n').pop();
  if (r.status === 0 && python && fs.existsSync(python)) return { python };
  const why = (r.error?.message ?? r.stderr ?? '').trim().split('\n').slice(-3).join(' ');
  return { reason: `scripts/setup-mlflow-venv failed: ${why || `exit ${r.status}`}` };
}

const venv = setupVenv();
if (!venv.python && process.env.FAULTLINE_REQUIRE_MLFLOW === '1')
  throw new Error(`FAULTLINE_REQUIRE_MLFLOW=1 but ${venv.reason}`);
if (!venv.python) console.warn(`MLflow client compat test skipped: ${venv.reason}`);

async function startRegistry(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'src/pipeline/registry/main.ts')], {
    env: {
      ...process.env,
      PORT: '0',
      REGISTRY_DB: path.join(dir, 'registry.db'),
      ARTIFACT_ROOT: path.join(dir, 'artifacts'),
      ADMIN_TOKEN: TOKEN,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m?.type === 'listening' && m.port) resolve(m.port);
    });
    child.on('exit', (code) => reject(new Error(`registry exited (${code}): ${output}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

describe('MLflow Python client against the registry', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-mlflow-compat-'));
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const title =
    'create/get, aliases, artifacts, tags, update, search filters and paging, get-latest-versions, deletes, auth';
  if (!venv.python) {
    it.skip(`${title} (skipped: ${venv.reason})`, () => {});
    return;
  }

  it(title, async () => {
    const reg = await startRegistry(dir);
    child = reg.child;
    const r = spawnSync(venv.python!, [path.join(ROOT, 'test/compat/mlflow_client_check.py')], {
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        ...process.env,
        MLFLOW_TRACKING_URI: reg.url,
        MLFLOW_TRACKING_TOKEN: TOKEN,
        // The client's HTTP retries would turn a protocol error into minutes of backoff.
        MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
      },
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^ok: MLflow \d+\.\d+/m);
  }, 180_000);
});
