import t, { type Test } from 'tap';
import type { Booking, BookingStatus, Seat, Show } from '@booking/contracts';
import type { BuyerRecord } from '../src/types.js';
import { judge, reachable, trailProblem, type CheckName, type Verdict, type VerdictFetcher, type VerdictInput } from '../src/verdict.js';

/**
 * A small sale that went right: 6 GA seats, six buyers (kept hold, confirmed, rejected,
 * abandoned → expired, cancelled, and a concurrent retry that still holds). Each test breaks
 * one thing and checks the verdict names it.
 */
const RUN = 'ltrun';
const SHOW = '00000000-0000-4000-8000-000000000001';
const seatId = (i: number) => `00000000-0000-4000-8000-0000000001${String(i).padStart(2, '0')}`;
const bookingId = (i: number) => `00000000-0000-4000-8000-0000000002${String(i).padStart(2, '0')}`;
const T0 = Date.parse('2030-01-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

function booking(i: number, trail: BookingStatus[], seats: number[], extra: Partial<Booking> = {}): Booking {
  const status = trail[trail.length - 1]!;
  return {
    id: bookingId(i),
    showId: SHOW,
    status,
    version: trail.length,
    request: { items: [{ tier: 'GA', quantity: status === 'REJECTED' ? 2 : seats.length }] },
    customerRef: `${RUN}:${i}`,
    seats: seats.map((s) => ({ id: seatId(s), tier: 'GA', label: null, priceCents: 1000 })),
    totalCents: seats.length * 1000,
    currency: 'EUR',
    expiresAt: trail.includes('HELD') ? at(2000) : null,
    rejection: status === 'REJECTED' ? { code: 'SOLD_OUT', detail: 'sold out' } : null,
    payment: status === 'CONFIRMED' ? { reference: 'ch_1', amountCents: 1000, currency: 'EUR', at: at(500) } : null,
    refund: null,
    createdAt: at(0),
    updatedAt: at(100 * trail.length),
    transitions: trail.map((s, k) => ({ status: s, at: at(k * 100) })),
    ...extra,
  };
}

function buyer(i: number, b: Partial<BuyerRecord>): BuyerRecord {
  return {
    index: i,
    showId: SHOW,
    idempotencyKey: `${RUN}-${i}`,
    customerRef: `${RUN}:${i}`,
    request: { items: [{ tier: 'GA', quantity: 1 }] },
    quantity: 1,
    retry: 'none',
    action: 'keep',
    createdIds: [bookingId(i)],
    bookingId: bookingId(i),
    retryRefused: null,
    acceptedAt: 0,
    decision: { status: 'HELD', code: null, at: 10, serverMs: 5 },
    expiresAt: at(2000),
    lastStatus: 'HELD',
    actionResult: null,
    release: null,
    failure: null,
    ...b,
  };
}

interface World {
  input: VerdictInput;
  bookings: Booking[];
  seats: Seat[];
  show: Show;
  /** Bookings GET /v1/bookings/:id knows beyond the admin list (e.g. PENDING ones). */
  extra: Booking[];
}

function world(): World {
  const bookings = [
    booking(0, ['PENDING', 'HELD'], [1, 2]),
    booking(1, ['PENDING', 'HELD', 'CONFIRMED'], [3]),
    booking(2, ['PENDING', 'REJECTED'], []),
    booking(3, ['PENDING', 'HELD', 'EXPIRED'], [4]),
    booking(4, ['PENDING', 'HELD', 'CANCELLED'], [5]),
    booking(5, ['PENDING', 'HELD'], [6]),
  ];
  const buyers = [
    buyer(0, { quantity: 2, action: 'keep' }),
    buyer(1, { action: 'confirm', actionResult: { status: 200, code: null }, lastStatus: 'CONFIRMED' }),
    buyer(2, { decision: { status: 'REJECTED', code: 'SOLD_OUT', at: 10, serverMs: 5 }, lastStatus: 'REJECTED', expiresAt: null }),
    buyer(3, { action: 'abandon', lastStatus: 'EXPIRED', release: { observedLagMs: 40, serverLagMs: 30 } }),
    buyer(4, { action: 'cancel', actionResult: { status: 200, code: null }, lastStatus: 'CANCELLED' }),
    buyer(5, { retry: 'concurrent', createdIds: [bookingId(5), bookingId(5)] }),
  ];
  const seatStatus: Record<number, Seat['status']> = { 1: 'HELD', 2: 'HELD', 3: 'SOLD', 4: 'AVAILABLE', 5: 'AVAILABLE', 6: 'HELD' };
  const seats: Seat[] = [1, 2, 3, 4, 5, 6].map((i) => ({
    id: seatId(i),
    tier: 'GA',
    section: null,
    row: null,
    number: null,
    label: null,
    status: seatStatus[i]!,
    expiresAt: seatStatus[i] === 'HELD' ? at(2000) : null,
  }));
  const counts = { total: 6, available: 2, held: 3, sold: 1 };
  const show: Show = {
    id: SHOW,
    name: 'Crafted',
    venue: 'Nowhere',
    startsAt: at(86_400_000),
    salesOpen: true,
    version: 7,
    holdTtlSeconds: 2,
    maxSeatsPerBooking: 4,
    createdAt: at(-1000),
    updatedAt: at(-1000),
    tiers: [{ code: 'GA', name: 'GA', priceCents: 1000, currency: 'EUR', ...counts }],
    totals: { ...counts },
  };
  return { input: { runId: RUN, showIds: [SHOW], buyers, serverErrors: {} }, bookings, seats, show, extra: [] };
}

/** Sets the show's totals and its one tier's counts together. */
function setTotals(w: World, counts: { available: number; held: number; sold: number }) {
  w.show.totals = { total: 6, ...counts };
  w.show.tiers[0] = { ...w.show.tiers[0]!, ...w.show.totals };
}

const fetcher = (w: World): VerdictFetcher => ({
  listBookings: async () => structuredClone(w.bookings),
  getShow: async () => structuredClone(w.show),
  listSeats: async () => structuredClone(w.seats),
  getBooking: async (id) => structuredClone(w.bookings.find((b) => b.id === id) ?? w.extra.find((b) => b.id === id) ?? null),
});

const failed = (v: Verdict) => v.checks.filter((c) => !c.ok).map((c) => c.name);

async function expectOnly(t: Test, w: World, names: CheckName[], pattern: RegExp) {
  const v = await judge(w.input, fetcher(w));
  t.equal(v.pass, false, 'FAIL');
  t.same(failed(v).sort(), [...names].sort(), `fails exactly ${names.join(', ')}`);
  t.match(v.reasons.join('\n'), pattern);
  return v;
}

t.test('a consistent sale passes every check', async (t) => {
  const w = world();
  const v = await judge(w.input, fetcher(w));
  t.same(failed(v), []);
  t.equal(v.pass, true);
  t.same(v.reasons, []);
  t.equal(v.checks.length, 6);
  t.same(v.finalStatuses, { HELD: 2, CONFIRMED: 1, REJECTED: 1, EXPIRED: 1, CANCELLED: 1 });
});

t.test('a lost decision: an accepted booking the API does not know', async (t) => {
  const w = world();
  w.bookings = w.bookings.filter((b) => b.id !== bookingId(2));
  await expectOnly(t, w, ['one-decision'], /booking .*0202 is unknown to the API \(lost\)/);
});

t.test('a lost decision: an accepted booking still PENDING after the run', async (t) => {
  const w = world();
  w.bookings = w.bookings.filter((b) => b.id !== bookingId(2));
  w.extra.push(booking(2, ['PENDING'], []));
  w.input.buyers[2]!.decision = null;
  w.input.buyers[2]!.lastStatus = 'PENDING';
  await expectOnly(t, w, ['one-decision'], /was never decided/);
});

t.test('two decisions in one booking trail', async (t) => {
  const w = world();
  w.bookings[0] = booking(0, ['PENDING', 'REJECTED', 'HELD'], [1, 2]);
  await expectOnly(t, w, ['one-decision'], /2 decisions|illegal step REJECTED→HELD/);
});

t.test('a buyer saw HELD but the API says the booking was rejected', async (t) => {
  const w = world();
  w.bookings[5] = booking(5, ['PENDING', 'REJECTED'], []);
  w.seats[5]!.status = 'AVAILABLE';
  setTotals(w, { available: 3, held: 2, sold: 1 });
  await expectOnly(t, w, ['one-decision'], /its buyer saw HELD, the API says the decision was REJECTED/);
});

t.test('a confirmed booking that is not CONFIRMED', async (t) => {
  const w = world();
  w.bookings[1] = booking(1, ['PENDING', 'HELD', 'EXPIRED'], [3]);
  w.seats[2]!.status = 'AVAILABLE';
  setTotals(w, { available: 3, held: 3, sold: 0 });
  await expectOnly(t, w, ['one-decision'], /confirm answered 200, yet it is EXPIRED|last saw CONFIRMED, yet it is now EXPIRED/);
});

t.test('a seat in two live bookings', async (t) => {
  const w = world();
  // Booking 5 claims seat 1, which booking 0 holds; seat 6 is nobody's but the totals still say 3 held.
  w.bookings[5] = booking(5, ['PENDING', 'HELD'], [1]);
  w.seats[5]!.status = 'AVAILABLE';
  setTotals(w, { available: 3, held: 3, sold: 1 });
  const v = await judge(w.input, fetcher(w));
  t.equal(v.pass, false);
  t.ok(failed(v).includes('no-double-seat'));
  t.match(v.checks.find((c) => c.name === 'no-double-seat')!.samples.join('\n'), /seat .*0101 is in HELD booking .*0200 and HELD booking .*0205/);
  t.equal(v.checks.find((c) => c.name === 'counts-match')!.ok, false, 'and the totals no longer add up (available + held + sold ≠ total)');
});

t.test('a booking that got fewer seats than it asked for', async (t) => {
  const w = world();
  w.bookings[0]!.request = { items: [{ tier: 'GA', quantity: 3 }] };
  await expectOnly(t, w, ['no-double-seat'], /asked for 3 seats and has 2/);
});

t.test("the show's held total differs from the sum over its bookings", async (t) => {
  const w = world();
  w.show.totals = { total: 6, available: 1, held: 4, sold: 1 };
  await expectOnly(t, w, ['counts-match'], /totals say held 4, sold 1; its bookings hold 3 and sold 1/);
});

t.test("a tier's sold count differs from the sum over its bookings", async (t) => {
  const w = world();
  w.show.tiers[0]!.sold = 2;
  w.show.tiers[0]!.available = 1;
  await expectOnly(t, w, ['counts-match'], /tier GA: held 3, sold 2/);
});

t.test('the seat map disagrees with the bookings', async (t) => {
  const w = world();
  w.seats[4]!.status = 'SOLD'; // seat 5 belongs to a cancelled booking
  await expectOnly(t, w, ['counts-match'], /seat .*0105 is SOLD in the seat map but in no live booking/);
});

t.test('an abandoned hold that was never released', async (t) => {
  const w = world();
  w.bookings[3] = booking(3, ['PENDING', 'HELD'], [4]);
  w.seats[3]!.status = 'HELD';
  setTotals(w, { available: 1, held: 4, sold: 1 });
  w.input.buyers[3]!.lastStatus = 'HELD';
  w.input.buyers[3]!.release = null;
  w.input.buyers[3]!.failure = 'hold not seen released within --release-timeout';
  await expectOnly(t, w, ['holds-released'], /abandoned hold .*0203 is HELD/);
});

t.test('a hold that expired but left its seat taken', async (t) => {
  const w = world();
  w.seats[3]!.status = 'HELD'; // seat 4 of expired booking 3
  setTotals(w, { available: 1, held: 4, sold: 1 });
  const v = await judge(w.input, fetcher(w));
  t.ok(failed(v).includes('holds-released'));
  t.match(v.checks.find((c) => c.name === 'holds-released')!.samples.join('\n'), /seat .*0104 of expired booking .*0203 is still HELD/);
});

t.test('a declined payment whose hold never expired', async (t) => {
  const w = world();
  w.input.buyers[0]!.action = 'decline';
  w.input.buyers[0]!.actionResult = { status: 402, code: 'PAYMENT_DECLINED' };
  await expectOnly(t, w, ['holds-released'], /abandoned hold .*0200 is HELD/);
});

t.test('a retry that created a second booking: two ids for one Idempotency-Key', async (t) => {
  const w = world();
  w.input.buyers[5]!.createdIds = [bookingId(5), bookingId(6)];
  await expectOnly(t, w, ['no-duplicates'], /Idempotency-Key ltrun-5 answered with 2 booking ids/);
});

t.test('a retry that created a second booking the client never saw, found in the admin list', async (t) => {
  const w = world();
  w.bookings.push(booking(6, ['PENDING', 'REJECTED'], [], { customerRef: `${RUN}:5` }));
  const v = await expectOnly(t, w, ['no-duplicates'], /buyer ltrun:5 has 2 bookings/);
  t.match(v.checks.find((c) => c.name === 'no-duplicates')!.samples.join('\n'), /was given booking .*0205, yet booking .*0206 also exists/);
});

t.test('a retry with the same key and body that was refused', async (t) => {
  const w = world();
  w.input.buyers[5]!.retryRefused = 'a sequential retry answered 422 IDEMPOTENCY_KEY_REUSED';
  await expectOnly(t, w, ['no-duplicates'], /ltrun-5: a sequential retry answered 422 IDEMPOTENCY_KEY_REUSED/);
});

t.test('a booking carrying a customerRef no buyer used', async (t) => {
  const w = world();
  w.bookings.push(booking(9, ['PENDING', 'REJECTED'], [], { customerRef: `${RUN}:99` }));
  await expectOnly(t, w, ['no-duplicates'], /customerRef ltrun:99, which no buyer of this run used/);
});

t.test('a 5xx answer fails the run', async (t) => {
  const w = world();
  w.input = { ...w.input, serverErrors: { 'create 500 INTERNAL': 2, 'poll 503 SERVICE_UNAVAILABLE': 1 } };
  const v = await expectOnly(t, w, ['no-5xx'], /no-5xx: 2 violations — create 500 INTERNAL: 2×/);
  t.match(v.checks.find((c) => c.name === 'no-5xx')!.samples, ['create 500 INTERNAL: 2×', 'poll 503 SERVICE_UNAVAILABLE: 1×']);
});

t.test('bookings of other clients on the same show count for seats and totals, not for duplicates', async (t) => {
  const w = world();
  w.bookings.push(booking(7, ['PENDING', 'HELD'], [5], { customerRef: 'someone-else' }));
  w.seats[4]!.status = 'HELD';
  setTotals(w, { available: 1, held: 4, sold: 1 });
  const v = await judge(w.input, fetcher(w));
  t.same(failed(v), []);
});

t.test('totals that change while they are read are read again', async (t) => {
  const w = world();
  const f = fetcher(w);
  let calls = 0;
  // The first read sees a hold that expires right after; the second pair agrees.
  const moving: VerdictFetcher = {
    ...f,
    getShow: async () => {
      calls++;
      const s = await f.getShow(SHOW);
      if (calls === 1) s.totals = { ...s.totals, held: 9 };
      return s;
    },
  };
  const v = await judge(w.input, moving);
  t.equal(v.pass, true);
  t.equal(calls, 4, 'two snapshots were taken');
});

t.test('the state machine helpers', async (t) => {
  t.ok(reachable('PENDING', 'CANCELLED'));
  t.ok(reachable('HELD', 'HELD'));
  t.notOk(reachable('EXPIRED', 'HELD'));
  t.notOk(reachable('REJECTED', 'CONFIRMED'));
  t.notOk(reachable('CONFIRMED', 'EXPIRED'), 'a confirmed booking never expires');
  t.equal(trailProblem(booking(1, ['PENDING', 'HELD', 'CONFIRMED', 'CANCELLED'], [3])), null);
  t.match(trailProblem(booking(1, ['HELD'], [3])), /not PENDING/);
  t.match(trailProblem(booking(1, ['PENDING', 'PENDING', 'HELD'], [3])), /2 PENDING/);
  t.match(trailProblem(booking(1, ['PENDING', 'HELD', 'CONFIRMED', 'EXPIRED'], [3])), /illegal step CONFIRMED→EXPIRED/);
  t.match(trailProblem({ ...booking(1, ['PENDING', 'HELD'], [3]), status: 'CONFIRMED' }), /status CONFIRMED but the trail ends in HELD/);
  t.match(trailProblem({ ...booking(2, ['PENDING', 'REJECTED'], []), rejection: null }), /without a rejection code/);
});
