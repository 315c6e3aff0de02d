import { once } from 'node:events';
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { parseEnv, type Booking } from '@booking/contracts';
import { createTestDatabase } from '@booking/db/testing';
import { buildApp } from '../src/app.js';
import { ApiConfigSchema, type ApiConfig } from '../src/config.js';
import { ADMIN_TOKEN, defaultShow, freePort, sleep, startRedisServer, startSystem } from './helpers/system.js';


t.test('back-pressure', async (t) => {
  const sys = await startSystem(t, { workers: 0, config: { MAX_SHOW_BACKLOG: 5 } });
  const show = await sys.createShow();

  await t.test('past the backlog limit a new booking is a 503 SHOW_BUSY with Retry-After, and writes nothing', async (t) => {
    const accepted: Booking[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 1 }] }, { 'idempotency-key': `bp-${i}` });
      t.equal(res.status, 202);
      accepted.push(res.body);
      await sleep(250); // past the API's 200 ms backlog cache, so each request sees the last
    }
    const busy = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 1 }] }, { 'idempotency-key': 'bp-over' });
    t.equal(busy.status, 503);
    t.equal((busy.body as unknown as { code: string }).code, 'SHOW_BUSY');
    t.ok(Number(busy.headers.get('retry-after')) >= 1, 'Retry-After says when to come back');
    t.equal((await sys.redis.keys(`${sys.prefix}:booking:*`)).length, 5, 'no document for the refused booking');
    t.equal(await sys.redis.exists(`${sys.prefix}:idem:bp-over`), 0, 'its Idempotency-Key is free for the retry');

    const listed = await sys.http<{ waiting?: number }>('GET', `/v1/shows/${show.id}`);
    t.equal(listed.body.waiting, 5, 'the show says how many requests wait');
    const last = await sys.http<Booking>('GET', `/v1/bookings/${accepted[4]!.id}`);
    t.equal(last.body.status, 'PENDING');
    t.equal(last.body.queuePosition, 4, 'a PENDING booking says how many are ahead of it');
    t.equal((await sys.http<Booking>('GET', `/v1/bookings/${accepted[0]!.id}`)).body.queuePosition, 0);

    const retry = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 1 }] }, { 'idempotency-key': 'bp-2' });
    t.equal(retry.status, 202, 'a retry of an accepted booking still gets it');
    t.equal(retry.body.id, accepted[2]!.id);

    await t.test('once a worker drains the queue, bookings are accepted again', async (t) => {
      await sys.startWorker();
      for (const b of accepted) t.equal((await sys.decided(b.id)).status, 'HELD');
      await sleep(250);
      const again = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 1 }] }, { 'idempotency-key': 'bp-over', prefer: 'wait=10' });
      t.equal(again.status, 201);
      t.equal(again.body.status, 'HELD');
    });
  });

  t.same((await sys.invariants(show.id)).violations, []);
});

/** The API in this process against a Redis of the test's own (no worker: bookings stay PENDING). */
async function apiWithOwnRedis(t: Test, redisArgs: string[] = []) {
  const port = await freePort();
  const own = { redis: await startRedisServer(port, ...redisArgs), port };
  const db = await createTestDatabase();
  const config = {
    ...parseEnv(ApiConfigSchema, { DATABASE_URL: db.url, REDIS_URL: `redis://127.0.0.1:${port}`, QUEUE_PREFIX: 'outage', LOG_LEVEL: 'silent', NODE_ENV: 'test' }),
    ADMIN_TOKEN,
  } as ApiConfig;
  const app = await buildApp({ config, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  t.teardown(async () => {
    await app.close();
    own.redis.kill('SIGKILL');
    await db.drop(!t.passing());
  });
  const post = (path: string, body: unknown, admin = false) =>
    fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
  const show = (await (await post('/v1/shows', defaultShow(), true)).json()) as { id: string };
  return { own, url, post, show };
}

t.test('Redis outage', async (t) => {
  const { own, url, post, show } = await apiWithOwnRedis(t);
  const startRedis = () => startRedisServer(own.port);
  const ok = await post(`/v1/shows/${show.id}/bookings`, { items: [{ tier: 'GA', quantity: 1 }] });
  t.equal(ok.status, 202, 'accepted while Redis is up');
  const { id } = (await ok.json()) as Booking;

  await t.test('with Redis down the API answers 503 problem documents at once, and recovers by itself', async (t) => {
    own.redis.kill('SIGKILL');
    await once(own.redis, 'exit');
    for (const [name, res] of [
      ['booking', () => post(`/v1/shows/${show.id}/bookings`, { items: [{ tier: 'GA', quantity: 1 }] })],
      ['status read', () => fetch(`${url}/v1/bookings/${id}`, { signal: AbortSignal.timeout(5000) })],
      ['readiness', () => fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5000) })],
    ] as const) {
      const started = Date.now();
      const r = await res();
      const ms = Date.now() - started;
      t.equal(r.status, 503, `${name}: 503`);
      t.match(r.headers.get('content-type'), /application\/problem\+json/);
      t.ok(r.headers.get('retry-after'), `${name}: Retry-After`);
      t.ok(ms < 1500, `${name}: answered in ${ms} ms, not left hanging`);
    }
    own.redis = await startRedis();
    let status = 0;
    for (let i = 0; i < 100 && status !== 202; i++) {
      await sleep(100);
      status = (await post(`/v1/shows/${show.id}/bookings`, { items: [{ tier: 'GA', quantity: 1 }] })).status;
    }
    t.equal(status, 202, 'bookings are accepted again once Redis is back');
  });
});

t.test('a long-poll whose read of the booking is slower than its wait', async (t) => {
  // DEBUG SLEEP stalls this Redis (and only this one: it is the test's own) for 1.5 s.
  const { own, url, post, show } = await apiWithOwnRedis(t, ['--enable-debug-command', 'yes']);
  const created = await post(`/v1/shows/${show.id}/bookings`, { items: [{ tier: 'GA', quantity: 1 }] });
  t.equal(created.status, 202);
  const { id } = (await created.json()) as Booking;
  const side = new Redis(own.port, '127.0.0.1');
  t.teardown(() => side.disconnect());
  const stalled = side.call('DEBUG', 'SLEEP', '1.5');
  await sleep(50);
  // The wait (1 s) runs out while the one read is still waiting for Redis: the answer is the
  // booking as read once Redis answers, never "no such booking".
  const res = await fetch(`${url}/v1/bookings/${id}`, { headers: { 'if-none-match': '"1"', prefer: 'wait=1' }, signal: AbortSignal.timeout(5000) });
  await stalled;
  t.equal(res.status, 304, 'unchanged booking: 304, not 404');
  t.equal(res.headers.get('etag'), '"1"');
});
