import t from 'tap';
import { createSql } from '../src/client.js';
import { holdSeats } from '../src/queries/bookings.js';
import { createGaShow, createTestDatabase, holdCommand } from '../src/testing.js';

const hold = holdCommand;

t.test('the hold transaction', async (t) => {
  const db = await createTestDatabase();
  const sql = createSql(db.url, { max: 4 });
  t.teardown(async () => {
    await sql.end({ timeout: 5 });
    await db.drop(!t.passing());
  });
  const newShow = (capacity: number) => createGaShow(sql, { capacity, holdTtlSeconds: 60 });

  await t.test('a replayed hold changes nothing and returns the first decision', async (t) => {
    const show = await newShow(5);
    const cmd = hold(show.id, 2);
    const first = await holdSeats(sql, cmd);
    const replay = await holdSeats(sql, cmd);
    t.equal(first.changed, true);
    t.equal(replay.changed, false);
    t.same(replay.booking, first.booking);
  });

  await t.test('seats locked by a claim that rolls back are not reported as sold out', async (t) => {
    const show = await newShow(3);
    // Another transaction holds row locks on every AVAILABLE seat, then rolls back.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const other = sql
      .begin(async (tx) => {
        await tx`select id from seats where show_id = ${show.id} for update`;
        locked();
        await released;
        throw new Error('roll back');
      })
      .catch(() => {});
    await isLocked;
    const decision = holdSeats(sql, hold(show.id, 2));
    setTimeout(release, 50);
    const d = await decision;
    await other;
    t.equal(d.booking?.status, 'HELD', 'retried after the other claim let go, instead of SOLD_OUT');
  });

  await t.test('seats taken by a claim that commits are sold out', async (t) => {
    const show = await newShow(2);
    const a = await holdSeats(sql, hold(show.id, 2));
    const b = await holdSeats(sql, hold(show.id, 1));
    t.equal(a.booking?.status, 'HELD');
    t.equal(b.booking?.status, 'REJECTED');
    t.equal(b.booking?.rejection?.code, 'SOLD_OUT');
  });

  await t.test('an Idempotency-Key already used by another booking is rejected, not double-booked', async (t) => {
    const show = await newShow(5);
    const a = await holdSeats(sql, hold(show.id, 1, { idempotencyKey: 'k1' }));
    const b = await holdSeats(sql, hold(show.id, 1, { idempotencyKey: 'k1' }));
    t.equal(a.booking?.status, 'HELD');
    t.equal(b.booking?.rejection?.code, 'DUPLICATE_REQUEST');
  });

  await t.test('closed sales and oversize requests are rejected with their reasons', async (t) => {
    const show = await newShow(50);
    t.equal((await holdSeats(sql, hold(show.id, 11))).booking?.rejection?.code, 'TOO_MANY_SEATS');
    await sql`update shows set sales_open = false where id = ${show.id}`;
    t.equal((await holdSeats(sql, hold(show.id, 1))).booking?.rejection?.code, 'SALES_CLOSED');
  });
});
