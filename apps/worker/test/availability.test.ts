import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import t from 'tap';
import { createAvailabilityStore, redisKeys, type Show } from '@booking/contracts';
import { bookingCommands, createSql, getAvailability, holdSeatsBatch, type Decision } from '@booking/db';
import { createGaShow, createTestDatabase, deleteRedisPrefix, holdCommand } from '@booking/db/testing';
import { createStatusPublisher } from '../src/status.js';
import { MockPaymentProvider } from '../src/payments.js';

// The worker's side of the availability document: what each commit changed is applied on top
// of the version before it; a missing document or a skipped version is rebuilt from Postgres.
t.test('availability documents written by the worker', async (t) => {
  const db = await createTestDatabase();
  const sql = createSql(db.url, { max: 4 });
  const prefix = `ta${randomUUID().slice(0, 8)}`;
  const keys = redisKeys(prefix);
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  t.teardown(async () => {
    await deleteRedisPrefix(redis, prefix);
    await redis.quit();
    await sql.end({ timeout: 5 });
    await db.drop(!t.passing());
  });
  const status = createStatusPublisher(redis, keys, { sql, log: pino({ level: 'silent' }) });
  const store = createAvailabilityStore(redis, keys);
  const stored = async (showId: string) => {
    const doc = await store.read(showId);
    return doc && { version: doc.version, show: JSON.parse(doc.raw) as Show };
  };
  /** What Postgres says, from the seat rows. */
  const truth = async (showId: string) => (await getAvailability(sql, showId))!.show;

  const show = await createGaShow(sql, { capacity: 10 });
  await store.rebuild((await getAvailability(sql, show.id))!);

  await t.test('a commit is applied as the next version: counts move by what it changed', async (t) => {
    const decisions = await holdSeatsBatch(sql, [holdCommand(show.id, 2), holdCommand(show.id, 3)]);
    t.ok(decisions.every((d) => d.showVersion === 2), 'both decisions carry the version their transaction gave the show');
    await status.publishShows(decisions);
    const doc = await stored(show.id);
    t.equal(doc?.version, 2);
    t.same(doc?.show.totals, (await truth(show.id)).totals, 'equal to the seat rows');
    t.same(doc?.show.totals, { total: 10, available: 5, held: 5, sold: 0 });
    const seats = await store.seatStatuses(show.id, decisions.flatMap((d) => d.booking!.seats.map((s) => s.id)));
    t.ok(seats?.values.every((v) => v?.startsWith('HELD ')), 'the held seats have their status');
  });

  let replayed: Decision[] = [];
  await t.test('a replay changes nothing, and confirms and cancels move seats on', async (t) => {
    const [d] = await holdSeatsBatch(sql, [holdCommand(show.id, 1)]);
    await status.publishShows([d!]);
    replayed = [d!];
    await status.publishShows(replayed); // the same commit published twice: applied once
    t.same((await stored(show.id))?.show.totals, { total: 10, available: 4, held: 6, sold: 0 });
    const [confirmed] = await bookingCommands(sql, new MockPaymentProvider(), [{ kind: 'confirm', bookingId: d!.booking!.id, paymentToken: 'tok_visa' }]);
    await status.publishShows([confirmed!]);
    t.same((await stored(show.id))?.show.totals, { total: 10, available: 4, held: 5, sold: 1 }, 'HELD → SOLD');
    const [cancelled] = await bookingCommands(sql, new MockPaymentProvider(), [{ kind: 'cancel', bookingId: d!.booking!.id, reason: null }]);
    await status.publishShows([cancelled!]);
    t.same((await stored(show.id))?.show.totals, { total: 10, available: 5, held: 5, sold: 0 }, 'SOLD → AVAILABLE');
    t.same((await stored(show.id))?.show.totals, (await truth(show.id)).totals);
  });

  await t.test('a commit whose change never reached Redis makes the next one rebuild the document', async (t) => {
    const lost = await holdSeatsBatch(sql, [holdCommand(show.id, 1)]); // committed, never published (a killed worker)
    const next = await holdSeatsBatch(sql, [holdCommand(show.id, 1)]);
    t.equal(next[0]!.showVersion, lost[0]!.showVersion! + 1);
    await status.publishShows(next);
    const doc = await stored(show.id);
    t.equal(doc?.version, next[0]!.showVersion, 'at the latest version');
    t.same(doc?.show.totals, (await truth(show.id)).totals, 'with both holds counted, from Postgres');
    await status.publishShows(lost); // the lost one arrives late after all: older, ignored
    t.same((await stored(show.id))?.show.totals, (await truth(show.id)).totals);
  });

  await t.test('a missing document (Redis lost it) is rebuilt at the next commit', async (t) => {
    await redis.del(keys.availability(show.id), keys.seatStatus(show.id), keys.seatLog(show.id));
    const decisions = await holdSeatsBatch(sql, [holdCommand(show.id, 1)]);
    await status.publishShows(decisions);
    const doc = await stored(show.id);
    t.equal(doc?.version, decisions[0]!.showVersion);
    t.same(doc?.show.totals, (await truth(show.id)).totals);
  });

  await t.test('the once-a-second check rebuilds a show still behind Postgres a check later, and only then', async (t) => {
    const lost = await holdSeatsBatch(sql, [holdCommand(show.id, 1)]); // the last change of the sale, never published
    const before = (await stored(show.id))!.version;
    t.equal(lost[0]!.showVersion, before + 1);
    await status.verify(); // notes what Postgres has
    t.equal((await stored(show.id))?.version, before, 'not at the first look: the change may still be on its way');
    await status.verify();
    const doc = await stored(show.id);
    t.equal(doc?.version, lost[0]!.showVersion, 'rebuilt at the second');
    t.same(doc?.show.totals, (await truth(show.id)).totals);
  });
});
