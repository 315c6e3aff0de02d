import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { fastifySSE } from '@fastify/sse';
import type { ApiConfig } from './config.js';
import { dbPlugin } from './plugins/db.js';
import { availabilityPlugin } from './plugins/availability.js';
import { metricsPlugin } from './plugins/metrics.js';
import { problemJsonPlugin } from './plugins/problem-json.js';
import { queuesPlugin } from './plugins/queues.js';
import { redisPlugin } from './plugins/redis.js';
import { showCachePlugin } from './plugins/show-cache.js';
import { statusPlugin } from './plugins/status.js';
import { swaggerPlugin } from './plugins/swagger.js';
import { validationPlugin } from './plugins/validation.js';
import { watchersPlugin } from './plugins/watchers.js';
import { bookingRoutes } from './routes/bookings.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { queueBoardRoutes } from './routes/queue-board.js';
import { showRoutes } from './routes/shows.js';

export interface BuildAppOptions {
  config: ApiConfig;
  logger?: FastifyServerOptions['logger'];
}

/** The whole API as one Fastify instance: plugins (clients, validation, errors, docs), then routes. */
export async function buildApp({ config, logger }: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: logger ?? { level: config.LOG_LEVEL },
    bodyLimit: 64 * 1024,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    requestTimeout: 60_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  // JSON only: a body sent as text/plain is a 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain');
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(validationPlugin);
  await app.register(problemJsonPlugin);
  await app.register(swaggerPlugin);
  await app.register(metricsPlugin);
  await app.register(dbPlugin, { url: config.DATABASE_URL, poolSize: config.DB_POOL_SIZE });
  await app.register(redisPlugin, { url: config.REDIS_URL });
  await app.register(queuesPlugin, { prefix: config.QUEUE_PREFIX, maxShowBacklog: config.MAX_SHOW_BACKLOG });
  await app.register(statusPlugin, { prefix: config.QUEUE_PREFIX });
  await app.register(availabilityPlugin, { prefix: config.QUEUE_PREFIX });
  await app.register(showCachePlugin);
  await app.register(watchersPlugin, { max: config.MAX_WATCHERS });
  // Event streams: framing, heartbeats and Last-Event-ID from the plugin; documents go out as the
  // JSON text they are stored as (no parse and re-serialise per client).
  await app.register(fastifySSE, { heartbeatInterval: config.SSE_HEARTBEAT_MS, serializer: (data: unknown) => (typeof data === 'string' ? data : JSON.stringify(data)) });

  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  await app.register(showRoutes, { adminToken: config.ADMIN_TOKEN, defaultHoldTtlSeconds: config.HOLD_TTL_SECONDS });
  await app.register(bookingRoutes, { commandTimeoutMs: config.COMMAND_TIMEOUT_MS });
  await app.register(eventRoutes);
  await app.register(queueBoardRoutes, { adminToken: config.ADMIN_TOKEN });
  return app;
}
