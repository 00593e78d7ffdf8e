// Open-model arrival schedule. It lives in the dependency-free portable.ts so that exported k6
// scripts compute the same intended times; this module keeps the load package's import path.
export type { RateProfile, Stage } from './portable.ts';
export { ArrivalSchedule } from './portable.ts';
