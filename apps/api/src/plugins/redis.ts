import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    /**
     * BullMQ's own: the per-show queues add jobs through it and define their 64 Lua scripts on
     * it. Kept off `redis` because ioredis copies every script of a connection onto each
     * auto-pipeline batch it builds (50 µs a batch with BullMQ's, 5 without); not auto-pipelined
     * itself, so one add is one write instead of one such batch (15% less API CPU at 600/s).
     */
    queueRedis: Redis;
    /** Dedicated to SUBSCRIBE (a subscribed connection can run no other command). */
    subscriber: Redis;
  }
}

/**
 * Fail fast when Redis is down: no offline queue and one retry per command, so a request gets a
 * 503 within a second instead of hanging; the connection keeps reconnecting in the background.
 */
export const redisPlugin = fp(async (app: FastifyInstance, opts: { url: string }) => {
  const common = { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 1000, lazyConnect: true };
  // Auto-pipelining: the commands of every request handled in one tick leave in one write. With
  // hundreds of requests in flight, one syscall per command was a fifth of the API's CPU.
  const redis = new Redis(opts.url, { ...common, connectionName: 'api', enableAutoPipelining: true });
  const queueRedis = new Redis(opts.url, { ...common, connectionName: 'api-queues', enableAutoPipelining: false });
  const subscriber = new Redis(opts.url, { ...common, enableOfflineQueue: true, connectionName: 'api-sub' });
  for (const [name, conn] of [['redis', redis], ['queueRedis', queueRedis], ['subscriber', subscriber]] as const) {
    conn.on('error', (err) => app.log.warn({ err, conn: name }, 'redis connection error'));
  }
  await Promise.all([redis.connect(), queueRedis.connect(), subscriber.connect()]);
  app.decorate('redis', redis);
  app.decorate('queueRedis', queueRedis);
  app.decorate('subscriber', subscriber);
  app.addHook('onClose', async () => {
    // QUIT, not a bare disconnect: a subscriber that has just reconnected re-subscribes with a
    // command ioredis sends on its own and nobody awaits; cut off, it rejects unhandled. QUIT
    // queues behind it. Bounded: with Redis away it would wait for a reconnect.
    await Promise.race([subscriber.quit().catch(() => {}), new Promise((r) => setTimeout(r, 500).unref())]);
    subscriber.disconnect();
    await Promise.all([redis, queueRedis].map((c) => c.quit().catch(() => c.disconnect())));
  });
});
