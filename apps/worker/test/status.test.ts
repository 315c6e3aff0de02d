import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import t from 'tap';
import { redisKeys, type Booking } from '@booking/contracts';
import { pino } from 'pino';
import { createSql } from '@booking/db';
import { deleteRedisPrefix } from '@booking/db/testing';
import { createStatusPublisher } from '../src/status.js';

// Two writers can finish out of order (a sweep and a replayed job): a document never replaces a
// newer version of itself, and only a write that lands is published.
t.test('a status document is never replaced by an older version', async (t) => {
  const prefix = `ts${randomUUID().slice(0, 8)}`;
  const keys = redisKeys(prefix);
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  const subscriber = redis.duplicate();
  t.teardown(async () => {
    await deleteRedisPrefix(redis, prefix);
    subscriber.disconnect();
    await redis.quit();
  });
  const published: number[] = [];
  await subscriber.subscribe(keys.bookingChannel);
  subscriber.on('message', (_channel: string, message: string) => published.push((JSON.parse(message) as Booking).version));
  // No Postgres is reached here: only booking documents are published.
  const sql = createSql('postgres://postgres@127.0.0.1:5432/postgres', { max: 1 });
  t.teardown(() => sql.end({ timeout: 1 }));
  const status = createStatusPublisher(redis, keys, { sql, log: pino({ level: 'silent' }) });
  const id = randomUUID();
  // Only what the guard reads matters here; the rest of a Booking is beside the point.
  // (customerRef first, so a quick read of the text meets it before the version.)
  const doc = (version: number, customerRef: string | null = null) => ({ customerRef, id, showId: randomUUID(), status: 'HELD', version }) as unknown as Booking;
  const stored = async () => (JSON.parse((await redis.get(keys.booking(id)))!) as Booking).version;

  await status.publishBooking(doc(3));
  await status.publishBooking(doc(2));
  t.equal(await stored(), 3, 'version 2 after version 3 changes nothing');
  await status.publishBooking(doc(4, 'a "version":99 in a string value'));
  t.equal(await stored(), 4, 'a newer version replaces it');
  await status.publishBooking(doc(4));
  t.equal(await stored(), 4, 'the same version is written again (a replay after a crash)');
  await status.publishBooking(doc(5, 'again "version":99'));
  await status.publishBooking(doc(6));
  t.equal(await stored(), 6, 'text inside a string value is never taken for the version');

  // A stored text the quick read does not match (here: spaces after the colon) is decoded.
  await redis.set(keys.booking(id), JSON.stringify({ id, version: 7 }, null, 1));
  await status.publishBooking(doc(6));
  t.equal(await stored(), 7, 'still guarded');
  await status.publishBooking(doc(8));
  t.equal(await stored(), 8);

  await new Promise((r) => setTimeout(r, 100));
  t.same(published, [3, 4, 4, 5, 6, 8], 'only the writes that landed were published');
});
