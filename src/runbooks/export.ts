// Runbooks → a Prometheus alerting rule file, so the alert an on-call engineer gets links to the
// runbook the game day exercised.
import { relative } from 'node:path';
import { stringify } from 'yaml';
import { formatDuration } from '../scenario/units.ts';
import { alertNameOf, type Runbook } from './schema.ts';

export interface ExportOptions {
  /** Rule group name (default `faultline-runbooks`). */
  group?: string;
  /** Base URL the runbook annotation points to (`<base>/<id>.md`); default: the file path relative to cwd. */
  runbookBaseUrl?: string;
}

/** Prometheus rule file YAML (`groups[].rules[]`) for every runbook that declares an alert. */
export function exportAlertRules(runbooks: readonly Runbook[], opts: ExportOptions = {}): string {
  const rules = runbooks
    .filter((rb) => rb.alert)
    .map((rb) => {
      const a = rb.alert!;
      const link = opts.runbookBaseUrl
        ? `${opts.runbookBaseUrl.replace(/\/+$/, '')}/${rb.id}.md`
        : relative(process.cwd(), rb.file) || rb.file;
      return {
        alert: alertNameOf(rb),
        expr: a.expr.trim(),
        for: formatDuration(a.for),
        labels: { severity: rb.severity, runbook: rb.id },
        annotations: { summary: a.summary ?? rb.title, runbook: link },
      };
    });
  return stringify({ groups: [{ name: opts.group ?? 'faultline-runbooks', rules }] }, { lineWidth: 0 });
}
