/**
 * `pnpm loadtest -- [options]`: parse, run, print the summary (or --json), write --out, and exit
 * 0 on PASS, 1 on FAIL, 2 on bad options, 3 when the run could not happen.
 */
import { HELP, OptionsError, parseOptions } from './options.js';
import { createProgressLine } from './progress.js';
import { formatSummary, writeReport } from './report.js';
import { LoadTestError, runLoadTest } from './run.js';

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseOptions(argv);
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    process.stderr.write(`loadtest: ${err.message}\n\nSee --help.\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const { options } = parsed;
  const progress = createProgressLine(process.stderr, process.stderr.isTTY === true && !options.quiet);
  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(130);
    progress.done();
    process.stderr.write('loadtest: interrupted; finishing the requests in flight (Ctrl-C again to quit now)\n');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  try {
    const result = await runLoadTest(options, { onProgress: (p) => progress.update(p), signal: abort.signal });
    progress.done();
    if (options.out) {
      const paths = await writeReport(options.out, result);
      if (!options.json) process.stderr.write(`wrote ${paths.json} and ${paths.html}\n`);
    }
    process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatSummary(result));
    return result.verdict.pass ? 0 : 1;
  } catch (err) {
    progress.done();
    if (err instanceof LoadTestError) {
      process.stderr.write(`loadtest: ${err.message}\n`);
      return 3;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`loadtest: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 3;
  },
);
