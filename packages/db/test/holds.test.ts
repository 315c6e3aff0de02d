import t from 'tap';
import { createSql } from '../src/client.js';
import { randomUUID } from 'node:crypto';
import { InvalidCommand, decideHoldsOfShows, holdSeats, inTransaction } from '../src/queries/bookings.js';
import { createShow } from '../src/queries/shows.js';
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

  await t.test('batches of several shows decided together get what each would get alone', async (t) => {
    const a = await createGaShow(sql, { capacity: 5, holdTtlSeconds: 60 });
    const b = await createGaShow(sql, { capacity: 3, holdTtlSeconds: 120 });
    // A show with both forms: GA and a row of four numbered seats.
    const c = await createShow(sql, {
      id: randomUUID(),
      name: 'mixed',
      venue: 'v',
      startsAt: '2030-01-01T00:00:00Z',
      holdTtlSeconds: 30,
      tiers: [
        { code: 'GA', name: 'GA', priceCents: 500, currency: 'EUR' },
        { code: 'SEAT', name: 'Seat', priceCents: 900, currency: 'EUR' },
      ],
      generalAdmission: [{ tier: 'GA', capacity: 2 }],
      seating: [{ tier: 'SEAT', section: 'A', rows: 1, seatsPerRow: 4 }],
    });
    const seats = (await sql<{ id: string }[]>`select id from seats where show_id = ${c.id} and tier_code = 'SEAT' order by rank`).map((r) => r.id);
    const exact = (...ids: string[]) => holdCommand(c.id, ids.length, { request: { seatIds: ids } });
    const batches = [
      [holdCommand(a.id, 2), holdCommand(a.id, 2), holdCommand(a.id, 2)],
      [holdCommand(b.id, 3, { idempotencyKey: 'kb' }), holdCommand(b.id, 1, { idempotencyKey: 'kb' })],
      // Three runs (exact, GA, exact): the third must see the seats the first took.
      [exact(seats[0]!, seats[1]!), holdCommand(c.id, 2), exact(seats[1]!, seats[2]!), exact(seats[2]!, seats[3]!)],
    ];
    const decided = await inTransaction(sql, (tx) => decideHoldsOfShows(tx, batches));
    const outcome = (d: (typeof decided)[number][number]) => d.booking?.rejection?.code ?? d.booking?.status;
    t.same(decided.map((ds) => ds.map(outcome)), [
      ['HELD', 'HELD', 'SOLD_OUT'],
      ['HELD', 'DUPLICATE_REQUEST'],
      ['HELD', 'HELD', 'SEATS_UNAVAILABLE', 'HELD'],
    ]);
    t.same(decided[2]![3]!.booking?.seats.map((s) => s.id), [seats[2], seats[3]]);
    t.equal(decided[2]![1]!.booking?.seats.every((s) => s.tier === 'GA'), true);
    // Every show's own TTL, from the one transaction's clock; the documents match the rows.
    const held = decided.flat().filter((d) => d.booking?.status === 'HELD');
    const rows = await sql<{ id: string; expiresAt: Date }[]>`select id, expires_at from bookings where id = any(${held.map((d) => d.booking!.id)}::uuid[])`;
    for (const r of rows) t.equal(held.find((d) => d.booking!.id === r.id)!.booking!.expiresAt, r.expiresAt.toISOString());
    const expiry = (i: number) => Date.parse(decided[i]![0]!.booking!.expiresAt!);
    t.equal(expiry(1) - expiry(0), 60_000);
    t.equal(expiry(0) - expiry(2), 30_000);
    const counts = await sql<{ showId: string; held: number }[]>`
      select show_id, count(*)::int as held from seats
       where status = 'HELD' and show_id = any(${[a.id, b.id, c.id]}::uuid[]) group by show_id`;
    t.same(Object.fromEntries(counts.map((r) => [r.showId, r.held])), { [a.id]: 4, [b.id]: 3, [c.id]: 6 });
    // Replayed together: nothing changes, the same documents come back.
    const again = await inTransaction(sql, (tx) => decideHoldsOfShows(tx, batches));
    t.same(again.map((ds) => ds.map((d) => d.changed)), batches.map((cmds) => cmds.map(() => false)));
    t.same(again.map((ds) => ds.map((d) => d.booking)), decided.map((ds) => ds.map((d) => d.booking)));
  });

  // What the API never sends but a job might carry (an old or hand-made job): decided safely.
  await t.test('a seat of another show is refused without waiting on that show\'s locks', async (t) => {
    const seated = await createShow(sql, {
      id: randomUUID(),
      name: 'seated',
      venue: 'v',
      startsAt: '2030-01-01T00:00:00Z',
      holdTtlSeconds: 60,
      tiers: [{ code: 'SEAT', name: 'Seat', priceCents: 900, currency: 'EUR' }],
      seating: [{ tier: 'SEAT', section: 'A', rows: 1, seatsPerRow: 2 }],
    });
    const other = await newShow(5);
    const [seat] = (await sql<{ id: string }[]>`select id from seats where show_id = ${seated.id} order by rank`).map((r) => r.id);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = sql.begin(async (tx) => {
      await tx`select id from seats where id = ${seat!} for update`;
      locked();
      await released;
    });
    await isLocked;
    try {
      const decided = await inTransaction(sql, async (tx) => {
        await tx`set local lock_timeout = '2s'`;
        return decideHoldsOfShows(tx, [[holdCommand(other.id, 1, { request: { seatIds: [seat!] } })]]);
      });
      t.equal(decided[0]![0]!.booking?.rejection?.code, 'SEATS_UNAVAILABLE');
    } finally {
      release();
      await holder;
    }
    t.equal((await sql`select status from seats where id = ${seat!}`)[0]!.status, 'AVAILABLE');
  });

  await t.test('a tier named twice in one request is all or nothing over both', async (t) => {
    const show = await newShow(1);
    const twice = hold(show.id, 1, { request: { items: [{ tier: 'GA', quantity: 1 }, { tier: 'GA', quantity: 1 }] } });
    t.equal((await holdSeats(sql, twice)).booking?.rejection?.code, 'SOLD_OUT');
    t.equal((await holdSeats(sql, hold(show.id, 1))).booking?.status, 'HELD', 'the seat is still there');
  });

  await t.test('a new booking with the key of a booking replayed in the same batch is a duplicate', async (t) => {
    const show = await newShow(5);
    const first = hold(show.id, 1, { idempotencyKey: 'replayed-key' });
    t.equal((await holdSeats(sql, first)).booking?.status, 'HELD');
    const [decided] = await inTransaction(sql, (tx) => decideHoldsOfShows(tx, [[first, hold(show.id, 1, { idempotencyKey: 'replayed-key' })]]));
    t.same(decided!.map((d) => [d.changed, d.booking?.rejection?.code ?? d.booking?.status]), [[false, 'HELD'], [true, 'DUPLICATE_REQUEST']]);
  });

  await t.test('two batches of one show, or a show that does not exist, are refused', async (t) => {
    const show = await newShow(5);
    await t.rejects(inTransaction(sql, (tx) => decideHoldsOfShows(tx, [[hold(show.id)], [hold(show.id)]])), InvalidCommand);
    await t.rejects(inTransaction(sql, (tx) => decideHoldsOfShows(tx, [[hold(show.id)], [hold(randomUUID())]])), InvalidCommand);
    t.equal((await sql`select 1 from bookings where show_id = ${show.id}`).length, 0, 'nothing written');
  });
});
