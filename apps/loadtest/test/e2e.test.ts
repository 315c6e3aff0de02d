import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { resolveOptions } from '../src/options.js';
import { writeReport } from '../src/report.js';
import { runLoadTest, type ProgressSnapshot } from '../src/run.js';
import { ADMIN_TOKEN, startLocalSystem } from '../src/local-system.js';

const LOADTEST_DIR = fileURLToPath(new URL('../', import.meta.url));

/** The CLI as users run it; resolves with its exit code and output. */
async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=@booking/source', '--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: LOADTEST_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

t.test('the CLI prints help, and refuses bad options with exit code 2', async (t) => {
  const help = await cli(['--', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /pnpm loadtest -- \[options\]/);
  const bad = await cli(['--buyers', 'many', '--follow', 'maybe']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--buyers must be an integer/);
  t.match(bad.stderr, /--follow must be longpoll or poll/);
  const down = await cli(['--url', 'http://127.0.0.1:9', '--quiet']);
  t.equal(down.code, 3, 'an API that does not answer is exit code 3, not a verdict');
  t.match(down.stderr, /not ready/);
});

t.test('a small flash sale against the real system passes', async (t) => {
  const sys = await startLocalSystem({ workers: 1 });
  t.teardown(async () => {
    const codes = await sys.stop(!t.passing());
    // Assertions cannot run in teardown; an unclean exit on SIGTERM fails the test by throwing.
    if (codes.some((c) => c !== 0)) {
      throw new Error(`API and worker exited with ${codes.join(', ')} on SIGTERM:\n${sys.api.output()}\n---\n${sys.workers.map((w) => w.output()).join('\n---\n')}`);
    }
  });

  // 300 buyers for 50 seats (30 GA + 20 assigned), 2-second holds, every kind of buyer.
  const options = resolveOptions({
    url: sys.url,
    adminToken: ADMIN_TOKEN,
    layout: { ga: [{ code: 'GA', capacity: 30, priceCents: 4500 }], seating: { sections: 1, rows: 4, seatsPerRow: 5, tier: 'SEAT', priceCents: 9000 }, holdTtlSeconds: 2 },
    buyers: 300,
    concurrency: 50,
    quantity: { min: 1, max: 3 },
    exactSeatsShare: 0.3,
    retryShare: 0.2,
    confirmShare: 0.3,
    declineShare: 0.15,
    cancelShare: 0.15,
    abandonShare: 0.3,
    seed: 7,
    releaseTimeoutMs: 8000,
  });
  const phases = new Set<string>();
  const result = await runLoadTest(options, { onProgress: (p: ProgressSnapshot) => phases.add(p.phase), progressIntervalMs: 50 });
  const f = result.figures;
  t.same(result.verdict.reasons, [], 'no violations');
  t.equal(result.verdict.pass, true, 'PASS');
  t.same(result.verdict.notes, []);
  t.equal(f.buyers, 300);
  t.equal(f.bookings, 300, 'every buyer was accepted');
  t.ok(f.acceptedRequests > 300, 'retries were answered too');
  t.equal(f.decided, 300, 'and saw its decision');
  t.equal(f.held + f.rejected, 300);
  t.ok(f.held >= 10, `at least the 30 GA units were held, 3 at most per booking (${f.held} held)`);
  t.ok(f.rejected > 0, 'an oversubscribed sale rejects');
  t.ok((f.rejections.SOLD_OUT ?? 0) + (f.rejections.SEATS_UNAVAILABLE ?? 0) === f.rejected, `rejections are sold out or taken seats: ${JSON.stringify(f.rejections)}`);
  t.ok(f.releaseLagMs.count > 0, 'abandoned holds were released and measured');
  t.equal(f.releasesMissed, 0);
  t.equal(f.releaseObservedLagMs.count, f.releaseLagMs.count);
  t.ok((f.actions.confirm?.['200'] ?? 0) > 0, 'some confirmed');
  t.ok((f.actions.decline?.['402 PAYMENT_DECLINED'] ?? 0) > 0, 'some were declined');
  t.ok((f.actions.cancel?.['200'] ?? 0) > 0, 'some cancelled');
  t.same(f.serverErrors, {});
  t.equal(f.timeouts, 0);
  t.equal(f.networkErrors, 0);
  t.ok(f.acceptLatencyMs.count > 0 && f.acceptLatencyMs.p99! >= f.acceptLatencyMs.p50!, 'accept latency percentiles are ordered');
  t.ok(f.decisionLatencyMs.count === 300);
  t.ok(f.polls > 0 && f.pollsPerSec! > 0);
  t.ok(f.acceptedPerSec! > 0 && f.decisionsPerSec! > 0);
  t.not(f.timeToSellOutMs, null, 'the GA tier sold out');
  t.same(result.verdict.finalStatuses.PENDING, undefined);
  t.same([...phases].filter((p) => p !== 'releases'), ['setup', 'buyers', 'verify', 'done']);
  t.equal(result.options.adminToken, '(hidden)', 'the token is not in the result');

  const series = result.series;
  const sum = (k: string) => series.counts[k]!.reduce((a, b) => a + b, 0);
  t.equal(sum('accepted'), f.acceptedRequests, 'the time series holds every accepted answer');
  t.equal(sum('held') + sum('rejected'), 300);

  const dir = await mkdtemp(join(tmpdir(), 'loadtest-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const paths = await writeReport(dir, result);
  const saved = JSON.parse(await readFile(paths.json, 'utf8'));
  t.equal(saved.verdict.pass, true);
  const html = await readFile(paths.html, 'utf8');
  t.match(html, /<svg|createElementNS/);
  t.notMatch(html, /<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org\/2000\/svg)[a-z]/i, 'nothing is loaded from the network');

  await t.test('the CLI prints the result as JSON and exits 0 on PASS', async (t) => {
    const run = await cli(['--url', sys.url, '--admin-token', ADMIN_TOKEN, '--buyers', '40', '--concurrency', '10', '--ga-capacity', '20', '--hold-ttl', '1', '--json']);
    t.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout);
    t.equal(out.verdict.pass, true);
    t.equal(out.figures.bookings, 40);
    t.equal(run.stderr, '', 'not a terminal: no progress line');
  });
});
