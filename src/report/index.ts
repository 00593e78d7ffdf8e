// Public API of the reports: what the runner, the CLI and the benchmark call.
export { benchReports, type ReportBench } from './bench.ts';
export { chromiumPath, renderPdf, screenshot } from './browser.ts';
export {
  appendRun,
  DEFAULT_HISTORY,
  type HistoryRow,
  historyPath,
  parseSince,
  readHistory,
} from './history.ts';
export { renderHtml } from './html.ts';
export { parseReport, ReportInputError, readReport, writeReportJson } from './json.ts';
export { renderJunit } from './junit.ts';
export { REPORT_SCHEMA_VERSION, type RunReport } from './model.ts';
export { RunReportSchema, reportJsonSchema, reportJsonSchemaText } from './schema.ts';
export { renderSummary } from './summary.ts';
export { renderTrend } from './trend.ts';
export {
  REPORT_FILES,
  regenerate,
  type WriteOptions,
  type WrittenReports,
  writeReports,
  writeRunReport,
} from './write.ts';
