import t, { type Test } from 'tap';
import type { PaymentProvider } from '@booking/contracts';
import { createSql, type Executor } from '../src/client.js';
import { decideBookingCommands, decideHolds, inTransaction } from '../src/queries/bookings.js';
import { createGaShow, createTestDatabase, holdCommand } from '../src/testing.js';

// Every provider call succeeds; this test is about the statements, not payments.
const payments: PaymentProvider = {
  charge: async (req) => ({ ok: true, reference: `ch_${req.key}` }),
  refund: async (req) => ({ reference: `re_${req.key}` }),
};

/**
 * Sequential scans of `tables` that `work` ran. The counters are this connection's not yet
 * reported ones (they may include earlier transactions' too), hence the difference.
 */
async function seqScansOf<T>(
  tx: Executor,
  work: () => Promise<T>,
  tables: readonly string[] = ['seats', 'bookings'],
): Promise<{ result: T; scans: Record<string, number> }> {
  const read = async () =>
    new Map(
      (await tx<{ relname: string; seqScan: number }[]>`
        select relname, seq_scan::int from pg_stat_xact_user_tables where relname = any(${tables as string[]})`).map((r) => [r.relname, r.seqScan]),
    );
  const before = await read();
  const result = await work();
  const after = await read();
  return { result, scans: Object.fromEntries(tables.map((name) => [name, (after.get(name) ?? 0) - (before.get(name) ?? 0)])) };
}

/** A pool of `max` connections to a database of the subtest's own, gone with it. */
async function testSql(t: Test, max: number) {
  const db = await createTestDatabase();
  const sql = createSql(db.url, { max });
  t.teardown(async () => {
    await sql.end({ timeout: 5 });
    await db.drop(!t.passing());
  });
  return sql;
}

// A batch of one or two commands must reach its seats and bookings through their indexes: a
// full scan of seats reads every seat of every show, and its cost grows with the database.
t.test('batches touch seats and bookings through indexes, not scans of every show', async (t) => {
  const sql = await testSql(t, 2);
  const [show] = await Promise.all([createGaShow(sql, { capacity: 4000 }), createGaShow(sql, { capacity: 4000 })]);
  // Enough bookings that reading all of them is clearly the worse plan, and fresh statistics.
  for (let i = 0; i < 20; i++) {
    await inTransaction(sql, (tx) => decideHolds(tx, Array.from({ length: 100 }, () => holdCommand(show.id, 1))));
  }
  await sql`analyze seats`;
  await sql`analyze bookings`;

  const held = await inTransaction(sql, async (tx) => {
    const { result, scans } = await seqScansOf(tx, () => decideHolds(tx, [holdCommand(show.id, 2), holdCommand(show.id, 1), holdCommand(show.id, 3)]));
    t.same(scans, { seats: 0, bookings: 0 }, 'a batch of holds');
    return result.map((d) => d.booking!.id);
  });
  t.equal(held.length, 3);

  await inTransaction(sql, async (tx) => {
    const { result, scans } = await seqScansOf(tx, () =>
      decideBookingCommands(tx, payments, [
        { kind: 'confirm', bookingId: held[0]!, paymentToken: 'tok_visa' },
        { kind: 'cancel', bookingId: held[1]!, reason: null },
      ]),
    );
    t.same(result.map((d) => d.booking?.status), ['CONFIRMED', 'CANCELLED']);
    t.same(scans, { seats: 0, bookings: 0 }, 'a confirm and a cancel of a hold');
  });

  await inTransaction(sql, async (tx) => {
    const { result, scans } = await seqScansOf(tx, () => decideBookingCommands(tx, payments, [{ kind: 'cancel', bookingId: held[0]!, reason: null }]));
    t.equal(result[0]?.booking?.status, 'CANCELLED');
    t.same(scans, { seats: 0, bookings: 0 }, 'a refunded cancel');
  });
});

// postgres.js prepares every statement once per connection and Postgres then keeps a generic
// plan for it, made on the table sizes of that moment. Plans made on an on-sale's first, nearly
// empty tables must not go on scanning them once they hold thousands of rows.
t.test('plans made while the tables were empty do not scan them once they have grown', async (t) => {
  // One connection: it makes the plans early and uses them late.
  const sql = await testSql(t, 1);
  const tables = ['seats', 'bookings', 'booking_seats', 'booking_events', 'payments'];
  const noScans = Object.fromEntries(tables.map((name) => [name, 0]));
  const cycle = async (show: string, n: number) => {
    const held = await inTransaction(sql, (tx) => decideHolds(tx, Array.from({ length: n }, () => holdCommand(show, 1))));
    const ids = held.map((d) => d.booking!.id);
    await inTransaction(sql, (tx) =>
      decideBookingCommands(
        tx,
        payments,
        ids.map((bookingId, i) => (i % 2 === 0 ? { kind: 'confirm' as const, bookingId, paymentToken: 'tok_visa' } : { kind: 'cancel' as const, bookingId, reason: null })),
      ),
    );
    return ids;
  };
  // Past the five custom plans after which Postgres settles on a generic one.
  const first = await createGaShow(sql, { capacity: 40 });
  for (let i = 0; i < 10; i++) await cycle(first.id, 2);
  const big = await createGaShow(sql, { capacity: 6000 });
  for (let i = 0; i < 30; i++) await cycle(big.id, 100);

  const ids = await inTransaction(sql, (tx) => decideHolds(tx, [holdCommand(big.id, 2), holdCommand(big.id, 1)])).then((d) => d.map((x) => x.booking!.id));
  await inTransaction(sql, async (tx) => {
    const { result, scans } = await seqScansOf(
      tx,
      () =>
        decideBookingCommands(tx, payments, [
          { kind: 'confirm', bookingId: ids[0]!, paymentToken: 'tok_visa' },
          { kind: 'cancel', bookingId: ids[1]!, reason: null },
        ]),
      tables,
    );
    t.same(result.map((d) => d.booking?.status), ['CONFIRMED', 'CANCELLED']);
    t.same(scans, noScans, 'a confirm and a cancel, 3,000 bookings later');
  });
  await inTransaction(sql, async (tx) => {
    const { scans } = await seqScansOf(tx, () => decideHolds(tx, [holdCommand(big.id, 2)]), tables);
    t.same(scans, noScans, 'a hold, 3,000 bookings later');
  });
});
