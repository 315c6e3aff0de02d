import postgres from 'postgres';
import t from 'tap';
import { parseEnv, type Booking } from '@booking/contracts';
import { buildApp } from '../src/app.js';
import { ApiConfigSchema, type ApiConfig } from '../src/config.js';
import { startSystem, type System } from './helpers/system.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function seatIds(sys: System, showId: string, query = 'status=AVAILABLE&limit=500') {
  const res = await sys.http<{ items: { id: string; label: string | null; tier: string }[] }>('GET', `/v1/shows/${showId}/seats?${query}`);
  return res.body.items;
}

async function hold(sys: System, showId: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await sys.book(showId, body, { prefer: 'wait=10', ...headers });
  if (res.status !== 201) throw new Error(`hold: ${res.status} ${res.text}`);
  return res.body;
}

async function payments(sys: System, bookingId: string) {
  const sql = postgres(sys.db.url, { max: 1, onnotice: () => {} });
  try {
    return await sql<{ kind: string; amount_cents: number }[]>`select kind, amount_cents from payments where booking_id = ${bookingId} order by kind`;
  } finally {
    await sql.end();
  }
}

t.test('booking lifecycle', async (t) => {
  const sys = await startSystem(t, { workers: 1 });
  const show = await sys.createShow();

  await t.test('exact seats are held with their labels and prices', async (t) => {
    const [a, b] = await seatIds(sys, show.id, 'tier=VIP&status=AVAILABLE&limit=2');
    const booking = await hold(sys, show.id, { seatIds: [a!.id, b!.id], customerRef: 'cust-1' });
    t.equal(booking.status, 'HELD');
    t.same(booking.seats.map((s) => s.id).sort(), [a!.id, b!.id].sort());
    t.same(booking.seats.map((s) => s.label), ['A-1-1', 'A-1-2']);
    t.equal(booking.totalCents, 20_000);
    t.equal(booking.customerRef, 'cust-1');
    t.ok(Date.parse(booking.expiresAt!) > Date.now() + 500_000, 'expires after the show hold TTL');
    t.same(booking.transitions.map((x) => x.status), ['PENDING', 'HELD']);
  });

  await t.test('a request for a tier that cannot be filled is rejected whole (all or nothing)', async (t) => {
    const before = (await sys.http('GET', `/v1/shows/${show.id}`)).body;
    const booking = await hold(sys, show.id, { items: [{ tier: 'VIP', quantity: 1 }, { tier: 'GA', quantity: 9 }] });
    t.equal(booking.status, 'HELD');
    const big = await hold(sys, show.id, { items: [{ tier: 'VIP', quantity: 2 }, { tier: 'GA', quantity: 8 }] });
    const after = (await sys.http('GET', `/v1/shows/${show.id}`)).body;
    t.equal(big.status, 'HELD', '2 VIP + 8 GA still fit');
    const tooBig = await hold(sys, show.id, { items: [{ tier: 'VIP', quantity: 1 }, { tier: 'GA', quantity: 5 }] });
    t.equal(tooBig.status, 'REJECTED');
    t.equal(tooBig.rejection?.code, 'SOLD_OUT');
    t.same(tooBig.seats, []);
    const final = (await sys.http('GET', `/v1/shows/${show.id}`)).body;
    t.equal(final.totals.held, after.totals.held, 'the rejected request took no VIP seat either');
    t.equal(after.totals.held - before.totals.held, 20);
  });

  await t.test('confirm charges once and is idempotent', async (t) => {
    const [seat] = await seatIds(sys, show.id, 'tier=VIP&status=AVAILABLE&limit=1');
    const booking = await hold(sys, show.id, { seatIds: [seat!.id] });
    const first = await sys.http<Booking>('POST', `/v1/bookings/${booking.id}/confirm`, { body: { paymentToken: 'tok_visa' } });
    t.equal(first.status, 200);
    t.equal(first.body.status, 'CONFIRMED');
    t.equal(first.body.payment?.amountCents, 10_000);
    const again = await Promise.all([1, 2, 3].map(() => sys.http<Booking>('POST', `/v1/bookings/${booking.id}/confirm`, { body: { paymentToken: 'tok_visa' } })));
    t.same(again.map((r) => r.status), [200, 200, 200]);
    t.same(again.map((r) => r.body.payment?.reference), [1, 2, 3].map(() => first.body.payment?.reference));
    t.same(await payments(sys, booking.id), [{ kind: 'CHARGE', amount_cents: 10_000 }]);
    const seats = await seatIds(sys, show.id, 'tier=VIP&status=SOLD&limit=500');
    t.ok(seats.some((s) => s.id === seat!.id), 'the seat is SOLD');
  });

  await t.test('a declined payment is 402 and leaves the hold in place', async (t) => {
    const booking = await hold(sys, show.id, { items: [{ tier: 'VIP', quantity: 1 }] });
    const declined = await sys.http('POST', `/v1/bookings/${booking.id}/confirm`, { body: { paymentToken: 'tok_declined' } });
    t.equal(declined.status, 402);
    t.equal(declined.body.code, 'PAYMENT_DECLINED');
    t.match(declined.headers.get('content-type'), /application\/problem\+json/);
    const still = await sys.http<Booking>('GET', `/v1/bookings/${booking.id}`);
    t.equal(still.body.status, 'HELD');
    t.same(await payments(sys, booking.id), []);
    const ok = await sys.http<Booking>('POST', `/v1/bookings/${booking.id}/confirm`, { body: { paymentToken: 'tok_visa' } });
    t.equal(ok.status, 200, 'another card can still pay');
    t.equal(ok.body.status, 'CONFIRMED');
  });

  await t.test('cancelling a hold frees its seats at once', async (t) => {
    const [seat] = await seatIds(sys, show.id, 'tier=VIP&status=AVAILABLE&limit=1');
    const booking = await hold(sys, show.id, { seatIds: [seat!.id] });
    const cancelled = await sys.http<Booking>('POST', `/v1/bookings/${booking.id}/cancel`, { body: {} });
    t.equal(cancelled.status, 200);
    t.equal(cancelled.body.status, 'CANCELLED');
    t.same(await payments(sys, booking.id), [], 'nothing charged, nothing refunded');
    const again = await hold(sys, show.id, { seatIds: [seat!.id] });
    t.equal(again.status, 'HELD', 'the same seat can be booked right away');
    const repeat = await sys.http<Booking>('POST', `/v1/bookings/${booking.id}/cancel`);
    t.equal(repeat.status, 200, 'a repeated cancel (even without a body) returns the cancelled booking');
    t.equal(repeat.body.status, 'CANCELLED');
  });

  await t.test('cancelling a confirmed booking refunds once and frees its seats', async (t) => {
    const booking = await hold(sys, show.id, { items: [{ tier: 'VIP', quantity: 1 }] });
    await sys.http('POST', `/v1/bookings/${booking.id}/confirm`, { body: { paymentToken: 'tok_visa' } });
    const results = await Promise.all([1, 2].map(() => sys.http<Booking>('POST', `/v1/bookings/${booking.id}/cancel`, { body: { reason: 'changed plans' } })));
    t.same(results.map((r) => r.status), [200, 200]);
    t.equal(results[0]!.body.status, 'CANCELLED');
    t.equal(results[0]!.body.refund?.amountCents, 10_000);
    t.same(await payments(sys, booking.id), [
      { kind: 'CHARGE', amount_cents: 10_000 },
      { kind: 'REFUND', amount_cents: 10_000 },
    ]);
    const confirmAfter = await sys.http('POST', `/v1/bookings/${booking.id}/confirm`, { body: { paymentToken: 'tok_visa' } });
    t.equal(confirmAfter.status, 409);
    t.equal(confirmAfter.body.code, 'BOOKING_FINAL');
  });

  await t.test('the same Idempotency-Key and body give the same booking, also concurrently', async (t) => {
    const body = { items: [{ tier: 'GA', quantity: 1 }], customerRef: 'idem' };
    const sent = await Promise.all(Array.from({ length: 10 }, () => sys.book(show.id, body, { 'idempotency-key': 'key-concurrent' })));
    t.same([...new Set(sent.map((r) => r.status))].filter((s) => s !== 202 && s !== 201), [], 'all accepted');
    t.equal(new Set(sent.map((r) => r.body.id)).size, 1, 'one booking id');
    const decided = await sys.decided(sent[0]!.body.id);
    const later = await sys.book(show.id, { customerRef: 'idem', items: [{ quantity: 1, tier: 'GA' }] }, { 'idempotency-key': 'key-concurrent' });
    t.equal(later.status, 201, 'a decided booking comes back as decided (key order does not matter)');
    t.equal(later.body.id, decided.id);
    t.equal(later.body.status, decided.status);
    const sql = postgres(sys.db.url, { max: 1 });
    const [row] = await sql`select count(*)::int as n from bookings where idempotency_key = 'key-concurrent'`;
    await sql.end();
    t.equal(row!.n, 1, 'one booking row');
  });

  await t.test('the same Idempotency-Key with another body is 422', async (t) => {
    const first = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 1 }] }, { 'idempotency-key': 'key-reused' });
    t.equal(first.status, 202);
    const other = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 2 }] }, { 'idempotency-key': 'key-reused' });
    t.equal(other.status, 422);
    t.equal((other.body as unknown as { code: string }).code, 'IDEMPOTENCY_KEY_REUSED');
  });

  await t.test('ETag and If-None-Match give 304; a long-poll wakes when the booking changes', async (t) => {
    const booking = await hold(sys, show.id, { items: [{ tier: 'GA', quantity: 1 }] });
    const read = await sys.http<Booking>('GET', `/v1/bookings/${booking.id}`);
    const etag = read.headers.get('etag')!;
    t.equal(etag, '"2"');
    const notModified = await sys.http('GET', `/v1/bookings/${booking.id}`, { headers: { 'if-none-match': etag } });
    t.equal(notModified.status, 304);
    const started = Date.now();
    const timedOut = await sys.http('GET', `/v1/bookings/${booking.id}`, { headers: { 'if-none-match': etag, prefer: 'wait=1' } });
    t.equal(timedOut.status, 304, 'no change within the wait → 304');
    t.ok(Date.now() - started >= 900, 'the request waited');
    const polling = sys.http<Booking>('GET', `/v1/bookings/${booking.id}`, { headers: { 'if-none-match': etag, prefer: 'wait=20' } });
    await sleep(100);
    await sys.http('POST', `/v1/bookings/${booking.id}/cancel`, { body: {} });
    const woken = await polling;
    t.equal(woken.status, 200);
    t.equal(woken.body.status, 'CANCELLED');
    t.equal(woken.headers.get('etag'), '"3"');
  });

  await t.test('status reads of a live booking are served without Postgres', async (t) => {
    const booking = await hold(sys, show.id, { items: [{ tier: 'GA', quantity: 1 }] });
    // A second API on the same Redis whose database does not exist: any Postgres query would fail.
    const config = {
      ...parseEnv(ApiConfigSchema, { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/booking_no_such_db', QUEUE_PREFIX: sys.prefix, LOG_LEVEL: 'silent' }),
      ADMIN_TOKEN: 'unused-token',
    } as ApiConfig;
    const blind = await buildApp({ config, logger: false });
    t.teardown(() => blind.close());
    for (let i = 0; i < 20; i++) {
      const res = await blind.inject({ method: 'GET', url: `/v1/bookings/${booking.id}` });
      t.equal(res.statusCode, 200);
      t.equal(res.json().status, 'HELD');
    }
    const ready = await blind.inject({ method: 'GET', url: '/health/ready' });
    t.equal(ready.statusCode, 503, 'that API really has no Postgres');
  });

  t.same((await sys.invariants(show.id)).violations, []);
});

t.test('holds expire', async (t) => {
  const sys = await startSystem(t, { workers: 1 });
  const show = await sys.createShow({ holdTtlSeconds: 1, seating: [{ section: 'B', tier: 'VIP', rows: 1, seatsPerRow: 30 }], generalAdmission: [] });
  const seats = await seatIds(sys, show.id);

  await t.test('a 1-second hold is released by its delayed job and its seats are bookable again', async (t) => {
    const booking = await hold(sys, show.id, { seatIds: [seats[0]!.id, seats[1]!.id] });
    t.equal(booking.status, 'HELD');
    const expired = await sys.decided(booking.id).then(async () => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const res = await sys.http<Booking>('GET', `/v1/bookings/${booking.id}`, { headers: { 'if-none-match': '"2"', prefer: 'wait=5' } });
        if (res.status === 200 && res.body.status !== 'HELD') return res.body;
        if (Date.now() > deadline) throw new Error('not released');
      }
    });
    t.equal(expired.status, 'EXPIRED');
    const lagMs = Date.parse(expired.transitions.at(-1)!.at) - Date.parse(booking.expiresAt!);
    t.ok(lagMs >= 0, `released after expiresAt (lag ${lagMs} ms)`);
    const again = await hold(sys, show.id, { seatIds: [seats[0]!.id, seats[1]!.id] });
    t.equal(again.status, 'HELD', 'the seats can be held again');
  });

  await t.test('a confirmed booking outlives its expiry time', async (t) => {
    const booking = await hold(sys, show.id, { seatIds: [seats[5]!.id] });
    const confirmed = await sys.http<Booking>('POST', `/v1/bookings/${booking.id}/confirm`, { body: { paymentToken: 'tok_visa' } });
    t.equal(confirmed.body.status, 'CONFIRMED');
    await sleep(Math.max(0, Date.parse(booking.expiresAt!) - Date.now()) + 2500);
    const later = await sys.http<Booking>('GET', `/v1/bookings/${booking.id}`);
    t.equal(later.body.status, 'CONFIRMED');
    const sold = await seatIds(sys, show.id, 'status=SOLD&limit=500');
    t.ok(sold.some((s) => s.id === seats[5]!.id));
  });

  await t.test('confirm racing expiry has exactly one winner, decided by database time', async (t) => {
    const bookings: Booking[] = [];
    for (let i = 0; i < 12; i++) bookings.push(await hold(sys, show.id, { seatIds: [seats[10 + i]!.id] }));
    // Confirm each one at a different moment around its expiry: some before, some after.
    const outcomes = await Promise.all(
      bookings.map(async (b, i) => {
        await sleep(Math.max(0, Date.parse(b.expiresAt!) - Date.now() - 300 + i * 50));
        return sys.http('POST', `/v1/bookings/${b.id}/confirm`, { body: { paymentToken: 'tok_visa' } });
      }),
    );
    await sleep(2500);
    let confirmed = 0;
    let expired = 0;
    for (const [i, res] of outcomes.entries()) {
      const final = (await sys.http<Booking>('GET', `/v1/bookings/${bookings[i]!.id}`)).body;
      const charges = (await payments(sys, bookings[i]!.id)).filter((p) => p.kind === 'CHARGE').length;
      if (res.status === 200) {
        confirmed++;
        t.equal(final.status, 'CONFIRMED', 'the confirm won and expiry did not undo it');
        t.equal(charges, 1);
      } else {
        expired++;
        t.equal(res.status, 409);
        t.equal(res.body.code, 'BOOKING_EXPIRED');
        t.equal(final.status, 'EXPIRED', 'expiry won');
        t.equal(charges, 0, 'the loser was not charged');
      }
    }
    t.equal(confirmed + expired, 12);
    t.comment(`${confirmed} confirms won, ${expired} expiries won`);
  });

  t.same((await sys.invariants(show.id)).violations, []);
});

t.test('a show whose commands wait for a worker', async (t) => {
  const sys = await startSystem(t, { workers: 0 });
  const show = await sys.createShow();

  await t.test('a booking stays PENDING without a worker and confirm says so', async (t) => {
    const res = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 1 }] }, { prefer: 'wait=1' });
    t.equal(res.status, 202, 'the wait ran out: still 202');
    t.equal(res.body.status, 'PENDING');
    const confirm = await sys.http('POST', `/v1/bookings/${res.body.id}/confirm`, { body: { paymentToken: 'tok_visa' } });
    t.equal(confirm.status, 409);
    t.equal(confirm.body.code, 'BOOKING_PENDING');

    await t.test('a worker started later attaches and decides it', async (t) => {
      await sys.startWorker();
      const decided = await sys.decided(res.body.id);
      t.equal(decided.status, 'HELD');
    });
  });

  t.same((await sys.invariants(show.id)).violations, []);
});
