import { randomUUID } from 'node:crypto';
import t from 'tap';
import { createGaShow, createTestDatabase } from '../src/testing.js';
import { createSql } from '../src/client.js';

t.test('schema constraints back the invariants', async (t) => {
  const db = await createTestDatabase();
  const sql = createSql(db.url, { max: 1 });
  t.teardown(async () => {
    await sql.end();
    await db.drop(!t.passing());
  });
  const show = await createGaShow(sql, { capacity: 3, holdTtlSeconds: 60, priceCents: 100 });
  const [seat] = await sql`select id from seats where show_id = ${show.id} limit 1`;
  const booking = async (status: string) => {
    const id = randomUUID();
    await sql`insert into bookings (id, show_id, status, version, request, accepted_at, expires_at, total_cents, currency, payment_ref, rejection_code)
              values (${id}, ${show.id}, ${status}, 2, '{}', now(), now(), 100, 'EUR',
                      ${status === 'CONFIRMED' ? 'ch_1' : null}, ${status === 'REJECTED' ? 'SOLD_OUT' : null})`;
    return id;
  };

  await t.test('a HELD seat cannot point at a CONFIRMED booking', async (t) => {
    const id = await booking('CONFIRMED');
    await t.rejects(sql`update seats set status = 'HELD', booking_id = ${id} where id = ${seat!.id}`, { code: '23503' });
  });

  await t.test('a seat cannot stay HELD when its booking expires', async (t) => {
    const id = await booking('HELD');
    await sql`update seats set status = 'HELD', booking_id = ${id} where id = ${seat!.id}`;
    await t.rejects(sql`update bookings set status = 'EXPIRED', version = 3 where id = ${id}`, { code: '23503' });
    await sql.begin(async (tx) => {
      await tx`update bookings set status = 'EXPIRED', version = 3 where id = ${id}`;
      await tx`update seats set status = 'AVAILABLE', booking_id = null where booking_id = ${id}`;
    });
    t.pass('releasing booking and seats in one transaction is fine (the check is deferred to commit)');
  });

  await t.test('an AVAILABLE seat has no booking, a taken one has one', async (t) => {
    const id = await booking('HELD');
    await t.rejects(sql`update seats set booking_id = ${id} where id = ${seat!.id}`, { code: '23514' });
    await t.rejects(sql`update seats set status = 'HELD' where id = ${seat!.id}`, { code: '23514' });
  });

  await t.test('statuses are a closed set', async (t) => {
    await t.rejects(booking('LOST'), { code: '23514' });
    await t.rejects(sql`update seats set status = 'BROKEN' where id = ${seat!.id}`, { code: '23514' });
  });

  await t.test('a booking is charged at most once', async (t) => {
    const id = await booking('CONFIRMED');
    await sql`insert into payments (booking_id, kind, reference, amount_cents, currency) values (${id}, 'CHARGE', 'a', 1, 'EUR')`;
    await t.rejects(sql`insert into payments (booking_id, kind, reference, amount_cents, currency) values (${id}, 'CHARGE', 'b', 1, 'EUR')`, { code: '23505' });
  });

  await t.test('available seats of a tier are found through the partial index', async (t) => {
    await sql`analyze seats`;
    await sql`set enable_seqscan = off`;
    const plan = await sql.unsafe(`explain select id from seats where show_id = '${show.id}' and tier_code = 'GA' and status = 'AVAILABLE' order by rank limit 2`);
    t.match(plan.map((r) => (r as Record<string, string>).QUERY_PLAN ?? Object.values(r)[0]).join('\n'), /seats_available_idx/);
  });
});
