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

const WAKE_EVERY_MS = 200;

export const queuesPlugin = fp(async (app: FastifyInstance, opts: { prefix: string }) => {
  const keys = redisKeys(opts.prefix);
  const queues = new ShowQueues(app.redis, opts.prefix);
  const lastWake = new Map<string, number>();

  app.decorate<Commands>('commands', {
    async enqueue(name, payload) {
      await queues.add(name, payload);
      // After the add, never before: a worker letting the show go re-checks the queue after
      // removing its entry, and an entry set after our add always brings a worker back.
      await app.redis.zadd(keys.activeShows, Date.now(), payload.showId);
      const now = Date.now();
      if (now - (lastWake.get(payload.showId) ?? 0) > WAKE_EVERY_MS) {
        lastWake.set(payload.showId, now);
        if (lastWake.size > 10_000) lastWake.clear();
        await app.redis.publish(keys.wakeChannel, payload.showId);
      }
    },
  });
  app.addHook('onClose', async () => {
    await queues.close();
  });
});
