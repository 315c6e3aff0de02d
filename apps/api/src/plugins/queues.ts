import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { ShowQueues, jobId, redisKeys, type JobName, type JobPayloads } from '@booking/contracts';
import { DomainError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    commands: Commands;
    /** The per-show Queue objects this process produces to (shared, so other readers open none). */
    showQueues: ShowQueues;
  }
}

export interface Commands {
  /** Adds the command to its show's queue and tells the workers the show has work. */
  enqueue<N extends JobName>(name: N, payload: JobPayloads[N] & { showId: string }): Promise<void>;
  /**
   * Back-pressure: throws a 503 SHOW_BUSY (with Retry-After) when the show already has more
   * commands waiting than the configured limit, instead of queueing without bound.
   */
  assertCapacity(showId: string): Promise<void>;
  /** Commands waiting in the show's queue (cached for a fraction of a second). */
  backlog(showId: string): Promise<number>;
  /** About how many holds are ahead of this booking's (0 when it is being decided or unknown). */
  position(showId: string, bookingId: string): Promise<number>;
}

/**
 * How stale a show's backlog figure may be: one Redis read per show per interval at most. The
 * farther the show is from its limit, the longer (up to 1 s): it would take arrivals of 10 per
 * millisecond to cross the limit before the next read; near the limit, 200 ms.
 */
const backlogTtlMs = (depth: number, limit: number) => Math.min(1000, Math.max(200, (limit - depth) / 10));

/**
 * How often one API process re-marks a show as due and wakes the workers, at most. Skipping it
 * in between is safe because a worker lets a show go only after WORKER_IDLE_MS (≥ 1 s) without
 * a job, and re-checks the queue after removing the mark: a job added within this window of a
 * mark is either still seen by that check or picked up by a worker that is still attached.
 */
const WAKE_EVERY_MS = 250;

export const queuesPlugin = fp(async (app: FastifyInstance, opts: { prefix: string; maxShowBacklog: number }) => {
  const keys = redisKeys(opts.prefix);
  const queues = new ShowQueues(app.queueRedis, opts.prefix);
  const lastWake = new Map<string, number>();
  const backlogs = new Map<string, { until: number; depth: Promise<number> }>();

  /** Commands waiting in the show's queue (holds are prioritized, the rest plain), cached briefly. */
  function backlog(showId: string): Promise<number> {
    const hit = backlogs.get(showId);
    if (hit && Date.now() < hit.until) return hit.depth;
    const queue = queues.get(showId);
    // Two plain reads, not a MULTI: they share the connection's automatic pipeline with every
    // other command of this turn (a MULTI is written on its own, and its Pipeline object is
    // costly to build), and a figure this approximate needs no atomicity.
    const depth = Promise.all([app.redis.zcard(queue.keys.prioritized!), app.redis.llen(queue.keys.wait!)]).then(([p, w]) => p + w);
    // Shared by every caller until it answers; then kept for as long as its figure allows.
    const entry = { until: Infinity, depth };
    backlogs.set(showId, entry);
    if (backlogs.size > 10_000) backlogs.clear();
    void depth.then(
      (d) => (entry.until = Date.now() + backlogTtlMs(d, opts.maxShowBacklog)),
      () => backlogs.get(showId) === entry && backlogs.delete(showId),
    );
    return depth;
  }

  app.decorate('showQueues', queues);
  app.decorate<Commands>('commands', {
    backlog,
    async position(showId, bookingId) {
      const queue = queues.get(showId);
      const rank = await app.redis.zrank(queue.keys.prioritized!, jobId.hold({ bookingId }));
      return rank ?? 0;
    },
    async assertCapacity(showId) {
      const depth = await backlog(showId);
      if (depth >= opts.maxShowBacklog) {
        throw new DomainError('SHOW_BUSY', `This show has ${depth} requests waiting to be decided; try again shortly`, {
          headers: { 'retry-after': String(Math.min(30, Math.max(1, Math.ceil(depth / 2000)))) },
        });
      }
    },
    async enqueue(name, payload) {
      await queues.add(name, payload);
      const now = Date.now();
      if (now - (lastWake.get(payload.showId) ?? 0) <= WAKE_EVERY_MS) return;
      lastWake.set(payload.showId, now);
      if (lastWake.size > 10_000) lastWake.clear();
      // After the add, never before: an entry set after our add always brings a worker back.
      await Promise.all([app.redis.zadd(keys.activeShows, now, payload.showId), app.redis.publish(keys.wakeChannel, payload.showId)]);
    },
  });
  app.addHook('onClose', async () => {
    await queues.close();
  });
});
