// What the runner watches while a scenario runs, all into the journal: 1 s metric rounds of every
// service (from the platform's metrics source), the controller's event stream, the registry's
// champion alias and platform events.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Journal } from '../journal/journal.ts';
import { parseMetrics } from '../pipeline/controller/scrape.ts';
import { RegistryClient } from '../pipeline/registry/client.ts';
import { CHAMPION_ALIAS, PRIMARY_MODEL } from '../pipeline/schema.ts';
import type { MetricsSample, PipelineEndpoints, StartedPlatform } from '../platforms/platform.ts';

/** Metric families worth keeping in the journal: the pipeline's own, not Node process internals. */
const KEEP = /^(gateway_|model_server_|controller_|feature_server_|registry_|http_requests_total)/;
const DROP = /(_bucket|_created)$|_process_|_nodejs_/;

export class Observers {
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private pollAbort = new AbortController();
  private lastAlias?: string;

  private readonly journal: Journal;
  private readonly endpoints: PipelineEndpoints;
  private readonly platform: StartedPlatform;

  constructor(journal: Journal, platform: StartedPlatform) {
    this.journal = journal;
    this.platform = platform;
    this.endpoints = platform.endpoints;
  }

  start(opts: { scrapeIntervalMs?: number; aliasIntervalMs?: number } = {}) {
    this.platform.onEvent(({ type, ts_ms, ...rest }) =>
      this.journal.append('platform.event', { kind: type, ...rest }, ts_ms),
    );
    const source = this.platform.metrics();
    this.every(opts.scrapeIntervalMs ?? 1000, async () => {
      for (const m of await source.collect()) this.record(m);
    });
    // A platform with its own monitoring (docker: Prometheus with the runbooks' alert rules): each
    // alert's state changes, as the team's alerting would have seen them (signal `alert:<Name>`).
    const alerts = this.platform.alerts?.();
    if (alerts) {
      const last = new Map<string, string>();
      this.every(opts.scrapeIntervalMs ?? 1000, async () => {
        const now = new Map((await alerts.collect()).map((a) => [a.name, a] as const));
        for (const [name, a] of now) {
          if (last.get(name) === a.state) continue;
          last.set(name, a.state);
          this.journal.append(
            'alert',
            { name, state: a.state, active_at: a.activeAt ?? null, labels: a.labels, source: alerts.url },
            a.ts,
          );
        }
        for (const name of [...last.keys()].filter((n) => !now.has(n))) {
          last.delete(name);
          this.journal.append('alert', { name, state: 'inactive', source: alerts.url });
        }
      });
    }
    const registry = new RegistryClient({ url: this.endpoints.registry, timeoutMs: 1000 });
    this.every(opts.aliasIntervalMs ?? 500, () => this.pollAlias(registry));
    void this.followController();
    // The harness's own health: a starved runner (it also hosts the local fault proxies) would distort
    // every measurement, so its event-loop delay is journaled beside the pipeline's metrics.
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    let cpu = process.cpuUsage();
    let last = Date.now();
    this.timers.push(
      setInterval(() => {
        const now = Date.now();
        const used = process.cpuUsage(cpu);
        this.journal.append('harness', {
          loopDelayP99Ms: loop.percentile(99) / 1e6,
          loopDelayMaxMs: loop.max / 1e6,
          cpuShare: (used.user + used.system) / 1000 / Math.max(1, now - last),
        });
        loop.reset();
        cpu = process.cpuUsage();
        last = now;
      }, 1000),
    );
    this.stopLoop = () => loop.disable();
  }

  private stopLoop?: () => void;

  async stop() {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.stopLoop?.();
    this.pollAbort.abort();
  }

  private every(ms: number, fn: () => Promise<unknown>) {
    let busy = false;
    const tick = () => {
      if (busy || this.stopped) return;
      busy = true;
      fn()
        .catch(() => undefined)
        .finally(() => {
          busy = false;
        });
    };
    tick();
    this.timers.push(setInterval(tick, ms));
  }

  private record(m: MetricsSample) {
    const where = { service: m.service, replica: m.replica };
    if (!m.up || m.text === undefined) {
      // A dead replica during chaos is data, not an error.
      this.journal.append('scrape', { ...where, up: false, error: m.error ?? 'down' }, m.ts);
      return;
    }
    const samples: Record<string, number> = {};
    for (const s of parseMetrics(m.text)) {
      if (!KEEP.test(s.name) || DROP.test(s.name)) continue;
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
      samples[labels ? `${s.name}{${labels}}` : s.name] = s.value;
    }
    this.journal.append('scrape', { ...where, up: true, samples }, m.ts);
  }

  private async pollAlias(registry: RegistryClient) {
    const v = await registry.getAlias(PRIMARY_MODEL, CHAMPION_ALIAS);
    const version = v?.version ?? null;
    if (version !== (this.lastAlias ?? undefined)) {
      this.journal.append('alias', {
        model: PRIMARY_MODEL,
        alias: CHAMPION_ALIAS,
        version,
        previous: this.lastAlias ?? null,
      });
      this.lastAlias = version ?? undefined;
    }
  }

  /** Long-polls the controller's event stream; reconnects while the controller restarts. */
  private async followController() {
    let since = 0;
    while (!this.stopped) {
      try {
        const res = await fetch(`${this.endpoints.controller}/v1/events?since=${since}&wait=2000`, {
          signal: AbortSignal.any([this.pollAbort.signal, AbortSignal.timeout(5000)]),
        });
        const body = (await res.json()) as { events: { seq: number; ts_ms: number; type: string }[] };
        for (const e of body.events ?? []) {
          since = Math.max(since, e.seq);
          this.journal.append('controller.event', { event: e }, e.ts_ms);
        }
      } catch {
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
}
