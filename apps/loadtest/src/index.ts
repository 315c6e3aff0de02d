// The load tester as a library (what `pnpm bench` calls in-process); the CLI is src/cli.ts.
export { ApiClient, Recorder, type HttpResult, type Op } from './client.js';
export { DEFAULTS, HELP, OptionsError, parseOptions, resolveOptions, type LoadTestOptions, type LoadTestOverrides } from './options.js';
export { createProgressLine, formatProgress } from './progress.js';
export { formatSummary, renderHtml, writeReport } from './report.js';
export {
  LoadTestError,
  apiFetcher,
  fetchBookings,
  fetchSeats,
  newRunId,
  planBuyers,
  prepareShows,
  runBuyers,
  runLoadTest,
  showBody,
  type Figures,
  type LoadTestResult,
  type ProgressSnapshot,
  type RunHooks,
  type ShowPlan,
} from './run.js';
export { histogram, percentile, summarize, timeSeries, type Histogram, type Series, type Summary } from './stats.js';
export type { Action, BuyerRecord } from './types.js';
export { CHECKS, judge, type Check, type Verdict, type VerdictFetcher, type VerdictInput } from './verdict.js';
