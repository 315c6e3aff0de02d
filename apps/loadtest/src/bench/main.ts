// `pnpm bench`: starts a fresh local system (API + W workers, new database and queue prefix),
// runs the standard scenarios with the load tester, measures the baselines in the same run,
// and prints one table (figures beside their baseline, as ratios). See docs/benchmarks.md.
import { cpus, totalmem } from 'node:os';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { startAudience } from '../audience.js';
import { resolveOptions, runLoadTest, type LoadTestOverrides, type LoadTestResult } from '../index.js';
import { hammer, holdTransactionBaseline, redisGetBaseline } from './baselines.js';
import { PARTS, cpuTotals, cpuUsed } from './cpu.js';
import { Redis } from 'ioredis';
import { ADMIN_TOKEN, REDIS_URL, startLocalSystem, type LocalSystem } from '../local-system.js';

const SCENARIOS = ['hot', 'seatmap', 'many', 'polling', 'expiry', 'accept', 'clients', 'watchers'] as const;
type Scenario = (typeof SCENARIOS)[number];

const HELP = `pnpm bench -- [options]

  --workers W        worker processes (default 2)
  --scenario NAME    run one scenario: ${SCENARIOS.join(', ')} (default: all)
  --scale F          multiply every buyer count by F (e.g. 0.1 for a quick look; default 1)
  --write FILE       also write the table, the command and the machine to FILE (markdown)
  --cpu-prof DIR     write a V8 CPU profile of the API and of each worker to DIR (open in
                     Chrome DevTools or speedscope) when the system stops
  -h, --help         this text
`;

interface Row {
  scenario: string;
  figure: string;
  value: string;
  baseline?: string;
  ratio?: string;
}

const fmt = (n: number | null | undefined, digits = 0) => (n == null || Number.isNaN(n) ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? `${(a / b).toFixed(2)}×` : 'n/a');
const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);

function verdictRow(name: string, r: LoadTestResult): Row {
  const errors = Object.values(r.figures.serverErrors).reduce((a, b) => a + b, 0);
  return {
    scenario: name,
    figure: 'verdict',
    value: `${r.verdict.pass ? 'PASS' : 'FAIL'} (5xx ${errors}, timeouts ${r.figures.timeouts})${r.verdict.pass ? '' : `: ${r.verdict.reasons.join('; ')}`}`,
  };
}

async function load(sys: LocalSystem, o: LoadTestOverrides): Promise<LoadTestResult> {
  return runLoadTest(resolveOptions({ url: sys.url, adminToken: ADMIN_TOKEN, quiet: true, retryShare: 0, ...o }));
}

/** Creates a show through the API (admin), with the bench's defaults for what is not given. */
async function createShow(sys: LocalSystem, o: { seating?: unknown[]; generalAdmission?: unknown[] }): Promise<{ id: string; version: number }> {
  const tiers = [{ code: 'SEAT', name: 'Seated', priceCents: 6000, currency: 'EUR' }, { code: 'GA', name: 'Standing', priceCents: 4500, currency: 'EUR' }];
  const res = await fetch(`${sys.url}/v1/shows`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ name: 'bench', venue: 'bench', startsAt: '2031-01-01T20:00:00Z', holdTtlSeconds: 600, tiers, ...o }),
  });
  if (res.status !== 201) throw new Error(`creating the bench show: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; version: number };
}

/** Resident memory of a process (Linux /proc), in KiB; null elsewhere. */
async function rssKb(pid: number | undefined): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null);
  const m = status && /^VmRSS:\s+(\d+) kB/m.exec(status);
  return m ? Number(m[1]) : null;
}

/** The API's event-loop delay since the last scrape (prom-client resets it when scraped), in seconds. */
async function apiEventLoop(url: string): Promise<{ p99: number; max: number } | null> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text(), () => '');
  const p99 = /^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text)?.[1];
  const max = /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1];
  return p99 && max ? { p99: Number(p99), max: Number(max) } : null;
}

async function main() {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== '--'),
    options: {
      workers: { type: 'string' },
      scenario: { type: 'string' },
      scale: { type: 'string' },
      write: { type: 'string' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const workers = Number(values.workers ?? 2);
  const scale = Number(values.scale ?? 1);
  const only = values.scenario as Scenario | undefined;
  if (!Number.isInteger(workers) || workers < 1) throw new Error('--workers must be a positive integer');
  if (!(scale > 0)) throw new Error('--scale must be a positive number');
  if (only && !SCENARIOS.includes(only)) throw new Error(`--scenario must be one of ${SCENARIOS.join(', ')}`);
  const n = (x: number) => Math.max(10, Math.round(x * scale));
  const runs = (s: Scenario) => !only || only === s;

  const profileDir = values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined;
  const start = () => {
    say(`starting the API and ${workers} worker process(es) on loopback (fresh database and queue prefix)`);
    return startLocalSystem({ workers, nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [] });
  };
  let sys = await start();
  let used = false;
  const stopped: (number | null)[] = [];
  // Every scenario gets a system of its own: one left behind by another (tens of thousands of
  // live holds and seats, a warm or bloated database) would change what the next one measures,
  // and a full run should give the figures each `--scenario` gives alone.
  const fresh = async () => {
    if (used) {
      stopped.push(...(await sys.stop()));
      sys = await start();
    }
    used = true;
    // New processes are cold (JIT, connection pools, caches): a short unrecorded load on a show
    // of its own first, so every scenario measures the system warm.
    say('warming up: 500 buyers on a show of their own (not recorded)');
    await load(sys, { buyers: 500, concurrency: 100, layout: { ga: [{ code: 'GA', capacity: 500, priceCents: 4500 }], holdTtlSeconds: 5 } });
  };
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const rows: Row[] = [];
  const push = rows.push.bind(rows);
  // Each figure is printed as soon as it is measured, so a long run shows progress and a
  // failure late in the run keeps what came before.
  rows.push = (...added: Row[]) => {
    for (const r of added) say(`${r.scenario} | ${r.figure} | ${r.value}${r.ratio ? ` | ${r.ratio} of ${r.baseline}` : ''}`);
    return push(...added);
  };
  let hotDecisions: number | null = null;
  /**
   * Runs one measured load, and gives with its result a row of what each process used meanwhile
   * (/proc, Linux; none elsewhere): on two cores shared by everything, this says what held them.
   */
  const measured = async <T>(scenario: string, run: () => Promise<T>): Promise<[T, Row[]]> => {
    const pids = () => ({ api: sys.api.child.pid, workers: sys.workers.map((w) => w.child.pid) });
    const before = await cpuTotals(pids());
    const started = performance.now();
    const out = await run();
    const after = await cpuTotals(pids());
    if (!before || !after) return [out, []];
    const used = cpuUsed(before, after);
    const value = `${PARTS.map((p) => fmt(used[p], 1)).join(' / ')} (${fmt((performance.now() - started) / 1000, 1)})`;
    return [out, [{ scenario, figure: 'CPU seconds: API / workers / Postgres / Redis / load generator (wall s)', value }]];
  };
  try {
    // Baseline (a), measured first, on the same database: the ceiling of one hold per transaction.
    let dbCeiling1 = 0;
    let dbCeiling32 = 0;
    if (runs('hot') || runs('many') || runs('seatmap')) {
      say('baseline (a): the hold transaction alone, postgres.js, no HTTP, no queue');
      dbCeiling1 = await holdTransactionBaseline(sys.db.url, { concurrency: 1, commands: n(3000), capacity: 20_000 });
      dbCeiling32 = await holdTransactionBaseline(sys.db.url, { concurrency: 32, commands: n(10_000), capacity: 50_000 });
      rows.push({ scenario: 'baseline (a)', figure: 'hold transactions/s, 1 at a time (what strict FIFO allows one show)', value: fmt(dbCeiling1) });
      rows.push({ scenario: 'baseline (a)', figure: 'hold transactions/s, 32 at a time', value: fmt(dbCeiling32) });
      used = true;
    }

    if (runs('hot')) {
      await fresh();
      say(`hot show: ${n(20_000)} buyers, 500 concurrent, 5,000 GA seats, quantity 1-4`);
      const [r, cpu] = await measured('hot show', () => load(sys, { buyers: n(20_000), concurrency: 500, layout: { ga: [{ code: 'GA', capacity: 5000, priceCents: 4500 }], holdTtlSeconds: 5 } }));
      hotDecisions = r.figures.decisionsPerSec;
      const f = r.figures;
      rows.push({ scenario: 'hot show', figure: 'decisions/s', value: fmt(f.decisionsPerSec), baseline: `${fmt(dbCeiling1)} (a, 1 at a time)`, ratio: ratio(f.decisionsPerSec, dbCeiling1) });
      rows.push({ scenario: 'hot show', figure: 'decisions/s vs (a) at 32 in parallel', value: fmt(f.decisionsPerSec), baseline: fmt(dbCeiling32), ratio: ratio(f.decisionsPerSec, dbCeiling32) });
      rows.push({ scenario: 'hot show', figure: 'accepted requests/s', value: fmt(f.acceptedPerSec) });
      rows.push({ scenario: 'hot show', figure: 'accept latency p50 / p99 / max (ms)', value: `${fmt(f.acceptLatencyMs.p50, 1)} / ${fmt(f.acceptLatencyMs.p99, 1)} / ${fmt(f.acceptLatencyMs.max, 1)}` });
      rows.push({ scenario: 'hot show', figure: 'decision latency p50 / p99 / max (ms)', value: `${fmt(f.decisionLatencyMs.p50, 1)} / ${fmt(f.decisionLatencyMs.p99, 1)} / ${fmt(f.decisionLatencyMs.max, 1)}` });
      rows.push({ scenario: 'hot show', figure: 'time to sell out (s)', value: fmt((f.timeToSellOutMs ?? NaN) / 1000, 2) });
      rows.push(verdictRow('hot show', r));
      rows.push(...cpu);
    }

    if (runs('seatmap')) {
      await fresh();
      say(`seat map: 2,000 assigned seats, ${n(5000)} buyers asking for 1-4 exact seats among the best 300`);
      const [r, cpu] = await measured('seat map', () => load(sys, {
        buyers: n(5000),
        concurrency: 200,
        exactSeatsShare: 1,
        hotBlock: 300,
        layout: { ga: [], seating: { sections: 4, rows: 20, seatsPerRow: 25, tier: 'SEAT', priceCents: 6000 }, holdTtlSeconds: 5 },
      }));
      rows.push({ scenario: 'seat map', figure: 'decisions/s', value: fmt(r.figures.decisionsPerSec), baseline: fmt(dbCeiling1), ratio: ratio(r.figures.decisionsPerSec, dbCeiling1) });
      rows.push({ scenario: 'seat map', figure: 'decision latency p99 (ms)', value: fmt(r.figures.decisionLatencyMs.p99, 1) });
      rows.push(verdictRow('seat map', r));
      rows.push(...cpu);
    }

    if (runs('many')) {
      await fresh();
      say(`many shows: 200 shows × 100 seats, ${n(20_000)} buyers (as many as the hot show) spread over them`);
      const [r, cpu] = await measured('many shows', () => load(sys, { shows: 200, buyers: n(20_000), concurrency: 500, layout: { ga: [{ code: 'GA', capacity: 100, priceCents: 4500 }], holdTtlSeconds: 5 } }));
      rows.push({ scenario: 'many shows', figure: 'decisions/s (all shows)', value: fmt(r.figures.decisionsPerSec), baseline: hotDecisions ? `${fmt(hotDecisions)} (hot show)` : undefined, ratio: ratio(r.figures.decisionsPerSec, hotDecisions) });
      rows.push({ scenario: 'many shows', figure: 'decision latency p99 (ms)', value: fmt(r.figures.decisionLatencyMs.p99, 1) });
      rows.push(verdictRow('many shows', r));
      rows.push(...cpu);
    }

    if (runs('polling')) {
      await fresh();
      say('polling: 2,000 live bookings polled by 500 clients for 20 s (plain, then If-None-Match)');
      const setup = await load(sys, { buyers: 2000, concurrency: 200, quantity: { min: 1, max: 1 }, confirmShare: 0, declineShare: 0, cancelShare: 0, abandonShare: 0, layout: { ga: [{ code: 'GA', capacity: 5000, priceCents: 4500 }], holdTtlSeconds: 3600 } });
      const docs = await Promise.all(
        (await redis.keys(`${sys.prefix}:booking:*`)).slice(0, 2000).map(async (k) => JSON.parse((await redis.get(k))!) as { id: string; version: number }),
      );
      const paths = docs.map((d) => `/v1/bookings/${d.id}`);
      const [plain, cpu] = await measured('polling (plain GET)', () => hammer(sys.url, paths, { clients: 500, seconds: 20 * Math.min(1, scale * 2) }));
      const cached = await hammer(sys.url, paths, { clients: 500, seconds: 20 * Math.min(1, scale * 2), headers: (i) => ({ 'if-none-match': `"${docs[i]!.version}"` }) });
      say('baseline (b): a bare Fastify route answering from one Redis GET');
      const base = await redisGetBaseline({ clients: 500, seconds: 10 * Math.min(1, scale * 2) });
      rows.push({ scenario: 'polling', figure: 'GET /v1/bookings/:id requests/s (p99 ms)', value: `${fmt(plain.rps)} (${fmt(plain.p99, 1)})`, baseline: `${fmt(base.rps)} (b)`, ratio: ratio(plain.rps, base.rps) });
      rows.push({ scenario: 'polling', figure: 'same with If-None-Match → 304, requests/s (p99 ms)', value: `${fmt(cached.rps)} (${fmt(cached.p99, 1)})`, baseline: `${fmt(base.rps)} (b)`, ratio: ratio(cached.rps, base.rps) });
      rows.push({ scenario: 'polling', figure: 'answers', value: `${JSON.stringify(plain.statuses)} / ${JSON.stringify(cached.statuses)}` });
      rows.push(verdictRow('polling setup', setup));
      rows.push(...cpu);
    }

    if (runs('expiry')) {
      await fresh();
      say(`expiry: ${n(5000)} holds with a 5-second TTL, none confirmed`);
      const [r, cpu] = await measured('expiry', () => load(sys, {
        buyers: n(5000),
        concurrency: 500,
        quantity: { min: 1, max: 1 },
        confirmShare: 0,
        declineShare: 0,
        cancelShare: 0,
        abandonShare: 1,
        layout: { ga: [{ code: 'GA', capacity: Math.max(n(5000), 10), priceCents: 4500 }], holdTtlSeconds: 5 },
      }));
      const f = r.figures;
      rows.push({ scenario: 'expiry', figure: 'hold-release lag p50 / p99 / max (ms)', value: `${fmt(f.releaseLagMs.p50, 1)} / ${fmt(f.releaseLagMs.p99, 1)} / ${fmt(f.releaseLagMs.max, 1)}` });
      rows.push({ scenario: 'expiry', figure: 'releases missed', value: fmt(f.releasesMissed) });
      rows.push(verdictRow('expiry', r));
      rows.push(...cpu);
    }

    if (runs('accept')) {
      await fresh();
      // The closed-loop warm-up leaves the open-loop path cold (the load generator's scheduler,
      // the connections a long-poll per buyer holds open): the first point measured after it
      // had p99 95 ms where the same point run again had 45 ms. One unrecorded second first.
      // One-seat holds nobody acts on, with enough seats that none is refused, and no more:
      // creating 100,000 seats per point left Postgres inserting, then vacuuming and analysing,
      // while the next point was measured.
      const openLoop = (rate: number, buyers: number) =>
        load(sys, { mode: 'open', rate, buyers, quantity: { min: 1, max: 1 }, confirmShare: 0, declineShare: 0, cancelShare: 0, abandonShare: 0, layout: { ga: [{ code: 'GA', capacity: buyers, priceCents: 4500 }], holdTtlSeconds: 600 } });
      say('warming up the open loop: 500 arrivals/s for 1 s (not recorded)');
      await openLoop(500, 500);
      let best: number | null = null;
      // From well below the target up: the highest rate with p99 ≤ 20 ms is reported even when
      // it is below 500/s, as it has been on this project's slower hosts.
      for (const rate of [100, 250, 500, 1000, 1500, 2000, 2500, 3000]) {
        say(`accept latency: open loop at ${rate} arrivals/s for 5 s`);
        const buyers = Math.max(10, Math.round(rate * 5 * Math.min(1, scale * 2)));
        const point = () => openLoop(rate, buyers);
        const [r, cpu] = rate === 500 ? await measured('accept latency, 500/s', point) : [await point(), []];
        const p99 = r.figures.acceptLatencyMs.p99;
        if (p99 != null && p99 <= 20) best = rate;
        rows.push({ scenario: 'accept latency', figure: `open loop ${rate}/s: accept p50 / p99 (ms)`, value: `${fmt(r.figures.acceptLatencyMs.p50, 1)} / ${fmt(p99, 1)}${r.verdict.pass ? '' : ' (verdict FAIL)'}` });
        rows.push(...cpu);
      }
      rows.push({ scenario: 'accept latency', figure: 'highest arrival rate with p99 ≤ 20 ms', value: best ? `${best}/s` : 'below 100/s' });
    }

    if (runs('clients')) {
      await fresh();
      say(`5,000 concurrent closed-loop clients, ${n(10_000)} buyers`);
      const [r, cpu] = await measured('5,000 clients', () => load(sys, { buyers: n(10_000), concurrency: 5000, quantity: { min: 1, max: 2 }, layout: { ga: [{ code: 'GA', capacity: 5000, priceCents: 4500 }], holdTtlSeconds: 5 } }));
      const f = r.figures;
      rows.push({ scenario: '5,000 clients', figure: 'accept p50 / p99 / max (ms)', value: `${fmt(f.acceptLatencyMs.p50, 1)} / ${fmt(f.acceptLatencyMs.p99, 1)} / ${fmt(f.acceptLatencyMs.max, 1)}` });
      rows.push({ scenario: '5,000 clients', figure: 'errors (network) / timeouts', value: `${fmt(f.networkErrors)} / ${fmt(f.timeouts)}` });
      rows.push(verdictRow('5,000 clients', r));
      rows.push(...cpu);
    }
    if (runs('watchers')) {
      // (1) The crowd's first question, "how many seats are left", of a 20,000-seat show.
      await fresh();
      say('watchers: GET /v1/shows/:id of a 20,000-seat show (5,000 assigned + 15,000 GA), 50 clients, 10 s');
      const big = await createShow(sys, { seating: [{ section: 'A', tier: 'SEAT', rows: 50, seatsPerRow: 100 }], generalAdmission: [{ tier: 'GA', capacity: 15_000 }] });
      const seconds = 10 * Math.min(1, scale * 2);
      const plain = await hammer(sys.url, [`/v1/shows/${big.id}`], { clients: 50, seconds });
      const cached = await hammer(sys.url, [`/v1/shows/${big.id}`], { clients: 50, seconds, headers: () => ({ 'if-none-match': `"${big.version}"` }) });
      say('baseline (b): a bare Fastify route answering from one Redis GET, 50 clients');
      const base = await redisGetBaseline({ clients: 50, seconds });
      rows.push({ scenario: 'watchers', figure: 'GET /v1/shows/:id (20,000 seats) requests/s (p99 ms)', value: `${fmt(plain.rps)} (${fmt(plain.p99, 1)})`, baseline: `${fmt(base.rps)} (b)`, ratio: ratio(plain.rps, base.rps) });
      rows.push({ scenario: 'watchers', figure: 'same with If-None-Match → 304, requests/s (p99 ms)', value: `${fmt(cached.rps)} (${fmt(cached.p99, 1)})`, baseline: `${fmt(base.rps)} (b)`, ratio: ratio(cached.rps, base.rps) });
      rows.push({ scenario: 'watchers', figure: 'answers', value: `${JSON.stringify(plain.statuses)} / ${JSON.stringify(cached.statuses)}` });

      // (2) The hot show's sale alone, then with the crowd watching it, each on a fresh system.
      const hot: LoadTestOverrides = { buyers: n(20_000), concurrency: 500, layout: { ga: [{ code: 'GA', capacity: 5000, priceCents: 4500 }], holdTtlSeconds: 5 } };
      const watchers = Math.round(1000 * Math.min(1, scale * 2));
      await fresh();
      say(`watchers: the hot show alone (${n(20_000)} buyers)`);
      const alone = await load(sys, hot);
      await fresh();
      say(`watchers: the same sale with ${watchers} SSE watchers and 200 clients polling the show with If-None-Match once a second`);
      const [crowd, cpu] = await measured('watchers', () => load(sys, { ...hot, watchers, showPollers: 200 }));
      const a = crowd.figures.audience;
      rows.push({ scenario: 'watchers', figure: 'hot show alone: decisions/s', value: fmt(alone.figures.decisionsPerSec) });
      rows.push({ scenario: 'watchers', figure: `hot show with ${watchers} streams + 200 pollers (1/s each): decisions/s`, value: fmt(crowd.figures.decisionsPerSec), baseline: `${fmt(alone.figures.decisionsPerSec)} (alone)`, ratio: ratio(crowd.figures.decisionsPerSec, alone.figures.decisionsPerSec) });
      rows.push({ scenario: 'watchers', figure: 'decision latency p99 alone / watched (ms)', value: `${fmt(alone.figures.decisionLatencyMs.p99, 1)} / ${fmt(crowd.figures.decisionLatencyMs.p99, 1)}` });
      rows.push({ scenario: 'watchers', figure: 'streams / events received / show polls (per s) / answers', value: a ? `${fmt(a.streams)} / ${JSON.stringify(a.events)} / ${fmt(a.showPolls)} (${fmt(a.showPollsPerSec)}) / ${JSON.stringify(a.showPollStatuses)}${Object.keys(a.streamErrors).length ? ` / errors ${JSON.stringify(a.streamErrors)}` : ''}` : 'n/a' });
      rows.push(verdictRow('watchers (alone)', alone));
      rows.push(verdictRow('watchers (watched)', crowd));
      rows.push(...cpu);
      // The same pollers with no pause at all: a stress of GET /v1/shows/:id during the sale, not a crowd of pages.
      await fresh();
      say('watchers: the same sale with the 200 pollers back to back (no interval)');
      const hammered = await load(sys, { ...hot, watchers, showPollers: 200, showPollIntervalMs: 0 });
      const h = hammered.figures.audience;
      rows.push({ scenario: 'watchers', figure: `hot show with ${watchers} streams + 200 back-to-back pollers: decisions/s (show polls/s)`, value: `${fmt(hammered.figures.decisionsPerSec)} (${fmt(h?.showPollsPerSec)})`, baseline: `${fmt(alone.figures.decisionsPerSec)} (alone)`, ratio: ratio(hammered.figures.decisionsPerSec, alone.figures.decisionsPerSec) });
      rows.push(verdictRow('watchers (hammered)', hammered));

      // (3) SSE lag and fan-out: a seat-map sale whose every hold is a `seats` event to each stream.
      await fresh();
      const layout = { ga: [], seating: { sections: 4, rows: 20, seatsPerRow: 25, tier: 'SEAT', priceCents: 6000 }, holdTtlSeconds: 5 };
      const idle = await createShow(sys, { seating: [{ section: 'A', tier: 'SEAT', rows: 10, seatsPerRow: 10 }] });
      const rssBefore = await rssKb(sys.api.child.pid);
      const audience = await startAudience({ url: sys.url, showIds: [idle.id], watchers, pollers: 0, pollIntervalMs: 0 });
      await new Promise((r) => setTimeout(r, 1000));
      const rssAfter = await rssKb(sys.api.child.pid);
      await audience.stop();
      rows.push({ scenario: 'watchers', figure: 'API memory per open stream (RSS, KiB)', value: rssBefore && rssAfter ? fmt((rssAfter - rssBefore) / Math.max(1, watchers), 1) : 'n/a' });
      const lagRows = async (what: string, o: LoadTestOverrides) => {
        await apiEventLoop(sys.url); // resets the API's event-loop histogram
        say(`watchers: SSE lag, ${what}, with ${watchers} streams on the show`);
        const r = await load(sys, { exactSeatsShare: 1, layout, watchers, ...o });
        const loop = await apiEventLoop(sys.url);
        const lag = r.figures.audience?.sseLagMs;
        rows.push({ scenario: 'watchers', figure: `SSE lag (commit → seats event), ${what}, ${watchers} streams: p50 / p99 / max (ms)`, value: lag ? `${fmt(lag.p50, 1)} / ${fmt(lag.p99, 1)} / ${fmt(lag.max, 1)} (${fmt(lag.count)} samples)` : 'n/a' });
        rows.push({ scenario: 'watchers', figure: `API event-loop delay meanwhile: p99 / max (ms); decisions/s`, value: `${loop ? `${fmt(loop.p99 * 1000, 1)} / ${fmt(loop.max * 1000, 1)}` : 'n/a'}; ${fmt(r.figures.decisionsPerSec)}` });
        rows.push(verdictRow(`watchers (${what})`, r));
      };
      await lagRows('a steady on-sale of 200 exact-seat buyers/s', { mode: 'open', rate: 200, buyers: n(2000) });
      await lagRows(`a seat-map sale as fast as it goes (${n(5000)} buyers)`, { buyers: n(5000), concurrency: 200 });
    }
  } finally {
    say('stopping the system');
    await redis.quit();
    const codes = [...stopped, ...(await sys.stop())];
    if (codes.some((c) => c !== 0)) say(`a process did not exit 0 on SIGTERM: ${codes.join(', ')}`);
  }

  const table = [
    '| scenario | figure | value | baseline (same run) | ratio |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.scenario} | ${r.figure} | ${r.value} | ${r.baseline ?? ''} | ${r.ratio ?? ''} |`),
  ].join('\n');
  process.stdout.write(`${table}\n`);
  if (values.write) {
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
    const command = `pnpm bench -- ${process.argv.slice(2).filter((a) => a !== '--').join(' ')}`.trim();
    // pnpm runs this in apps/loadtest; a relative path means where the command was typed.
    await writeFile(resolve(process.env.INIT_CWD ?? process.cwd(), values.write), `# Benchmarks\n\nLatest run: ${new Date().toISOString()}\n\n- command: \`${command}\`\n- machine: ${machine}; API, ${workers} worker(s), Postgres, Redis and the load generator all on it\n\n${table}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
