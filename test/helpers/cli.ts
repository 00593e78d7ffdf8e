// Runs the real `faultline` CLI as a child process (Node 24 from node_modules), isolated in its own
// FAULTLINE_HOME, and reads back what it wrote.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunReport } from '../../src/report/model.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = path.join(ROOT, 'src/cli/main.ts');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  child: ChildProcess;
}

export function tempHome(prefix = 'faultline-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function startCli(
  args: string[],
  opts: { home: string; env?: Record<string, string> },
): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, FAULTLINE_HOME: opts.home, LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliRun>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr, child }));
  });
  return { child, done };
}

export async function runCli(
  args: string[],
  opts: { home: string; env?: Record<string, string> },
): Promise<CliRun> {
  return startCli(args, opts).done;
}

export function readReport(dir: string): RunReport {
  return JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
}

export function failedChecks(report: RunReport): string[] {
  return report.scenarios.flatMap((s) => s.checks.filter((c) => !c.passed).map((c) => c.check));
}

export async function waitFor<T>(
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined && v !== null && v !== false) return v as T;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
