import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import t from 'tap';
import { ShowQueues, redisKeys, type Booking } from '@booking/contracts';
import { deleteRedisPrefix } from '@booking/db/testing';
import { OTHER_SHOWS, createWorkerMetrics } from '../src/metrics.js';
import { ShowWorkers } from '../src/workers.js';

/** `name{labels} value` lines of a Prometheus text exposition whose labels include `labels`. */
function samples(text: string, name: string, labels: Record<string, string> = {}) {
  return text.split('\n').flatMap((line) => {
    const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) return [];
    const got = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    return Object.entries(labels).every(([k, v]) => got[k] === v) ? [{ labels: got, value: Number(m[3]) }] : [];
  });
}

t.test('queue depth has a bounded label set: the top N shows and one aggregate', async (t) => {
  const prefix = `tm${randomUUID().slice(0, 8)}`;
  const keys = redisKeys(prefix);
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  const queues = new ShowQueues(redis, prefix);
  const metrics = createWorkerMetrics({ topShows: 2 });
  // Never started: nothing takes the jobs, so the depths stay as queued below.
  const workers = new ShowWorkers({
    redis, subscriber: redis, queues, keys, prefix, log: pino({ level: 'silent' }),
    processor: async () => undefined,
    showConcurrency: 1, idleMs: 1000, lockMs: 1000, metrics,
  });
  t.teardown(async () => {
    await workers.close();
    await queues.close();
    await deleteRedisPrefix(redis, prefix);
    await redis.quit();
  });

  const shows = Array.from({ length: 5 }, () => randomUUID());
  const backlog = [4, 3, 2, 1, 0];
  for (const [i, showId] of shows.entries()) {
    for (let n = 0; n < backlog[i]!; n++) {
      const bookingId = randomUUID();
      await queues.add('hold', { bookingId, showId, request: { items: [{ tier: 'GA', quantity: 1 }] }, customerRef: null, idempotencyKey: null, acceptedAt: new Date().toISOString() });
    }
    await redis.zadd(keys.activeShows, Date.now(), showId);
  }
  await queues.add('expire', { bookingId: randomUUID(), showId: shows[3]! }, { delay: 60_000 });

  const text = await metrics.registry.metrics();
  const depth = samples(text, 'booking_worker_queue_depth');
  t.same(new Set(depth.map((s) => s.labels.show)), new Set([shows[0], shows[1], OTHER_SHOWS]), 'the two deepest shows and the aggregate');
  t.equal(samples(text, 'booking_worker_queue_depth', { show: shows[0]!, state: 'waiting' })[0]?.value, 4);
  t.equal(samples(text, 'booking_worker_queue_depth', { show: shows[1]!, state: 'waiting' })[0]?.value, 3);
  t.equal(samples(text, 'booking_worker_queue_depth', { show: OTHER_SHOWS, state: 'waiting' })[0]?.value, 3, 'the rest summed');
  t.equal(samples(text, 'booking_worker_queue_depth', { show: OTHER_SHOWS, state: 'delayed' })[0]?.value, 1);
  t.match(text, /^booking_worker_shows_attached 0$/m);

  await deleteRedisPrefix(redis, prefix);
  const emptied = samples(await metrics.registry.metrics(), 'booking_worker_queue_depth');
  t.same(new Set(emptied.map((s) => s.labels.show)), new Set([OTHER_SHOWS]), 'shows whose queues emptied leave no series behind');
});

t.test('a replayed decision is not counted again', async (t) => {
  const metrics = createWorkerMetrics();
  const at = (ms: number) => new Date(Date.parse('2030-01-01T00:00:00Z') + ms).toISOString();
  const booking = (status: 'HELD' | 'REJECTED', decidedAfterMs: number): Booking => ({
    id: randomUUID(), showId: randomUUID(), status, version: 2, request: { items: [{ tier: 'GA', quantity: 1 }] }, customerRef: null,
    seats: [], totalCents: null, currency: null, expiresAt: null, payment: null, refund: null,
    rejection: status === 'REJECTED' ? { code: 'SOLD_OUT', detail: '' } : null,
    createdAt: at(0), updatedAt: at(decidedAfterMs),
    transitions: [{ status: 'PENDING', at: at(0) }, { status, at: at(decidedAfterMs) }],
  });
  metrics.holdsDecided([
    { outcome: 'OK', booking: booking('HELD', 40), changed: true },
    { outcome: 'OK', booking: booking('REJECTED', 60), changed: true },
    { outcome: 'OK', booking: booking('HELD', 80), changed: false },
  ]);
  const text = await metrics.registry.metrics();
  t.match(text, /^booking_worker_decisions_total\{outcome="HELD"\} 1$/m);
  t.match(text, /^booking_worker_decisions_total\{outcome="SOLD_OUT"\} 1$/m);
  t.match(text, /^booking_worker_decisions_total\{outcome="SALES_CLOSED"\} 0$/m, 'known outcomes exist before they happen');
  t.match(text, /^booking_worker_decision_latency_seconds_count 2$/m);
  t.match(text, /^booking_worker_decision_latency_seconds_sum 0\.1$/m, '40 ms + 60 ms from acceptance');
});
