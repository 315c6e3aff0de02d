import net from 'node:net';
import t, { type Test } from 'tap';
import { createSql, isDbUnreachable, settleAll, settleInLockstep, type Executor, type Sql } from '../src/client.js';
import { inTransaction } from '../src/queries/bookings.js';
import { createTestDatabase } from '../src/testing.js';

/** One connection to a database of the test's own, so every statement shares its socket. */
async function oneConnection(t: Test): Promise<Sql> {
  const db = await createTestDatabase();
  const sql = createSql(db.url, { max: 1 });
  t.teardown(async () => {
    await sql.end({ timeout: 5 });
    await db.drop(!t.passing());
  });
  return sql;
}

/** System calls that send on a socket (write or writev) while `fn` runs. */
async function socketWrites<T>(fn: () => Promise<T>): Promise<{ result: T; writes: number }> {
  const proto = net.Socket.prototype as unknown as { _writeGeneric: (...a: unknown[]) => unknown };
  const original = proto._writeGeneric;
  let writes = 0;
  proto._writeGeneric = function (this: net.Socket, ...args: unknown[]) {
    writes++;
    return original.apply(this, args);
  };
  try {
    return { result: await fn(), writes };
  } finally {
    proto._writeGeneric = original;
  }
}

/** Three statements one after another; each piece's answers take a different time. */
const piece = (i: number) => async (tx: Executor) => {
  let n = 0;
  for (let step = 0; step < 3; step++) {
    const [row] = await tx<{ n: number }[]>`select ${n}::int + 1 as n, pg_sleep(${(i % 5) / 1000})`;
    n = row!.n;
  }
  return n * 100 + i;
};
const pieces = Array.from({ length: 20 }, (_, i) => piece(i));
const expected = pieces.map((_, i) => 300 + i);

t.test('pieces of a transaction in lockstep send each step of all of them in one go', async (t) => {
  const sql = await oneConnection(t);
  // Prepare the statement first: a statement's first run on a connection goes out on its own.
  await inTransaction(sql, (tx) => settleAll(pieces.map((p) => p(tx))));
  const apart = await socketWrites(() => inTransaction(sql, (tx) => settleAll(pieces.map((p) => p(tx)))));
  const together = await socketWrites(() => inTransaction(sql, (tx) => settleInLockstep(tx, pieces)));
  t.same(together.result, expected, 'every piece gets its own answers');
  t.same(apart.result, expected);
  // begin, the transaction's settings, three steps, commit: 6 to 8 writes; on a loaded machine
  // (CI, every package's tests at once) a step's statements now and then straddle two turns of
  // the event loop, which gave 9 once. Unsynchronised they take 29 to 37.
  t.ok(together.writes <= 10, `in lockstep: ${together.writes} writes`);
  t.ok(apart.writes > together.writes * 2, `unsynchronised, the pieces' steps drift apart: ${apart.writes} writes`);
});

t.test('a piece that fails fails the group with its own error, after the others have settled', async (t) => {
  const sql = await oneConnection(t);
  let settled = 0;
  const ok = async (tx: Executor) => {
    try {
      await tx`select pg_sleep(0.01)`;
    } finally {
      settled++;
    }
  };
  const bad = async (tx: Executor) => tx`select 1 / 0`;
  await t.rejects(inTransaction(sql, (tx) => settleInLockstep<unknown>(tx, [ok, bad, ok])), { code: '22012' }, 'division by zero, not "transaction aborted"');
  t.equal(settled, 2, 'the others had settled (no statement was left running)');
  t.same(await sql`select 1 as one`, [{ one: 1 }], 'the connection is usable afterwards');
});

t.test('a statement over 16 KB does not stop the statements after it from being pipelined', async (t) => {
  const sql = await oneConnection(t);
  const big = 'x'.repeat(20_000);
  const work = (tx: Executor) => Promise.all([tx`select length(${big}) as n`, ...Array.from({ length: 10 }, (_, i) => tx<{ i: number }[]>`select ${i}::int as i`)]);
  await inTransaction(sql, work); // prepares both statements
  const { result, writes } = await socketWrites(() => inTransaction(sql, work));
  t.same(result.slice(1).map((r) => r[0]!.i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Sent one by one, the ten would need ten writes (each after the previous answer).
  t.ok(writes <= 5, `${writes} writes for begin, settings, eleven statements and commit`);
});

t.test('a connection Postgres refuses fails with an error that says the database is unreachable', async (t) => {
  const sql = createSql('postgres://postgres@127.0.0.1:1/none', { max: 1 });
  t.teardown(() => sql.end({ timeout: 1 }));
  const err = await sql`select 1`.then(
    () => null,
    (e: unknown) => e,
  );
  t.match(err, { code: 'ECONNREFUSED' });
  t.ok(isDbUnreachable(err));
});
