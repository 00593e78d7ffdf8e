// The report tests' synthetic game day. The generator lives in src/report/sample.ts so the report
// benchmark (benchReports) can use it too.
export { type SampleOptions, sampleReport } from '../../src/report/sample.ts';
