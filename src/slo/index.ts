export { newLatencyHistogram, parsePercentileName, percentileMs, percentilesOf, toMicros } from './hdr.ts';
export type { MttdResult, MttrInput, MttrResult, Signal } from './mttr.ts';
export { mttd, mttr } from './mttr.ts';
export type { SliName, Slo, SloOp, SloRecord, Window } from './stats.ts';
export { afterT0, compare, inWindow, phaseTime, sliGetter, WindowStats } from './stats.ts';
export type { LatencySummary, WindowSummary } from './summarize.ts';
export { summarize, summaryOf } from './summarize.ts';
export type { TimeSeriesOptions, TimeSeriesPoint } from './timeseries.ts';
export { timeSeries } from './timeseries.ts';
