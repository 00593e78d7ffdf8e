export type { GeneratorBenchOptions, GeneratorBenchResult, GeneratorBenchStep } from './bench.ts';
export { benchGenerator } from './bench.ts';
export type { BuiltinLoadConfig } from './builtin.ts';
export { BuiltinLoadDriver, createBuiltinDriver, seededPayload } from './builtin.ts';
export { nowMs } from './clock.ts';
export type { DriftProfile, DriftSpec, TransformSpec } from './drift-transform.ts';
export {
  composeTransforms,
  DriftTransform,
  TransformSet,
  transactionNumericRanges,
} from './drift-transform.ts';
export type {
  LatencySummaryMs,
  LoadDriver,
  LoadResult,
  Outcome,
  PayloadTransform,
  RecordListener,
  RequestRecord,
} from './driver.ts';
export type { LoadDriverKind, LoadDriverOptions, RunnerLoadDriver } from './factory.ts';
export { createLoadDriver } from './factory.ts';
export { findK6, K6NotFoundError } from './k6/binary.ts';
export { K6LoadDriver } from './k6/driver.ts';
export type { LagSummary } from './lag.ts';
export { LagMeter } from './lag.ts';
export type { RateProfile, Stage } from './schedule.ts';
export { ArrivalSchedule } from './schedule.ts';
export type { WorkerLoadConfig } from './worker-driver.ts';
export { createWorkerDriver, WorkerLoadDriver } from './worker-driver.ts';
