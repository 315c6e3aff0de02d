// Baseline (b) of `pnpm bench`: the least a status read can cost — Fastify answering one Redis GET.
import Fastify from 'fastify';
import { Redis } from 'ioredis';

// Auto-pipelining, as the API's own connection: the ceiling must not lose to the API on client settings.
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true });
const key = `bench-baseline:${process.pid}`;
await redis.set(key, JSON.stringify({ id: key, status: 'HELD', version: 2, padding: 'x'.repeat(500) }), 'EX', 600);
const app = Fastify({ logger: false });
app.get('/ready', async () => 'ok');
app.get('/value', async (_req, reply) => reply.type('application/json').send(await redis.get(key)));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT), backlog: 4096 });
process.on('SIGTERM', () => void app.close().then(() => redis.quit()).then(() => process.exit(0)));
