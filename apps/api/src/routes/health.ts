import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { pingDb } from '@booking/db';
import { DomainError } from '../errors.js';
import { problems } from './http.js';

const Health = Type.Object({ status: Type.Literal('ok'), checks: Type.Optional(Type.Record(Type.String(), Type.String())) });

export async function healthRoutes(app: FastifyInstance) {
  app.get('/health/live', { schema: { tags: ['ops'], summary: 'The process is up', response: { 200: Health } } }, async () => ({ status: 'ok' as const }));

  app.get('/health/ready', {
    schema: { tags: ['ops'], summary: 'Postgres and Redis answer', response: { 200: Health, ...problems() } },
  }, async () => {
    const timeout = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timed out')), 1000))]);
    const [pg, redis] = await Promise.allSettled([timeout(pingDb(app.sql)), timeout(Promise.all([app.redis.ping(), app.queueRedis.ping()]))]);
    const failed = [pg.status === 'rejected' && 'postgres', redis.status === 'rejected' && 'redis'].filter(Boolean);
    if (failed.length) throw new DomainError('SERVICE_UNAVAILABLE', `Not ready: ${failed.join(' and ')} unreachable`, { headers: { 'retry-after': '1' } });
    return { status: 'ok' as const, checks: { postgres: 'ok', redis: 'ok' } };
  });
}
