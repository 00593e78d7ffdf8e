// The evaluation loop: every interval, measure (scrape + champion poll), let rules.ts decide (step),
// carry out its actions, then advance any canary. Keeps what the last evaluation saw for /v1/state.
import type { Logger } from 'pino';
import { type ActionDeps, execute } from './actions.ts';
import type { Canary } from './canary.ts';
import type { ChampionPoll, Drift, Measurement } from './measure.ts';
import type { ControllerMetrics } from './metrics.ts';
import { type ControllerState, initialState, type RuleResult, step, type Thresholds } from './rules.ts';

export interface LoopDeps {
  t: Thresholds;
  evalMs: number;
  rollbackDisabled: boolean;
  measurement: Measurement;
  champions: ChampionPoll;
  actions: ActionDeps;
  canary: Canary;
  metrics: Pick<ControllerMetrics, 'breach' | 'ruleValue' | 'evaluations'>;
  log: Logger;
  /** Aborted on shutdown: no further evaluation is scheduled. */
  signal: AbortSignal;
}

/** What the HTTP side reads of the loop. */
export interface EvaluationView {
  readonly state: ControllerState;
  readonly lastResults: RuleResult[];
  /** The version the last results were judged on (before any rollback that evaluation made). */
  readonly evaluatedVersion: string | null;
  readonly lastEvaluationAt: number | null;
  readonly maxPsi: Drift | null;
}

export class EvaluationLoop implements EvaluationView {
  state: ControllerState = initialState();
  lastResults: RuleResult[] = [];
  evaluatedVersion: string | null = null;
  lastEvaluationAt: number | null = null;
  maxPsi: Drift | null = null;
  /** Readiness: the controller is ready once one evaluation completed. */
  evaluatedOnce = false;
  private readonly deps: LoopDeps;
  private timer: NodeJS.Timeout | undefined;
  private loopDone: Promise<void> = Promise.resolve();

  constructor(deps: LoopDeps) {
    this.deps = deps;
  }

  async evaluate() {
    const { t, measurement, metrics: m } = this.deps;
    const now = Date.now();
    const [, polled] = await Promise.all([measurement.scrapeAll(now), this.deps.champions.poll()]);
    this.maxPsi = measurement.drift(now, t.windowS * 1000);
    const maxPsi = this.maxPsi;
    const state = this.state;
    // Decide with the champion the registry reports; when unreachable, with the one last seen.
    const champion = polled ?? state.champion;
    const lastGoodGuess =
      state.lastGood ?? (t.trustInitialChampion && state.champion === null ? champion : null);
    const out = step(
      state,
      {
        now,
        champion: polled,
        stats: champion ? measurement.versionStats(champion, t.windowS * 1000, now) : null,
        baseline: lastGoodGuess ? measurement.baseline(lastGoodGuess) : null,
        maxPsi: maxPsi?.value ?? null,
        psiFeature: maxPsi?.feature,
      },
      t,
      { rollbackDisabled: this.deps.rollbackDisabled },
    );
    this.evaluatedVersion = champion;
    this.state = out.state;
    this.lastResults = out.results;
    for (const r of out.results) {
      m.breach.set({ rule: r.rule }, r.status === 'breach' ? 1 : 0);
      m.ruleValue.set({ rule: r.rule }, r.value ?? Number.NaN);
    }
    for (const a of out.actions) this.state = await execute(a, now, this.state, this.deps.actions);
    await this.deps.canary.advance(now, this.state);
    m.evaluations.inc();
    this.lastEvaluationAt = now;
    this.evaluatedOnce = true;
  }

  /** One evaluation after `delay`, the next `evalMs` after this one started (at once if it ran longer). */
  schedule(delay: number) {
    if (this.deps.signal.aborted) return;
    this.timer = setTimeout(() => {
      const started = Date.now();
      this.loopDone = this.evaluate()
        .catch((e) => this.deps.log.error({ err: e }, 'evaluation failed'))
        .finally(() => this.schedule(Math.max(0, this.deps.evalMs - (Date.now() - started))));
    }, delay);
  }

  /** Cancels the next evaluation; `done` settles when the one in flight (if any) has finished. */
  stop() {
    clearTimeout(this.timer);
  }

  get done(): Promise<void> {
    return this.loopDone;
  }
}
