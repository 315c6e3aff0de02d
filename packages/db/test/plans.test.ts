import t from 'tap';
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
 * Sequential scans of seats and bookings that `work` ran. The counters are this connection's
 * not yet reported ones (they may include earlier transactions' too), hence the difference.
 */
async function seqScansOf<T>(tx: Executor, work: () => Promise<T>): Promise<{ result: T; scans: Record<string, number> }> {
  const read = async () =>
    Object.fromEntries(
      (await tx<{ relname: string; seqScan: number }[]>`
        select relname, seq_scan::int from pg_stat_xact_user_tables where relname in ('seats', 'bookings')`).map((r) => [r.relname, r.seqScan]),
    );
  const before = await read();
  const result = await work();
  const after = await read();
  return { result, scans: { seats: (after.seats ?? 0) - (before.seats ?? 0), bookings: (after.bookings ?? 0) - (before.bookings ?? 0) } };
}

// A batch of one or two commands must reach its seats and bookings through their indexes: a
// full scan of seats reads every seat of every show, and its cost grows with the database.
t.test('batches touch seats and bookings through indexes, not scans of every show', async (t) => {
  const db = await createTestDatabase();
  const sql = createSql(db.url, { max: 2 });
  t.teardown(async () => {
    await sql.end({ timeout: 5 });
    await db.drop(!t.passing());
  });
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
