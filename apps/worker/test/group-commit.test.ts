import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import t from 'tap';
import type { HoldJob } from '@booking/contracts';
import { InvalidCommand, createSql, decideHolds, decideHoldsOfShows, holdSeats, isDbUnreachable, type BookingCommand, type BookingDecision, type Decision, type Executor } from '@booking/db';
import { checkInvariants, createGaShow, createTestDatabase, holdCommand } from '@booking/db/testing';
import { GroupCommit, type Mergeable, type TxWork } from '../src/group-commit.js';
import { MockPaymentProvider } from '../src/payments.js';
import { bookingCommandsDecider } from '../src/processors/booking.js';

const log = pino({ level: 'silent' });

t.test('group commit', async (t) => {
  const db = await createTestDatabase();
  const sql = createSql(db.url, { max: 6 });
  t.teardown(async () => {
    await sql.end({ timeout: 5 });
    await db.drop(!t.passing());
  });

  const newShow = async (capacity = 10) => (await createGaShow(sql, { capacity })).id;
  const hold = holdCommand;

  // The holds' decisions plus the id of the transaction that made them.
  const holdWork = (cmds: HoldJob[]): TxWork<{ txid: string; statuses: string[] }> => async (tx: Executor) => {
    const decisions = await decideHolds(tx, cmds);
    const [row] = await tx<{ txid: string }[]>`select txid_current()::text as txid`;
    return { txid: row!.txid, statuses: decisions.map((d) => d.booking!.status) };
  };
  const committer = (maxInFlight = 1) => {
    const sizes: number[] = [];
    const gc = new GroupCommit({ sql, log, maxInFlight, maxGroup: 64, onCommit: (n) => sizes.push(n) });
    return { gc, sizes };
  };

  await t.test("many shows' work asked for at once shares one transaction, and every decision holds", async (t) => {
    const { gc, sizes } = committer();
    const shows = await Promise.all(Array.from({ length: 12 }, () => newShow()));
    const results = await Promise.all(shows.map((showId) => gc.run(showId, holdWork([hold(showId, 4), hold(showId, 4), hold(showId, 4)]))));
    t.same(sizes, [12], 'one transaction carried all twelve shows');
    t.equal(new Set(results.map((r) => r.txid)).size, 1, 'the same transaction id everywhere');
    for (const r of results) t.same(r.statuses, ['HELD', 'HELD', 'REJECTED'], '4 + 4 of 10 seats, then sold out');
    for (const showId of shows) {
      const report = await checkInvariants(db.url, showId);
      t.same(report.violations, [], 'invariants hold');
      t.equal(report.counts.seatsHeld, 8);
    }
  });

  await t.test("work that arrives while a transaction runs shares the next one; one show's work never shares one", async (t) => {
    const { gc, sizes } = committer();
    const a = await newShow(10);
    const others = await Promise.all(Array.from({ length: 5 }, () => newShow()));
    // Two holds of show A that each want every seat, asked for in the same turn (as with
    // SHOW_CONCURRENCY > 1): in one transaction neither would skip the other's claimed seats.
    const first = gc.run(a, holdWork([hold(a, 10)]));
    const second = gc.run(a, holdWork([hold(a, 10)]));
    const rest = others.map((showId) => gc.run(showId, holdWork([hold(showId)])));
    const [r1, r2, ...r3] = await Promise.all([first, second, ...rest]);
    t.not(r1.txid, r2.txid, "show A's two pieces ran in different transactions");
    t.same([r1.statuses, r2.statuses], [['HELD'], ['REJECTED']], 'exactly one of them got the ten seats');
    t.ok(r3.every((r) => r.txid === r1.txid), "the other shows' work went with A's first piece");
    t.same(sizes, [6, 1]);
    t.same((await checkInvariants(db.url, a)).violations, []);
  });

  await t.test('a piece that fails fails alone: the rest of its group is committed', async (t) => {
    const { gc, sizes } = committer();
    const shows = await Promise.all(Array.from({ length: 4 }, () => newShow()));
    const missing = randomUUID(); // no such show: decideHolds throws InvalidCommand
    const settled = await Promise.allSettled([
      ...shows.map((showId) => gc.run(showId, holdWork([hold(showId)]))),
      gc.run(missing, holdWork([hold(missing)])),
    ]);
    t.same(sizes, [5], 'they were asked for together');
    t.ok(settled.slice(0, 4).every((s) => s.status === 'fulfilled' && s.value.statuses[0] === 'HELD'), 'the good pieces are decided');
    const bad = settled[4]!;
    t.ok(bad.status === 'rejected' && bad.reason instanceof InvalidCommand, 'the bad piece gets its own error');
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from bookings where show_id = any(${shows}::uuid[]) and status = 'HELD'`;
    t.equal(row!.n, 4, 'the good pieces are committed');
  });

  await t.test('pieces of one kind are merged into one call for all their shows; other work runs as it is', async (t) => {
    const { gc, sizes } = committer();
    const calls: number[] = [];
    const merge = (cmds: HoldJob[]): Mergeable<HoldJob[], Decision[]> => ({
      key: 'holds',
      input: cmds,
      many: (tx, batches) => {
        calls.push(batches.length);
        return decideHoldsOfShows(tx, batches);
      },
    });
    const mergedRun = (showId: string, cmds: HoldJob[]) => gc.run(showId, (tx) => decideHolds(tx, cmds), merge(cmds));
    const statuses = (ds: Decision[]) => ds.map((d) => d.booking!.status);
    const shows = await Promise.all(Array.from({ length: 6 }, () => newShow()));
    const merged = shows.slice(0, 4).map((showId) => mergedRun(showId, [hold(showId, 4), hold(showId, 4), hold(showId, 4)]));
    const alone = shows.slice(4).map((showId) => gc.run(showId, holdWork([hold(showId, 10)])));
    const [m, a] = await Promise.all([Promise.all(merged), Promise.all(alone)]);
    t.same(sizes, [6], 'one transaction');
    t.same(calls, [4], "the four shows' holds were decided by one call");
    for (const ds of m) t.same(statuses(ds), ['HELD', 'HELD', 'REJECTED'], "each show's own answers, in order");
    for (const r of a) t.same(r.statuses, ['HELD']);
    for (const showId of shows) t.same((await checkInvariants(db.url, showId)).violations, []);

    // A merged call that fails (a show that does not exist) falls back to each piece alone.
    calls.length = 0;
    const good = await newShow();
    const missing = randomUUID();
    const settled = await Promise.allSettled([mergedRun(good, [hold(good, 2)]), mergedRun(missing, [hold(missing)])]);
    t.same(calls, [2], 'tried together once');
    t.ok(settled[0].status === 'fulfilled' && statuses(settled[0].value)[0] === 'HELD', 'the good piece is decided alone');
    t.ok(settled[1].status === 'rejected' && settled[1].reason instanceof InvalidCommand, 'the bad piece gets its own error');
  });

  await t.test("confirms, cancels and expiries of several shows are decided as one list, each show answered its own", async (t) => {
    const { gc, sizes } = committer();
    const decider = bookingCommandsDecider(new MockPaymentProvider());
    let calls = 0;
    const merge = (cmds: BookingCommand[]): Mergeable<BookingCommand[], BookingDecision[]> => ({
      key: decider.key,
      input: cmds,
      many: (tx, batches) => {
        calls++;
        return decider.many(tx, batches);
      },
    });
    const shows = await Promise.all(Array.from({ length: 3 }, () => newShow()));
    const held = await Promise.all(shows.map(async (showId) => [(await holdSeats(sql, hold(showId, 2))).booking!.id, (await holdSeats(sql, hold(showId, 1))).booking!.id]));
    const batches: BookingCommand[][] = [
      [{ kind: 'confirm', bookingId: held[0]![0]!, paymentToken: 'tok_visa' }, { kind: 'cancel', bookingId: held[0]![1]!, reason: null }],
      [{ kind: 'confirm', bookingId: held[1]![0]!, paymentToken: 'tok_declined' }],
      [{ kind: 'expire', bookingId: held[2]![0]! }, { kind: 'confirm', bookingId: held[2]![1]!, paymentToken: 'tok_visa' }],
    ];
    const answers = await Promise.all(batches.map((cmds, i) => gc.run(shows[i]!, (tx) => decider.one(tx, cmds), merge(cmds))));
    t.same(sizes, [3], 'one transaction');
    t.equal(calls, 1, "the three shows' commands were decided by one call");
    t.same(
      answers.map((ds) => ds.map((d) => [d.outcome, d.booking?.status])),
      [
        [['OK', 'CONFIRMED'], ['OK', 'CANCELLED']],
        [['PAYMENT_DECLINED', 'HELD']],
        [['OK', 'HELD'], ['OK', 'CONFIRMED']],
      ],
      "each show's own answers, in order (an expiry before its time changes nothing)",
    );
    t.ok((answers[2]![0]!.retryInMs ?? 0) > 0, 'the early expiry is told how long to wait');
    for (const showId of shows) t.same((await checkInvariants(db.url, showId)).violations, []);
  });

  await t.test('never more transactions in flight than allowed', async (t) => {
    const { gc, sizes } = committer(2);
    const open = new Map<string, number>(); // transaction id → its pieces still running
    let most = 0;
    const slow: TxWork<void> = async (tx) => {
      const [row] = await tx<{ txid: string }[]>`select txid_current()::text as txid`;
      const txid = row!.txid;
      open.set(txid, (open.get(txid) ?? 0) + 1);
      most = Math.max(most, open.size);
      await tx`select pg_sleep(0.05)`;
      if (open.get(txid) === 1) open.delete(txid);
      else open.set(txid, open.get(txid)! - 1);
    };
    // Asked for one after another, each in its own turn of the event loop.
    const done: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      done.push(gc.run(randomUUID(), slow));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(done);
    t.equal(most, 2, 'two transactions ran at once, never more');
    t.ok(sizes.length < 20, `20 pieces went in ${sizes.length} transactions (${sizes.join(', ')})`);
    t.equal(sizes.reduce((n, s) => n + s, 0), 20, 'each piece ran once');
  });

  await t.test('Postgres unreachable: every piece of the group gets that error, none is retried alone', async (t) => {
    const away = createSql('postgres://postgres@127.0.0.1:1/none', { max: 2 });
    t.teardown(() => away.end({ timeout: 1 }));
    const gc = new GroupCommit({ sql: away, log, maxInFlight: 1, maxGroup: 64 });
    let calls = 0;
    const work: TxWork<void> = async () => {
      calls++;
    };
    const settled = await Promise.allSettled([gc.run('a', work), gc.run('b', work), gc.run('c', work)]);
    t.ok(settled.every((s) => s.status === 'rejected' && isDbUnreachable(s.reason)), 'all rejected as unreachable');
    t.equal(calls, 0, 'no work ran');
  });
});
