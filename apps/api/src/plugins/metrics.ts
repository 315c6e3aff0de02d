import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ApiMetrics;
  }
}

export interface ApiMetrics {
  /** This app's registry (never prom-client's global one: several apps may share a process). */
  readonly registry: Registry;
  /** A new booking was accepted: PENDING stored and its hold enqueued (an idempotent repeat is not). */
  bookingAccepted(): void;
  /** A status read was answered from Redis, or had to go to Postgres. */
  statusRead(source: 'redis' | 'postgres'): void;
}

/** The route label of requests that matched no route: never the raw URL, which is unbounded. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Prometheus metrics of the API. Per request the cost is one histogram observation (labels:
 * method, the route's pattern, status code); long-poll waiters are counted only when scraped.
 * Registered before the routes, so its onResponse hook sees them all.
 */
export const metricsPlugin = fp(async (app: FastifyInstance) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const httpDuration = new Histogram({
    name: 'booking_api_http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status code, with their duration (a long-poll includes its wait)',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const accepted = new Counter({
    name: 'booking_api_bookings_accepted_total',
    help: 'Booking requests accepted (202/201): stored as PENDING and queued for a decision; idempotent repeats are not counted',
    registers: [registry],
  });
  const statusReads = new Counter({
    name: 'booking_api_status_reads_total',
    help: 'Booking status reads by where they were answered: redis (the status document) or postgres (fallback on a miss)',
    labelNames: ['source'],
    registers: [registry],
  });
  new Gauge({
    name: 'booking_api_longpoll_waiters',
    help: 'Requests waiting right now: kind=booking for Prefer: wait on a booking, kind=show on a show, kind=command for confirm/cancel awaiting the worker, kind=stream for open event streams',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      // The status plugin is registered after this one; it exists by the time anyone scrapes.
      const waiting = app.hasDecorator('status') ? app.status.waiting() : { booking: 0, command: 0 };
      this.set({ kind: 'booking' }, waiting.booking);
      this.set({ kind: 'command' }, waiting.command);
      this.set({ kind: 'show' }, app.hasDecorator('availability') ? app.availability.waiting() : 0);
      this.set({ kind: 'stream' }, app.hasDecorator('watchers') ? app.watchers.open.stream : 0);
    },
  });

  const reads = { redis: statusReads.labels('redis'), postgres: statusReads.labels('postgres') };
  reads.redis.inc(0);
  reads.postgres.inc(0);

  app.decorate<ApiMetrics>('metrics', {
    registry,
    bookingAccepted: () => accepted.inc(),
    statusRead: (source) => reads[source].inc(),
  });

  app.addHook('onResponse', (request, reply, done) => {
    httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? UNMATCHED_ROUTE, status_code: reply.statusCode },
      reply.elapsedTime / 1000,
    );
    done();
  });
});
