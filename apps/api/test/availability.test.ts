import { once } from 'node:events';
import postgres from 'postgres';
import t, { type Test } from 'tap';
import type { Booking, Seat, SeatList, Show } from '@booking/contracts';
import { freePort, sleep, startRedisServer, startSystem, type System } from './helpers/system.js';

type Sql = ReturnType<typeof postgres>;
type Counts = { total: number; available: number; held: number; sold: number };

function testSql(t: Test, sys: System): Sql {
  const sql = postgres(sys.db.url, { max: 2, onnotice: () => {}, transform: postgres.camel });
  t.teardown(() => sql.end({ timeout: 5 }));
  return sql;
}

/** Per-tier counts and the version, straight from the seat rows and the show row. */
async function fromSql(sql: Sql, showId: string) {
  const rows = await sql<{ tier: string; status: string; n: number }[]>`
    select tier_code as tier, status, count(*)::int as n from seats where show_id = ${showId} group by 1, 2`;
  const tiers: Record<string, Counts> = {};
  for (const r of rows) {
    const c = (tiers[r.tier] ??= { total: 0, available: 0, held: 0, sold: 0 });
    c.total += r.n;
    c[r.status.toLowerCase() as 'available' | 'held' | 'sold'] += r.n;
  }
  const [show] = await sql<{ version: string; salesOpen: boolean }[]>`select version, sales_open from shows where id = ${showId}`;
  return { tiers, version: Number(show!.version), salesOpen: show!.salesOpen };
}

const tiersOf = (show: Show) => Object.fromEntries(show.tiers.map((x) => [x.code, { total: x.total, available: x.available, held: x.held, sold: x.sold }]));

/**
 * GET /v1/shows/:id (Redis) until it equals SQL: the worker writes the document just after its
 * commit, so right after a decision is seen it may be a moment behind. Fails after `ms`.
 */
async function equalsSql(t: Test, sys: System, sql: Sql, showId: string, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await sys.http<Show>('GET', `/v1/shows/${showId}`);
    const want = await fromSql(sql, showId);
    const same = res.status === 200 && JSON.stringify(tiersOf(res.body)) === JSON.stringify(Object.fromEntries(Object.keys(tiersOf(res.body)).map((k) => [k, want.tiers[k]])));
    if ((same && res.body.version === want.version) || Date.now() > deadline) {
      t.equal(res.status, 200, `${what}: GET answers`);
      t.same(tiersOf(res.body), want.tiers, `${what}: per-tier counts equal the seat rows in SQL`);
      t.equal(res.body.version, want.version, `${what}: version equals the show's in Postgres`);
      t.equal(res.headers.get('etag'), `"${res.body.version}"`, `${what}: the ETag is the version`);
      return res.body;
    }
    await sleep(50);
  }
}

async function allSeats(sys: System, showId: string, query = ''): Promise<Seat[]> {
  const out: Seat[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: SeatList } = await sys.http<SeatList>('GET', `/v1/shows/${showId}/seats?limit=7${query}${cursor ? `&cursor=${cursor}` : ''}`);
    if (res.status !== 200) throw new Error(`seat map: ${res.status}`);
    out.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return out;
}

t.test('availability and seat map from Redis', async (t) => {
  const sys = await startSystem(t, { workers: 1 });
  const sql = testSql(t, sys);
  const show = await sys.createShow({ holdTtlSeconds: 2 });

  await t.test('a new show answers from its availability document with an ETag; If-None-Match gives 304', async (t) => {
    const first = await equalsSql(t, sys, sql, show.id, 'new show');
    t.equal(first.waiting, 0, 'nothing waiting');
    const again = await sys.http('GET', `/v1/shows/${show.id}`, { headers: { 'if-none-match': `"${first.version}"` } });
    t.equal(again.status, 304);
    t.equal(again.text, '', 'no body');
    t.equal(again.headers.get('etag'), `"${first.version}"`);
  });

  await t.test('a long-poll on a show answers as soon as a decision changes it, and 304 when nothing does', async (t) => {
    const before = (await sys.http<Show>('GET', `/v1/shows/${show.id}`)).body;
    const quiet = await sys.http('GET', `/v1/shows/${show.id}`, { headers: { 'if-none-match': `"${before.version}"`, prefer: 'wait=1' } });
    t.equal(quiet.status, 304, 'no change within the wait: 304');
    t.equal(quiet.headers.get('preference-applied'), 'wait=1');
    const started = Date.now();
    const poll = sys.http<Show>('GET', `/v1/shows/${show.id}`, { headers: { 'if-none-match': `"${before.version}"`, prefer: 'wait=10' } });
    await sleep(100);
    const booking = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 2 }] });
    t.equal(booking.status, 202);
    const res = await poll;
    t.equal(res.status, 200, 'woken by the change');
    t.ok(Date.now() - started < 5000, 'long before the wait ran out');
    t.ok(res.body.version > before.version, 'with a later version');
    t.equal(res.body.tiers.find((x) => x.code === 'GA')!.held, 2, 'the two seats held');
    await equalsSql(t, sys, sql, show.id, 'after the hold');
  });

  await t.test('the seat map answers statuses from Redis: held seats with their expiry, every page equal to SQL', async (t) => {
    const vip = (await allSeats(sys, show.id, '&tier=VIP')).slice(0, 3);
    const res = await sys.book(show.id, { seatIds: vip.map((s) => s.id) }, { prefer: 'wait=5' });
    t.equal(res.status, 201);
    t.equal(res.body.status, 'HELD');
    await equalsSql(t, sys, sql, show.id, 'after the exact seats');
    const held = await allSeats(sys, show.id, '&status=HELD&tier=VIP');
    t.same(held.map((s) => s.id), vip.map((s) => s.id), 'the three VIP seats are HELD, in map order');
    t.ok(held.every((s) => s.expiresAt === res.body.expiresAt), "each carries its hold's expiry");
    const all = await allSeats(sys, show.id);
    const rows = await sql<{ id: string; status: string }[]>`select id, status from seats where show_id = ${show.id} order by rank`;
    t.same(all.map((s) => [s.id, s.status]), rows.map((r) => [r.id, r.status]), 'the whole map, page by page, equals the seat rows');
    const page = await sys.http<SeatList>('GET', `/v1/shows/${show.id}/seats?limit=5`);
    const etag = page.headers.get('etag')!;
    t.match(etag, /^"\d+"$/, 'a page has the show version as ETag');
    const same = await sys.http('GET', `/v1/shows/${show.id}/seats?limit=5`, { headers: { 'if-none-match': etag } });
    t.equal(same.status, 304, 'and If-None-Match gives 304 while nothing changed');
  });

  await t.test('expired holds give their seats back in the document', async (t) => {
    // holdTtlSeconds is 2: every hold made so far expires.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const { tiers } = await fromSql(sql, show.id);
      if (Object.values(tiers).every((c) => c.held === 0)) break;
      await sleep(100);
    }
    const after = await equalsSql(t, sys, sql, show.id, 'after the expiries');
    t.equal(after.totals.held, 0, 'nothing held any more');
    t.equal(after.totals.available, after.totals.total, 'everything available');
    t.same(await allSeats(sys, show.id, '&status=HELD'), [], 'no seat of the map is HELD');
  });

  await t.test('closing sales (PATCH) shows in the document at once, with a later version', async (t) => {
    const before = (await sys.http<Show>('GET', `/v1/shows/${show.id}`)).body;
    const patched = await sys.http('PATCH', `/v1/shows/${show.id}`, { admin: true, body: { salesOpen: false } });
    t.equal(patched.status, 200);
    const now = await sys.http<Show>('GET', `/v1/shows/${show.id}`);
    t.equal(now.body.salesOpen, false, 'salesOpen false');
    t.ok(now.body.version > before.version, 'the version grew');
    const db = await fromSql(sql, show.id);
    t.equal(db.salesOpen, false);
    await equalsSql(t, sys, sql, show.id, 'after PATCH');
  });

  await t.test('an unknown show is 404 from the document store as from Postgres', async (t) => {
    const res = await sys.http('GET', '/v1/shows/00000000-0000-4000-8000-000000000000');
    t.equal(res.status, 404);
    t.equal(res.body.code, 'SHOW_NOT_FOUND');
    const seats = await sys.http('GET', '/v1/shows/00000000-0000-4000-8000-000000000000/seats');
    t.equal(seats.status, 404);
  });

  t.same((await sys.invariants(show.id)).violations, []);
});

t.test('a flood of random ids reaches Postgres once per id', async (t) => {
  // No worker: nothing else reads this database's tables, so their scan counts are the API's.
  const sys = await startSystem(t, { workers: 0 });
  const sql = testSql(t, sys);
  // Reads of the shows and bookings tables (each look-up of an id is one scan of one of them).
  // A backend that reported less than a second ago reports again after 10 s idle (PGSTAT_IDLE_INTERVAL).
  const scans = async (settle: number) => {
    await sleep(settle);
    const rows = await sql<{ relname: string; n: string }[]>`
      select relname, coalesce(seq_scan, 0) + coalesce(idx_scan, 0) as n from pg_stat_user_tables where relname in ('shows', 'bookings')`;
    return Object.fromEntries(rows.map((r) => [r.relname, Number(r.n)])) as { shows: number; bookings: number };
  };
  const ids = Array.from({ length: 40 }, () => crypto.randomUUID());
  const before = await scans(0); // a new database: nothing read yet
  const answers = await Promise.all(
    ids.flatMap((id) => Array.from({ length: 25 }, (_, i) => sys.http('GET', i % 2 ? `/v1/shows/${id}` : `/v1/bookings/${id}`))),
  );
  // Asked again at once: answered as unknown without another read.
  const again = await Promise.all(ids.flatMap((id) => [sys.http('GET', `/v1/shows/${id}`), sys.http('GET', `/v1/bookings/${id}`)]));
  const after = await scans(11_000);
  t.same([...new Set([...answers, ...again].map((a) => a.status))], [404], 'every guess is 404');
  t.comment(`reads for 1,080 requests of 40 unknown show ids and 40 unknown booking ids: shows ${after.shows - before.shows}, bookings ${after.bookings - before.bookings}`);
  t.equal(after.shows - before.shows, 40, 'one read of shows per unknown show id');
  t.equal(after.bookings - before.bookings, 40, 'one read of bookings per unknown booking id');
});

t.test('Redis restarted without its data', async (t) => {
  const port = await freePort();
  const own = { redis: await startRedisServer(port) };
  t.teardown(() => {
    own.redis.kill('SIGKILL');
  });
  const sys = await startSystem(t, { workers: 1, redisUrl: `redis://127.0.0.1:${port}` });
  const sql = testSql(t, sys);
  const show = await sys.createShow();
  const first = await Promise.all(Array.from({ length: 10 }, () => sys.book(show.id, { items: [{ tier: 'GA', quantity: 1 }] })));
  await Promise.all(first.map((r) => sys.decided(r.body.id)));
  const before = await equalsSql(t, sys, sql, show.id, 'before the restart');
  t.equal(before.totals.held, 10);

  own.redis.kill('SIGKILL');
  await once(own.redis, 'exit');
  own.redis = await startRedisServer(port);

  await t.test('the document is rebuilt from Postgres, and its version never goes back', async (t) => {
    let res: { status: number; body: Show } = { status: 0, body: before };
    for (let i = 0; i < 100 && res.status !== 200; i++) {
      await sleep(100);
      res = await sys.http<Show>('GET', `/v1/shows/${show.id}`);
    }
    t.equal(res.status, 200, 'answers again once Redis is back');
    t.ok(res.body.version >= before.version, `version ${res.body.version} ≥ ${before.version}`);
    t.same(res.body.totals, before.totals, 'the same counts, from the seat rows');
    const more = [];
    while (more.length < 5) {
      const r = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 1 }] });
      if (r.status === 202) more.push(r);
      else if (r.status !== 503 || more.length > 0) t.fail(`booking answered ${r.status} ${r.text}`);
      else await sleep(100); // the queues' connection may still be coming back
    }
    const docs: Booking[] = await Promise.all(more.map((r) => sys.decided(r.body.id)));
    t.same(docs.map((d) => d.status), ['HELD', 'HELD', 'HELD', 'HELD', 'HELD']);
    const after = await equalsSql(t, sys, sql, show.id, 'after more holds');
    t.equal(after.totals.held, 15, 'every hold counted once');
    t.ok(after.version > res.body.version, 'and the version kept growing');
  });

  t.same((await sys.invariants(show.id)).violations, []);
});
