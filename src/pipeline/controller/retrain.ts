// The retrain trigger's job: on persistent drift (decided in rules.ts) the configured trainer command
// runs as a child process, one at a time, with its outcome published as `retrain` events.
import { type ChildProcess, spawn } from 'node:child_process';
import type client from 'prom-client';
import type { EventLog } from './events.ts';
import type { Action } from './rules.ts';

export type RetrainAction = Extract<Action, { type: 'retrain' }>;

export interface RetrainDeps {
  /** argv of the trainer job; without one the trigger is only announced. */
  command?: string[];
  timeoutMs?: number;
  /** The PSI threshold, reported with each event. */
  threshold: number;
  events: EventLog;
  retrains: client.Counter<'outcome'>;
}

export class RetrainJob {
  private readonly deps: RetrainDeps;
  private child: ChildProcess | null = null;

  constructor(deps: RetrainDeps) {
    this.deps = deps;
  }

  trigger(a: RetrainAction, now: number) {
    const { events, retrains } = this.deps;
    const command = this.deps.command?.length ? this.deps.command : null;
    const base = {
      max_psi: a.maxPsi,
      feature: a.feature ?? null,
      threshold: this.deps.threshold,
      drift_since: new Date(a.driftSince).toISOString(),
      command,
    };
    if (!command) {
      retrains.inc({ outcome: 'triggered' });
      events.append(
        { type: 'retrain', reason: 'persistent_drift', details: { phase: 'triggered', ...base } },
        now,
      );
      return;
    }
    if (this.child) {
      events.append(
        {
          type: 'retrain',
          reason: 'persistent_drift',
          details: { phase: 'skipped', why: 'a retrain job is still running', ...base },
        },
        now,
      );
      return;
    }
    retrains.inc({ outcome: 'started' });
    events.append(
      { type: 'retrain', reason: 'persistent_drift', details: { phase: 'started', ...base } },
      now,
    );
    const started = Date.now();
    let output = '';
    const keep = (b: Buffer) => {
      output = (output + b.toString('utf8')).slice(-2000);
    };
    const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const timeout = setTimeout(() => child.kill('SIGTERM'), this.deps.timeoutMs ?? 900_000);
    let reported = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (reported) return;
      reported = true;
      clearTimeout(timeout);
      this.child = null;
      const ok = code === 0 && !error;
      retrains.inc({ outcome: ok ? 'succeeded' : 'failed' });
      events.append({
        type: 'retrain',
        reason: 'persistent_drift',
        details: {
          phase: ok ? 'succeeded' : 'failed',
          exit_code: code,
          signal,
          error: error?.message ?? null,
          duration_ms: Date.now() - started,
          output_tail: output,
          command,
        },
      });
    };
    child.on('error', (e) => finish(null, null, e));
    child.on('close', (code, signal) => finish(code, signal));
  }

  /** Shutdown: a running job is sent SIGTERM rather than left orphaned. */
  stop() {
    this.child?.kill('SIGTERM');
  }
}
