import t from 'tap';
import { createSql, getAvailability, holdSeats, updateShow } from '../src/index.js';
import { createGaShow, createTestDatabase, holdCommand } from '../src/testing.js';

// The availability version: every transaction that moves a show's seats (or edits it) gives the
// show the next version, under the show's row lock, so versions follow commit order and a
// snapshot's counts are exactly those of its version.
t.test('show versions', async (t) => {
  const db = await createTestDatabase();
  const sql = createSql(db.url, { max: 32 });
  t.teardown(async () => {
    await sql.end({ timeout: 5 });
    await db.drop(!t.passing());
  });

  await t.test('32 holds of one show in flight at once each get their own version, and none waits for ever', async (t) => {
    const show = await createGaShow(sql, { capacity: 1000 });
    // With a FOR UPDATE of the show row here, the bookings' foreign-key locks (FOR KEY SHARE)
    // made these wait on each other for ever.
    const decisions = await Promise.all(Array.from({ length: 32 }, () => Promise.all(Array.from({ length: 5 }, () => holdSeats(sql, holdCommand(show.id, 1))))));
    const versions = decisions.flat().map((d) => d.showVersion!).sort((a, b) => a - b);
    t.same(versions, Array.from({ length: 160 }, (_, i) => i + 2), 'versions 2…161, one per transaction');
    const snapshot = (await getAvailability(sql, show.id))!;
    t.equal(snapshot.show.version, 161, "the snapshot's version");
    t.equal(snapshot.show.totals.held, 160, 'with exactly those 160 holds');
    t.equal(snapshot.taken.length, 160);
  });

  await t.test('a rejection moves no seat and keeps the version; an edit bumps it', async (t) => {
    const show = await createGaShow(sql, { capacity: 1 });
    const held = await holdSeats(sql, holdCommand(show.id, 1));
    t.equal(held.showVersion, 2);
    const rejected = await holdSeats(sql, holdCommand(show.id, 1));
    t.equal(rejected.booking?.status, 'REJECTED');
    t.equal(rejected.showVersion, undefined, 'no version for a commit that moved no seat');
    await updateShow(sql, show.id, { salesOpen: false });
    t.equal((await getAvailability(sql, show.id))!.show.version, 3, 'PATCH gave the next version');
  });
});
