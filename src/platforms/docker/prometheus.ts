// The docker platform's Prometheus: it scrapes every service at 1 s (by network alias, so a
// replacement container behind the same alias is scraped without a reload) and evaluates the alert
// rules `faultline runbooks export` makes from the runbooks, so a runbook's detection can be "its
// alert went pending or firing" (signal `alert:<Name>`).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { exportAlertRules } from '../../runbooks/export.ts';
import { loadRunbookDir } from '../../runbooks/load.ts';
import type { AlertSample, AlertSource } from '../platform.ts';
import { PIPELINE_PORT } from './images.ts';

export const PROMETHEUS_PORT = 9090;
export const RULES_FILE = '/etc/prometheus/faultline-rules.yml';

export interface ScrapeTargetSpec {
  /** Prometheus `job` label: the service name, as the runbooks' expressions use it. */
  job: string;
  /** Network alias of the replica. */
  alias: string;
  replica: string;
}

/** prometheus.yml: one job per service, every target at 1 s, the rule file evaluated at 1 s. */
export function prometheusConfig(targets: readonly ScrapeTargetSpec[]): string {
  const jobs = new Map<string, ScrapeTargetSpec[]>();
  for (const t of targets) jobs.set(t.job, [...(jobs.get(t.job) ?? []), t]);
  return stringify({
    global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
    rule_files: [RULES_FILE],
    scrape_configs: [...jobs].map(([job, ts]) => ({
      job_name: job,
      static_configs: ts.map((t) => ({
        targets: [`${t.alias}:${PIPELINE_PORT}`],
        labels: { replica: t.replica },
      })),
    })),
  });
}

const PROJECT_RUNBOOKS = fileURLToPath(new URL('../../../runbooks/', import.meta.url));

/**
 * The alert rules of the runbooks in FAULTLINE_RUNBOOKS (a folder) or else the project's runbooks/,
 * as `faultline runbooks export` writes them. Runbooks that fail to load are an error: an alert
 * silently missing would turn a detection into "never detected".
 */
export async function alertRules(dir = process.env.FAULTLINE_RUNBOOKS ?? PROJECT_RUNBOOKS): Promise<string> {
  const loaded = await loadRunbookDir(path.resolve(dir));
  if (!loaded.ok) {
    const why = loaded.errors.map((e) => `${e.file}: ${e.message}`).join('; ');
    throw new Error(`runbooks in ${dir} do not load, so their alert rules cannot be exported: ${why}`);
  }
  return exportAlertRules(loaded.value);
}

/** Alerts pending or firing, read from Prometheus' /api/v1/alerts. */
export function prometheusAlerts(url: string, timeoutMs = 900): AlertSource {
  return {
    url,
    async collect(): Promise<AlertSample[]> {
      const res = await fetch(`${url}/api/v1/alerts`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`prometheus alerts: HTTP ${res.status}`);
      const body = (await res.json()) as {
        data?: { alerts?: { labels: Record<string, string>; state: string; activeAt?: string }[] };
      };
      const ts = Date.now();
      return (body.data?.alerts ?? [])
        .filter((a) => a.state === 'pending' || a.state === 'firing')
        .map((a) => ({
          name: a.labels.alertname ?? '',
          state: a.state as AlertSample['state'],
          ts,
          ...(a.activeAt ? { activeAt: Date.parse(a.activeAt) } : {}),
          labels: a.labels,
        }));
    },
  };
}
