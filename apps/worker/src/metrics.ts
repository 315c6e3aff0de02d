import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { RejectionCodes, type Booking } from '@booking/contracts';
import type { Decision } from '@booking/db';

/** Jobs in one show's queue: waiting (wait list + prioritized holds), active, delayed (hold expiries). */
export interface QueueDepth {
  showId: string;
  waiting: number;
  active: number;
  delayed: number;
}

/** What the metrics read from ShowWorkers at scrape time (nothing is sampled between scrapes). */
export interface ShowsSource {
  readonly attachedCount: number;
  queueDepths(): Promise<QueueDepth[]>;
}

export interface WorkerMetrics {
  readonly registry: Registry;
  /** Holds just committed: fresh decisions by outcome and their latency from acceptance (replays are skipped). */
  holdsDecided(decisions: readonly Decision[]): void;
  /** Holds just released (HELD → EXPIRED) by their delayed job or by the sweep. */
  holdsReleased(bookings: readonly Booking[], by: 'expiry' | 'sweep'): void;
  /** A transaction committed the work of `size` jobs (group commit; 1 = a job alone). */
  transactionCommitted(size: number): void;
  /** Where shows attached and queue depths come from. */
  trackShows(source: ShowsSource): void;
  /** Where "is Postgres reachable" comes from (the worker's DbGate). */
  trackDatabase(source: { readonly up: boolean }): void;
}

export interface WorkerMetricsOptions {
  registry?: Registry;
  /** Shows with their own queue-depth series; the rest are summed under show="_other". */
  topShows?: number;
  /** A scrape gives up on queue depths after this long (Redis down must not hang it). */
  depthTimeoutMs?: number;
}

/** Label of the queue-depth series that sums every show outside the top N. */
export const OTHER_SHOWS = '_other';
const STATES = ['waiting', 'active', 'delayed'] as const;
const seconds = (from: string, to: string) => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

/**
 * The worker's Prometheus metrics, on a registry of their own (never the global one), so tests
 * can build several in one process. Recording is a counter increment and a histogram observation
 * per decided booking; queue depths cost one pipelined Redis round trip, and only when scraped.
 */
export function createWorkerMetrics(opts: WorkerMetricsOptions = {}): WorkerMetrics {
  const registry = opts.registry ?? new Registry();
  const topShows = opts.topShows ?? 20;
  const depthTimeoutMs = opts.depthTimeoutMs ?? 1000;
  collectDefaultMetrics({ register: registry });
  let shows: ShowsSource | null = null;
  let database: { readonly up: boolean } | null = null;

  const decisions = new Counter({
    name: 'booking_worker_decisions_total',
    help: 'Booking requests decided (once each; replays are not counted), by outcome: HELD or the rejection code',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const decisionLatency = new Histogram({
    name: 'booking_worker_decision_latency_seconds',
    help: "Time from a booking's acceptance by the API to its decision (database time of the HELD/REJECTED transition)",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  const releaseLag = new Histogram({
    name: 'booking_worker_hold_release_lag_seconds',
    help: "Time from a hold's expiresAt to its release (database time), by what released it: its delayed job or the sweep",
    labelNames: ['by'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const sweepReleases = new Counter({
    name: 'booking_worker_sweep_releases_total',
    help: 'Expired holds released by the safety-net sweep (their delayed job was lost or very late)',
    registers: [registry],
  });
  const groupSize = new Histogram({
    name: 'booking_worker_transaction_jobs',
    help: 'Jobs whose work one transaction carried (group commit across shows; 1 = a job alone)',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [registry],
  });
  new Gauge({
    name: 'booking_worker_shows_attached',
    help: 'Show queues this worker process is attached to',
    registers: [registry],
    collect() {
      this.set(shows?.attachedCount ?? 0);
    },
  });
  new Gauge({
    name: 'booking_worker_postgres_up',
    help: 'Whether this worker can reach Postgres (0 during an outage: its queues are paused and active jobs wait)',
    registers: [registry],
    collect() {
      this.set(database === null || database.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'booking_worker_queue_depth',
    help: `Jobs in show queues by state, for the ${topShows} shows with the most jobs; the rest summed as show="${OTHER_SHOWS}". Every worker sees the same queues: aggregate with max, not sum`,
    labelNames: ['show', 'state'],
    registers: [registry],
    async collect() {
      const depths = shows ? await withTimeout(shows.queueDepths(), depthTimeoutMs).catch(() => null) : null;
      // Reset after the await: shows that left the top N (or emptied) must not linger.
      this.reset();
      if (!depths) return;
      const total = (d: QueueDepth) => d.waiting + d.active + d.delayed;
      const ranked = depths.filter((d) => total(d) > 0).sort((a, b) => total(b) - total(a));
      const other = { waiting: 0, active: 0, delayed: 0 };
      ranked.forEach((d, i) => {
        for (const state of STATES) {
          if (i < topShows) this.set({ show: d.showId, state }, d[state]);
          else other[state] += d[state];
        }
      });
      for (const state of STATES) this.set({ show: OTHER_SHOWS, state }, other[state]);
    },
  });

  // Label children bound once: the hot path is then an increment and an observation.
  const outcomes = new Map([['HELD', decisions.labels('HELD')], ...Object.keys(RejectionCodes).map((c) => [c, decisions.labels(c)] as const)]);
  const otherOutcome = decisions.labels('OTHER');
  for (const child of outcomes.values()) child.inc(0); // every known outcome is a series from the start
  const lagBy = { expiry: releaseLag.labels('expiry'), sweep: releaseLag.labels('sweep') };

  return {
    registry,
    holdsDecided(list) {
      for (const { booking, changed } of list) {
        if (!changed || !booking || (booking.status !== 'HELD' && booking.status !== 'REJECTED')) continue;
        const outcome = booking.status === 'HELD' ? 'HELD' : (booking.rejection?.code ?? '');
        (outcomes.get(outcome) ?? otherOutcome).inc();
        const decidedAt = booking.transitions.find((t) => t.status === booking.status)?.at;
        if (decidedAt) decisionLatency.observe(seconds(booking.createdAt, decidedAt));
      }
    },
    holdsReleased(bookings, by) {
      for (const b of bookings) {
        const releasedAt = b.transitions.find((t) => t.status === 'EXPIRED')?.at;
        if (b.expiresAt && releasedAt) lagBy[by].observe(seconds(b.expiresAt, releasedAt));
      }
      if (by === 'sweep') sweepReleases.inc(bookings.length);
    },
    transactionCommitted(size) {
      groupSize.observe(size);
    },
    trackShows(source) {
      shows = source;
    },
    trackDatabase(source) {
      database = source;
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `GET /metrics` on its own tiny HTTP server (the worker has no other HTTP surface), on every
 * interface so Prometheus can reach it from another container. Rejects if the port is taken.
 */
export async function startMetricsServer(registry: Registry, port: number): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Prometheus keeps its connection alive between scrapes; do not wait for it.
        server.closeAllConnections();
      }),
  };
}
