import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { ShowQueues, redisKeys, type JobName, type JobPayloads } from '@booking/contracts';

declare module 'fastify' {
  interface FastifyInstance {
    commands: Commands;
  }
}

export interface Commands {
  /** Adds the command to its show's queue and tells the workers the show has work. */
  enqueue<N extends JobName>(name: N, payload: JobPayloads[N] & { showId: string }): Promise<void>;
}

/**
 * How often one API process re-marks a show as due and wakes the workers, at most. Skipping it
 * in between is safe because a worker lets a show go only after WORKER_IDLE_MS (≥ 1 s) without
 * a job, and re-checks the queue after removing the mark: a job added within this window of a
 * mark is either still seen by that check or picked up by a worker that is still attached.
 */
const WAKE_EVERY_MS = 250;

export const queuesPlugin = fp(async (app: FastifyInstance, opts: { prefix: string }) => {
  const keys = redisKeys(opts.prefix);
  const queues = new ShowQueues(app.redis, opts.prefix);
  const lastWake = new Map<string, number>();

  app.decorate<Commands>('commands', {
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
