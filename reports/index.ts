// Public surface of reports/.
export * from './stats/index.js';
export { buildReport, buildReportFromRecords, type BuildReportOptions, type BuildReportResult } from './build.js';
export { loadRunRecords, type RunRecords } from './load.js';
export type { ReportModel, ReportOptions } from './model.js';
