import t from 'tap';
import type { Booking, BookingList, CreateShowBody, Seat, SeatList, Show, ShowList, ShowSummary } from '@booking/contracts';
import { defaultShow, startSystem, type System } from './helpers/system.js';

type Counts = { total: number; available: number; held: number; sold: number };
type OpenApi = {
  openapi: string;
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: unknown }> }; responses?: Record<string, unknown> }>>;
};

const layout = (): CreateShowBody => ({
  name: 'Layout show',
  venue: 'Big hall',
  startsAt: '2031-06-01T19:30:00.000Z',
  holdTtlSeconds: 600,
  maxSeatsPerBooking: 6,
  tiers: [
    { code: 'VIP', name: 'VIP', priceCents: 12_000, currency: 'EUR' },
    { code: 'FRONT', name: 'Front stalls', priceCents: 8_000, currency: 'EUR' },
    { code: 'GA', name: 'Standing', priceCents: 3_000, currency: 'EUR' },
  ],
  seating: [
    { section: 'A', tier: 'VIP', rows: 2, seatsPerRow: 5 },
    { section: 'B', tier: 'FRONT', rows: 3, seatsPerRow: 4 },
  ],
  generalAdmission: [{ tier: 'GA', capacity: 25 }],
});

/** Follows nextCursor from the first page to the last; fails on a page that is not 200. */
async function allPages<T>(sys: System, path: string, opts: { admin?: boolean; maxPages?: number } = {}) {
  const pages: { items: T[]; nextCursor: string | null }[] = [];
  let cursor: string | null = null;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const res: { status: number; text: string; body: { items: T[]; nextCursor: string | null } } = await sys.http(
      'GET',
      cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path,
      { admin: opts.admin },
    );
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.text}`);
    pages.push(res.body);
    cursor = res.body.nextCursor;
    if (pages.length > (opts.maxPages ?? 1000)) throw new Error(`GET ${path}: more than ${opts.maxPages ?? 1000} pages`);
  } while (cursor);
  return { pages, items: pages.flatMap((p) => p.items) };
}

const counts = (show: Show, tier: string): Counts | undefined => {
  const x = show.tiers.find((t) => t.code === tier);
  return x && { total: x.total, available: x.available, held: x.held, sold: x.sold };
};

t.test('show API', async (t) => {
  const sys = await startSystem(t, { workers: 1 });
  const created: Show[] = [];
  const booked = new Set<string>();

  const res = await sys.http<Show>('POST', '/v1/shows', { admin: true, body: layout() });
  const show = res.body;
  created.push(show);

  await t.test('creating a show with tiers, an assigned-seat map and GA capacity answers 201 with per-tier counts', async (t) => {
    t.equal(res.status, 201, 'created', { body: res.text });
    t.match(res.headers.get('content-type') ?? '', /^application\/json/);
    t.equal(res.headers.get('location'), `/v1/shows/${show.id}`, 'Location of the new show');
    t.match(show.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a random UUID');
    t.match(show, {
      name: 'Layout show',
      venue: 'Big hall',
      startsAt: '2031-06-01T19:30:00.000Z',
      salesOpen: true,
      holdTtlSeconds: 600,
      maxSeatsPerBooking: 6,
    });
    t.ok(!Number.isNaN(Date.parse(show.createdAt)) && !Number.isNaN(Date.parse(show.updatedAt)), 'timestamps');
    t.same(
      show.tiers.map((x) => ({ code: x.code, name: x.name, priceCents: x.priceCents, currency: x.currency })),
      layout().tiers,
      'tiers in the order given, with their prices',
    );
    t.same(counts(show, 'VIP'), { total: 10, available: 10, held: 0, sold: 0 });
    t.same(counts(show, 'FRONT'), { total: 12, available: 12, held: 0, sold: 0 });
    t.same(counts(show, 'GA'), { total: 25, available: 25, held: 0, sold: 0 });
    t.same(show.totals, { total: 47, available: 47, held: 0, sold: 0 });

    const got = await sys.http<Show>('GET', `/v1/shows/${show.id}`);
    t.equal(got.status, 200);
    const { waiting, ...same } = got.body;
    t.same(same, show, 'GET /v1/shows/:id answers the same show');
    t.equal(waiting, 0, 'with no request waiting');
  });

  const firstVip = await sys.http<SeatList>('GET', `/v1/shows/${show.id}/seats?tier=VIP&limit=2`);
  const vipIds = firstVip.body.items.map((s) => s.id);
  let heldVip: Booking;
  let soldGa: Booking;

  await t.test('holding and selling seats moves them from available to held and sold in the counts', async (t) => {
    const hold = await sys.book(show.id, { seatIds: vipIds }, { prefer: 'wait=10' });
    t.equal(hold.status, 201, 'seat hold decided', { body: hold.text });
    t.equal(hold.body.status, 'HELD');
    heldVip = hold.body;
    booked.add(show.id);

    const gaHold = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 3 }] }, { prefer: 'wait=10' });
    t.equal(gaHold.status, 201, 'GA hold decided', { body: gaHold.text });
    t.equal(gaHold.body.status, 'HELD');
    const confirm = await sys.http<Booking>('POST', `/v1/bookings/${gaHold.body.id}/confirm`, { body: { paymentToken: 'tok_visa' } });
    t.equal(confirm.status, 200, 'confirmed', { body: confirm.text });
    t.equal(confirm.body.status, 'CONFIRMED');
    soldGa = confirm.body;

    const after = await sys.http<Show>('GET', `/v1/shows/${show.id}`);
    t.equal(after.status, 200);
    t.same(counts(after.body, 'VIP'), { total: 10, available: 8, held: 2, sold: 0 });
    t.same(counts(after.body, 'FRONT'), { total: 12, available: 12, held: 0, sold: 0 });
    t.same(counts(after.body, 'GA'), { total: 25, available: 22, held: 0, sold: 3 });
    t.same(after.body.totals, { total: 47, available: 42, held: 2, sold: 3 });
  });

  await t.test('a 20,000-seat show is created in one request', async (t) => {
    const body: CreateShowBody = {
      ...defaultShow(),
      name: 'Arena',
      tiers: [{ code: 'STD', name: 'Standard', priceCents: 5_000, currency: 'USD' }],
      seating: ['N', 'E', 'S', 'W'].map((section) => ({ section, tier: 'STD', rows: 50, seatsPerRow: 100 })),
      generalAdmission: [],
    };
    const big = await sys.http<Show>('POST', '/v1/shows', { admin: true, body });
    t.equal(big.status, 201, 'created', { body: big.text.slice(0, 500) });
    if (big.status !== 201) return;
    created.push(big.body);
    t.same(big.body.totals, { total: 20_000, available: 20_000, held: 0, sold: 0 });
    t.same(counts(big.body, 'STD'), { total: 20_000, available: 20_000, held: 0, sold: 0 });
    const got = await sys.http<Show>('GET', `/v1/shows/${big.body.id}`);
    t.same(got.body.totals, { total: 20_000, available: 20_000, held: 0, sold: 0 }, 'GET says the same');
    const first = await sys.http<SeatList>('GET', `/v1/shows/${big.body.id}/seats?limit=3`);
    t.same(first.body.items.map((s) => s.label), ['N-1-1', 'N-1-2', 'N-1-3'], 'best seats first');
    const last = await sys.http<SeatList>('GET', `/v1/shows/${big.body.id}/seats?tier=STD&status=SOLD`);
    t.same(last.body, { items: [], nextCursor: null }, 'a filter that matches nothing is an empty page');
  });

  await t.test('GET /v1/shows pages with limit and nextCursor and visits every show exactly once', async (t) => {
    for (let i = 1; i <= 4; i++) created.push(await sys.createShow({ name: `Listed ${i}` }));
    t.equal(created.length, 6);
    for (const limit of [1, 2, 4, 6, 500]) {
      const { pages, items } = await allPages<ShowSummary>(sys, `/v1/shows?limit=${limit}`);
      const ids = items.map((s) => s.id);
      t.equal(new Set(ids).size, ids.length, `limit=${limit}: no show twice`);
      t.same([...ids].sort(), created.map((s) => s.id).sort(), `limit=${limit}: every show`);
      t.ok(pages.every((p) => p.items.length <= limit), `limit=${limit}: pages hold at most ${limit}`);
      t.ok(pages.slice(0, -1).every((p) => p.items.length === limit), `limit=${limit}: only the last page is short`);
      const times = items.map((s) => s.createdAt);
      t.same(times, [...times].sort(), `limit=${limit}: oldest first`);
    }
    const { items } = await allPages<ShowSummary>(sys, '/v1/shows');
    const listed = items.find((s) => s.id === show.id);
    t.same(listed, {
      id: show.id,
      name: show.name,
      venue: show.venue,
      startsAt: show.startsAt,
      salesOpen: show.salesOpen,
      holdTtlSeconds: show.holdTtlSeconds,
      maxSeatsPerBooking: show.maxSeatsPerBooking,
      createdAt: show.createdAt,
      updatedAt: show.updatedAt,
    }, 'list items are show summaries');
  });

  let allSeats: Seat[] = [];
  await t.test('GET /v1/shows/:id/seats pages through the whole map with a cursor, best seats first', async (t) => {
    const { pages, items } = await allPages<Seat>(sys, `/v1/shows/${show.id}/seats?limit=7`);
    allSeats = items;
    t.equal(items.length, 47, 'every seat');
    t.equal(new Set(items.map((s) => s.id)).size, 47, 'no seat twice');
    t.equal(pages.length, 7, '47 seats in pages of 7');
    t.equal(pages[pages.length - 1]!.nextCursor, null, 'the last page has no cursor');
    t.same(
      items.slice(0, 6).map((s) => s.label),
      ['A-1-1', 'A-1-2', 'A-1-3', 'A-1-4', 'A-1-5', 'A-2-1'],
      'ordered by block, row, seat',
    );
    t.same(items.slice(10, 12).map((s) => s.label), ['B-1-1', 'B-1-2'], 'then the next section');
    t.ok(items.slice(22).every((s) => s.tier === 'GA'), 'GA units last');
    const whole = await sys.http<SeatList>('GET', `/v1/shows/${show.id}/seats?limit=500`);
    t.same(whole.body.items.map((s) => s.id), items.map((s) => s.id), 'the same order as one big page');
    t.equal(whole.body.nextCursor, null);
    const deflt = await sys.http<SeatList>('GET', `/v1/shows/${show.id}/seats`);
    t.equal(deflt.body.items.length, 47, 'the default page holds all 47 (limit 50)');
  });

  await t.test('seat labels look like A-3-12 for assigned seats and are null for GA', async (t) => {
    const assigned = allSeats.filter((s) => s.tier !== 'GA');
    const gaSeats = allSeats.filter((s) => s.tier === 'GA');
    t.equal(assigned.length, 22);
    t.equal(gaSeats.length, 25);
    for (const s of assigned) {
      if (!(typeof s.label === 'string' && /^[A-Za-z0-9]+-\d+-\d+$/.test(s.label) && s.label === `${s.section}-${s.row}-${s.number}`)) {
        t.fail(`assigned seat with a bad label`, { seat: s });
      }
    }
    t.pass('every assigned seat is labelled section-row-number');
    t.match(allSeats.find((s) => s.label === 'B-3-4'), { tier: 'FRONT', section: 'B', row: 3, number: 4 }, 'B-3-4 is FRONT, row 3, seat 4');
    t.ok(gaSeats.every((s) => s.label === null && s.section === null && s.row === null && s.number === null), 'GA units have no label, section, row or number');
  });

  await t.test('GET /v1/shows/:id/seats filters by tier, across pages', async (t) => {
    for (const [tier, n] of [['VIP', 10], ['FRONT', 12], ['GA', 25]] as const) {
      const { items } = await allPages<Seat>(sys, `/v1/shows/${show.id}/seats?tier=${tier}&limit=4`);
      t.equal(items.length, n, `${tier}: ${n} seats`);
      t.ok(items.every((s) => s.tier === tier), `${tier}: only ${tier}`);
      t.same(items.map((s) => s.id), allSeats.filter((s) => s.tier === tier).map((s) => s.id), `${tier}: in map order`);
    }
  });

  await t.test('GET /v1/shows/:id/seats filters by status', async (t) => {
    const held = await allPages<Seat>(sys, `/v1/shows/${show.id}/seats?status=HELD&limit=1`);
    t.same(held.items.map((s) => s.id).sort(), [...vipIds].sort(), 'HELD: the seats of the held booking');
    const sold = await allPages<Seat>(sys, `/v1/shows/${show.id}/seats?status=SOLD`);
    t.same(sold.items.map((s) => s.id).sort(), soldGa.seats.map((s) => s.id).sort(), 'SOLD: the seats of the confirmed booking');
    t.ok(sold.items.every((s) => s.status === 'SOLD' && s.tier === 'GA'));
    const available = await allPages<Seat>(sys, `/v1/shows/${show.id}/seats?status=AVAILABLE&limit=10`);
    t.equal(available.items.length, 42, 'AVAILABLE: the other 42');
    t.ok(available.items.every((s) => s.status === 'AVAILABLE'));
    const vipAvailable = await allPages<Seat>(sys, `/v1/shows/${show.id}/seats?tier=VIP&status=AVAILABLE&limit=3`);
    t.equal(vipAvailable.items.length, 8, 'tier and status together');
    t.notOk(vipAvailable.items.some((s) => vipIds.includes(s.id)), 'without the held ones');
  });

  await t.test("a HELD seat shows its hold's expiresAt; other seats have none", async (t) => {
    t.ok(heldVip.expiresAt, 'the held booking has an expiry');
    const { items } = await allPages<Seat>(sys, `/v1/shows/${show.id}/seats?tier=VIP`);
    for (const s of items.filter((x) => vipIds.includes(x.id))) {
      t.equal(s.status, 'HELD');
      t.equal(s.expiresAt, heldVip.expiresAt, `${s.label} expires with its booking`);
    }
    const booking = await sys.http<Booking>('GET', `/v1/bookings/${heldVip.id}`);
    t.equal(booking.body.expiresAt, heldVip.expiresAt, 'the booking still says the same expiry');
    t.ok(items.filter((x) => !vipIds.includes(x.id)).every((s) => s.expiresAt === null), 'AVAILABLE seats: null');
    const sold = await sys.http<SeatList>('GET', `/v1/shows/${show.id}/seats?status=SOLD`);
    t.ok(sold.body.items.every((s) => s.expiresAt === null), 'SOLD seats: null');
  });

  // A show of its own for edits, so the main show's rules stay as they are.
  const edited = await sys.createShow({ name: 'To edit', holdTtlSeconds: 600 });
  created.push(edited);

  await t.test('PATCH edits details and GET reflects them', async (t) => {
    const patch = { name: 'Edited', venue: 'Other hall', startsAt: '2032-02-29T18:00:00+01:00', holdTtlSeconds: 300 };
    const res = await sys.http<ShowSummary>('PATCH', `/v1/shows/${edited.id}`, { admin: true, body: patch });
    t.equal(res.status, 200, 'edited', { body: res.text });
    t.match(res.body, { id: edited.id, name: 'Edited', venue: 'Other hall', startsAt: '2032-02-29T17:00:00.000Z', holdTtlSeconds: 300, salesOpen: true });
    t.equal(res.body.maxSeatsPerBooking, edited.maxSeatsPerBooking, 'fields not given keep their value');
    t.equal(res.body.createdAt, edited.createdAt, 'createdAt does not change');
    t.ok(Date.parse(res.body.updatedAt) >= Date.parse(edited.updatedAt), 'updatedAt moves forward');
    const got = await sys.http<Show>('GET', `/v1/shows/${edited.id}`);
    t.match(got.body, { name: 'Edited', venue: 'Other hall', startsAt: '2032-02-29T17:00:00.000Z', holdTtlSeconds: 300 });
    t.same(got.body.tiers, edited.tiers, 'tiers and counts untouched');

    const rename = await sys.http<ShowSummary>('PATCH', `/v1/shows/${edited.id}`, { admin: true, body: { name: 'Edited twice' } });
    t.equal(rename.status, 200);
    t.match(rename.body, { name: 'Edited twice', venue: 'Other hall', holdTtlSeconds: 300 }, 'one field at a time');
  });

  await t.test('closing sales makes a new booking REJECTED with SALES_CLOSED', async (t) => {
    const close = await sys.http<ShowSummary>('PATCH', `/v1/shows/${edited.id}`, { admin: true, body: { salesOpen: false } });
    t.equal(close.status, 200, 'closed', { body: close.text });
    t.equal(close.body.salesOpen, false);
    const got = await sys.http<Show>('GET', `/v1/shows/${edited.id}`);
    t.equal(got.body.salesOpen, false, 'GET says closed');

    const res = await sys.book(edited.id, { items: [{ tier: 'GA', quantity: 2 }] }, { prefer: 'wait=10' });
    booked.add(edited.id);
    t.equal(res.status, 201, 'decided', { body: res.text });
    t.equal(res.body.status, 'REJECTED');
    t.equal(res.body.rejection?.code, 'SALES_CLOSED');
    t.same(res.body.seats, [], 'no seats');
    const after = await sys.http<Show>('GET', `/v1/shows/${edited.id}`);
    t.same(after.body.totals, { total: 32, available: 32, held: 0, sold: 0 }, 'nothing held');
  });

  let reopenedHold: Booking;
  await t.test('reopening sales makes a booking HELD again', async (t) => {
    const open = await sys.http<ShowSummary>('PATCH', `/v1/shows/${edited.id}`, { admin: true, body: { salesOpen: true } });
    t.equal(open.status, 200);
    t.equal(open.body.salesOpen, true);
    const res = await sys.book(edited.id, { items: [{ tier: 'GA', quantity: 2 }] }, { prefer: 'wait=10' });
    t.equal(res.status, 201, 'decided', { body: res.text });
    t.equal(res.body.status, 'HELD');
    t.equal(res.body.seats.length, 2);
    reopenedHold = res.body;
    // The edited holdTtlSeconds (300) applies to new holds; allow for clock skew between the API and Postgres.
    const ttl = (Date.parse(res.body.expiresAt!) - Date.parse(res.body.createdAt)) / 1000;
    t.ok(ttl > 290 && ttl < 310, `the hold lasts the edited 300 s (got ${ttl})`);
  });

  await t.test('admin GET /v1/shows/:id/bookings lists the bookings and filters by status', async (t) => {
    const more: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await sys.book(edited.id, { items: [{ tier: 'VIP', quantity: 1 }], customerRef: `buyer-${i}` }, { prefer: 'wait=10' });
      t.equal(res.body.status, 'HELD', `extra hold ${i}`);
      more.push(res.body.id);
    }
    const cancel = await sys.http<Booking>('POST', `/v1/bookings/${more[3]}/cancel`, { body: { reason: 'changed my mind' } });
    t.equal(cancel.status, 200, 'cancelled', { body: cancel.text });
    t.equal(cancel.body.status, 'CANCELLED');

    const all = await sys.http<BookingList>('GET', `/v1/shows/${edited.id}/bookings`, { admin: true });
    t.equal(all.status, 200, 'listed', { body: all.text.slice(0, 500) });
    t.equal(all.body.items.length, 6, 'the rejected, the reopened hold and four more');
    t.equal(all.body.nextCursor, null);
    t.ok(all.body.items.every((b) => b.showId === edited.id), 'only this show');
    t.same(all.body.items.map((b) => b.status), ['REJECTED', 'HELD', 'HELD', 'HELD', 'HELD', 'CANCELLED'], 'in acceptance order');
    const mine = all.body.items.find((b) => b.id === reopenedHold.id);
    t.same(mine && { status: mine.status, seats: mine.seats, expiresAt: mine.expiresAt }, { status: 'HELD', seats: reopenedHold.seats, expiresAt: reopenedHold.expiresAt }, 'items are full bookings');
    t.equal(all.body.items.find((b) => b.id === more[0])?.customerRef, 'buyer-0');

    const byStatus = async (status: string) => {
      const res = await sys.http<BookingList>('GET', `/v1/shows/${edited.id}/bookings?status=${status}`, { admin: true });
      t.equal(res.status, 200, `status=${status}`);
      return res.body.items;
    };
    const rejected = await byStatus('REJECTED');
    t.equal(rejected.length, 1);
    t.equal(rejected[0]?.rejection?.code, 'SALES_CLOSED');
    t.same((await byStatus('HELD')).map((b) => b.id), [reopenedHold.id, ...more.slice(0, 3)], 'HELD');
    t.same((await byStatus('CANCELLED')).map((b) => b.id), [more[3]], 'CANCELLED');
    t.same(await byStatus('CONFIRMED'), [], 'CONFIRMED: none');

    const main = await sys.http<BookingList>('GET', `/v1/shows/${show.id}/bookings?status=CONFIRMED`, { admin: true });
    t.same(main.body.items.map((b) => b.id), [soldGa.id], "another show's list holds its own bookings");
    t.same(main.body.items[0]?.payment && { amountCents: main.body.items[0].payment.amountCents, currency: main.body.items[0].payment.currency }, { amountCents: 9000, currency: 'EUR' }, 'with the payment');
  });

  await t.test('admin GET /v1/shows/:id/bookings paginates with limit and nextCursor', async (t) => {
    const whole = await sys.http<BookingList>('GET', `/v1/shows/${edited.id}/bookings?limit=500`, { admin: true });
    const expected = whole.body.items.map((b) => b.id);
    t.equal(expected.length, 6);
    for (const limit of [1, 2, 4, 6]) {
      const { pages, items } = await allPages<Booking>(sys, `/v1/shows/${edited.id}/bookings?limit=${limit}`, { admin: true });
      t.same(items.map((b) => b.id), expected, `limit=${limit}: every booking once, in order`);
      t.ok(pages.every((p) => p.items.length <= limit), `limit=${limit}: pages hold at most ${limit}`);
    }
    const { items } = await allPages<Booking>(sys, `/v1/shows/${edited.id}/bookings?status=HELD&limit=3`, { admin: true });
    t.equal(items.length, 4, 'a status filter pages too');
    t.ok(items.every((b) => b.status === 'HELD'));
  });

  await t.test('unknown shows are 404 and admin routes need the token', async (t) => {
    const id = '7a3f4f0e-2b8c-4f7e-9d55-0c4c7e1d9a11';
    for (const [method, path, admin] of [
      ['GET', `/v1/shows/${id}`, false],
      ['GET', `/v1/shows/${id}/seats`, false],
      ['GET', `/v1/shows/${id}/bookings`, true],
    ] as const) {
      const res = await sys.http(method, path, { admin });
      t.equal(res.status, 404, `${method} ${path}`);
      t.equal(res.body?.code, 'SHOW_NOT_FOUND');
    }
    const patch = await sys.http('PATCH', `/v1/shows/${id}`, { admin: true, body: { salesOpen: false } });
    t.equal(patch.status, 404);
    t.equal(patch.body?.code, 'SHOW_NOT_FOUND');
    const noToken = await sys.http('PATCH', `/v1/shows/${edited.id}`, { body: { salesOpen: false } });
    t.equal(noToken.status, 401);
    t.equal(noToken.body?.code, 'UNAUTHORIZED');
    const list = await sys.http('GET', `/v1/shows/${edited.id}/bookings`);
    t.equal(list.status, 401);
    const still = await sys.http<Show>('GET', `/v1/shows/${edited.id}`);
    t.equal(still.body.salesOpen, true, 'the refused PATCH changed nothing');
  });

  await t.test('GET /health/live and /health/ready answer 200', async (t) => {
    const live = await sys.http('GET', '/health/live');
    t.equal(live.status, 200);
    t.equal(live.body?.status, 'ok');
    const ready = await sys.http('GET', '/health/ready');
    t.equal(ready.status, 200, 'ready', { body: ready.text });
    t.same(ready.body, { status: 'ok', checks: { postgres: 'ok', redis: 'ok' } });
  });

  await t.test('GET /docs serves the Swagger UI as HTML', async (t) => {
    const res = await fetch(`${sys.url}/docs`, { redirect: 'follow' });
    const html = await res.text();
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type') ?? '', /^text\/html/);
    t.match(html, /swagger/i, 'it is the Swagger UI');
  });

  await t.test('GET /docs/json is an OpenAPI 3 document with every route', async (t) => {
    const res = await sys.http<OpenApi>('GET', '/docs/json');
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const doc = res.body;
    t.match(doc.openapi, /^3\./, 'OpenAPI 3');
    const expected: Record<string, string[]> = {
      '/v1/shows': ['get', 'post'],
      '/v1/shows/{showId}': ['get', 'patch'],
      '/v1/shows/{showId}/seats': ['get'],
      '/v1/shows/{showId}/bookings': ['get', 'post'],
      '/v1/bookings/{bookingId}': ['get'],
      '/v1/bookings/{bookingId}/confirm': ['post'],
      '/v1/bookings/{bookingId}/cancel': ['post'],
      '/v1/shows/{showId}/events': ['get'],
      '/v1/bookings/{bookingId}/events': ['get'],
      '/health/live': ['get'],
      '/health/ready': ['get'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      for (const method of methods) t.ok(doc.paths?.[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
    }
    for (const [path, events] of [['/v1/shows/{showId}/events', ['availability', 'seats', 'reload']], ['/v1/bookings/{bookingId}/events', ['booking']]] as const) {
      const op = doc.paths?.[path]?.get as { description?: string; responses?: Record<string, { content?: Record<string, unknown> }> } | undefined;
      t.ok(op?.responses?.['200']?.content?.['text/event-stream'], `${path} answers text/event-stream`);
      for (const e of events) t.match(op?.description ?? '', `\`${e}\``, `${path} documents its ${e} events`);
    }
    for (const [path, ops] of Object.entries(doc.paths ?? {})) {
      for (const [method, op] of Object.entries(ops)) {
        if (method !== 'post' && method !== 'patch') continue;
        const name = `${method.toUpperCase()} ${path}`;
        t.ok(op.requestBody?.content?.['application/json']?.schema, `${name} documents its JSON request body`);
        const fourxx = Object.keys(op.responses ?? {}).filter((s) => /^4\d\d$/.test(s));
        t.ok(fourxx.includes('400'), `${name} documents 400`, { responses: Object.keys(op.responses ?? {}) });
        t.ok(fourxx.length > 0, `${name} documents 4xx responses`);
      }
    }
    const responses = (path: string, method: string) => Object.keys(doc.paths?.[path]?.[method]?.responses ?? {});
    for (const s of ['201', '400', '401']) t.ok(responses('/v1/shows', 'post').includes(s), `POST /v1/shows documents ${s}`);
    for (const s of ['201', '202', '400', '404', '422']) t.ok(responses('/v1/shows/{showId}/bookings', 'post').includes(s), `POST bookings documents ${s}`);
    for (const s of ['200', '400', '402', '404', '409']) t.ok(responses('/v1/bookings/{bookingId}/confirm', 'post').includes(s), `POST confirm documents ${s}`);
    for (const s of ['200', '404', '409']) t.ok(responses('/v1/bookings/{bookingId}/cancel', 'post').includes(s), `POST cancel documents ${s}`);
    t.ok(responses('/v1/shows/{showId}', 'patch').includes('401'), 'PATCH documents 401');
    t.ok(responses('/v1/shows/{showId}/bookings', 'get').includes('401'), 'admin list documents 401');
  });

  for (const id of booked) {
    const report = await sys.invariants(id);
    t.same(report.violations, [], `invariants hold for show ${id}`);
  }
});
