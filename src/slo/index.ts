export {
  newLatencyHistogram,
  parsePercentileName,
  percentileMs,
  percentilesOf,
  toMicros,
} from '../stats/hdr.ts';
export type { MttdResult, MttrInput, MttrResult, Signal } from './mttr.ts';
export { mttd, mttr } from './mttr.ts';
export type { QualityFigures, QualityMetric, QualityPoint } from './quality.ts';
export { QUALITY_MIN_LABELS, qualityFigures } from './quality.ts';
export type { SliName, Slo, SloOp, SloRecord, Window } from './stats.ts';
export {
  afterT0,
  compare,
  inWindow,
  MIN_RATIO_REQUESTS,
  minSamplesForPercentile,
  phaseTime,
  qualityEvidence,
  type SliSpec,
  sliGetter,
  sliSpec,
  WindowStats,
} from './stats.ts';
export type { LatencySummary, WindowSummary } from './summarize.ts';
export { summarize, summaryOf } from './summarize.ts';
export type { QualitySeriesPoint, TimeSeriesOptions, TimeSeriesPoint } from './timeseries.ts';
export { qualitySeries, timeSeries } from './timeseries.ts';
