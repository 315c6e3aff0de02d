import type { Booking, BookingStatus, CommandOutcome, HoldJob, PaymentProvider, RejectionCode } from '@booking/contracts';
import { RejectionCodes } from '@booking/contracts';
import { isTransientDbError, type Executor, type Sql } from '../client.js';
import { getBooking, getBookingDocs } from './booking-docs.js';

/**
 * Thrown when SKIP LOCKED came back short while seats that were AVAILABLE were locked by another
 * claim: that claim may still roll back, so "sold out" would be a lie. The transaction is rolled
 * back and run again.
 */
export class SeatContention extends Error {
  override name = 'SeatContention';
}

/** A command that can never succeed however often it is retried (e.g. its show does not exist). */
export class InvalidCommand extends Error {
  override name = 'InvalidCommand';
}

export interface Decision {
  outcome: CommandOutcome;
  booking: Booking | null;
  /** false when the command found the booking already decided (a replay): nothing was written. */
  changed: boolean;
  detail?: string;
}

/**
 * Runs `fn` in a transaction, retrying it a few times with jitter on seat contention, deadlocks
 * and serialization failures. Anything else, or a transient error that outlasts the retries,
 * propagates (the job then retries with backoff).
 */
export async function inTransaction<T>(sql: Sql, fn: (tx: Executor) => Promise<T>, retries = 8): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await sql.begin((tx) => fn(tx as unknown as Executor))) as T;
    } catch (err) {
      const retryable = err instanceof SeatContention || (isTransientDbError(err) && ['40001', '40P01'].includes((err as { code: string }).code));
      if (!retryable || attempt >= retries) throw err;
      await new Promise((r) => setTimeout(r, 2 + Math.random() * 10 * (attempt + 1)));
    }
  }
}

async function insertRejection(tx: Executor, cmd: HoldJob, code: RejectionCode, keepKey: boolean) {
  await tx`
    with b as (
      insert into bookings (id, show_id, status, version, request, customer_ref, idempotency_key,
                            rejection_code, rejection_detail, accepted_at, rejected_at, updated_at)
      values (${cmd.bookingId}, ${cmd.showId}, 'REJECTED', 2, ${tx.json(cmd.request as never)}, ${cmd.customerRef},
              ${keepKey ? cmd.idempotencyKey : null}, ${code}, ${RejectionCodes[code]}, ${cmd.acceptedAt}, now(), now())
      returning id, accepted_at
    )
    insert into booking_events (booking_id, from_status, to_status, at)
    select id, null, 'PENDING', accepted_at from b
    union all
    select id, 'PENDING', 'REJECTED', now() from b`;
}

/**
 * Claims best-available seats of one tier.
 *
 * FOR UPDATE SKIP LOCKED: a seat another transaction is claiming right now is passed over rather
 * than waited for. When fewer rows come back than were asked for, either the tier is sold out or
 * some AVAILABLE seats are locked by a concurrent claim that may still roll back; we count the
 * AVAILABLE seats without locking to tell the two apart and throw SeatContention (retry) in the
 * second case, so a buyer is never told SOLD_OUT while seats may still come free.
 */
async function claimBestAvailable(tx: Executor, showId: string, tier: string, quantity: number): Promise<string[] | null> {
  const rows = await tx<{ id: string }[]>`
    select id from seats
     where show_id = ${showId} and tier_code = ${tier} and status = 'AVAILABLE'
     order by rank
     limit ${quantity}
       for update skip locked`;
  if (rows.length === quantity) return rows.map((r) => r.id);
  const [{ available } = { available: 0 }] = await tx<{ available: number }[]>`
    select count(*)::int as available from seats
     where show_id = ${showId} and tier_code = ${tier} and status = 'AVAILABLE'`;
  if (available > rows.length) throw new SeatContention(`tier ${tier}: ${available} available, ${rows.length} claimable`);
  return null;
}

/**
 * Claims exactly these seats. Plain FOR UPDATE (no SKIP LOCKED): for named seats a skipped row
 * would be indistinguishable from a taken one, so we wait for a concurrent claim to finish and
 * then see what it left. Locks are taken in id order so two claims cannot deadlock.
 * Fewer rows than ids means some id is not a seat of this show (the API checks this first).
 */
async function claimExactSeats(tx: Executor, showId: string, seatIds: string[]): Promise<string[] | null> {
  const rows = await tx<{ id: string; status: string }[]>`
    select id, status from seats
     where show_id = ${showId} and id = any(${seatIds}::uuid[])
     order by id
       for update`;
  if (rows.length !== seatIds.length || rows.some((r) => r.status !== 'AVAILABLE')) return null;
  return rows.map((r) => r.id);
}

/**
 * Decides one hold command inside the caller's transaction: HELD with the seats claimed, or
 * REJECTED with a reason. All or nothing across the request's tiers. A replay (booking already
 * decided) changes nothing and returns the stored decision.
 */
export async function decideHold(tx: Executor, cmd: HoldJob): Promise<Decision> {
  const [ctx] = await tx<{ salesOpen: boolean; holdTtlSeconds: number; maxSeatsPerBooking: number; existing: string | null; keyOwner: string | null }[]>`
    select s.sales_open, s.hold_ttl_seconds, s.max_seats_per_booking,
           (select status from bookings where id = ${cmd.bookingId}) as existing,
           (select id from bookings where idempotency_key = ${cmd.idempotencyKey}) as key_owner
      from shows s where s.id = ${cmd.showId}`;
  if (!ctx) throw new InvalidCommand(`show ${cmd.showId} does not exist`);
  if (ctx.existing) return { outcome: 'OK', booking: await getBooking(tx, cmd.bookingId), changed: false };

  const reject = async (code: RejectionCode) => {
    await insertRejection(tx, cmd, code, code !== 'DUPLICATE_REQUEST');
    return { outcome: 'OK' as const, booking: await getBooking(tx, cmd.bookingId), changed: true };
  };
  if (ctx.keyOwner) return reject('DUPLICATE_REQUEST');
  if (!ctx.salesOpen) return reject('SALES_CLOSED');

  const { seatIds, items } = cmd.request;
  const quantity = seatIds ? seatIds.length : (items ?? []).reduce((n, i) => n + i.quantity, 0);
  if (quantity === 0) throw new InvalidCommand('hold asks for no seats');
  if (quantity > ctx.maxSeatsPerBooking) return reject('TOO_MANY_SEATS');

  let claimed: string[] = [];
  if (seatIds) {
    const got = await claimExactSeats(tx, cmd.showId, seatIds);
    if (!got) return reject('SEATS_UNAVAILABLE');
    claimed = got;
  } else {
    // Tiers in a fixed order so concurrent multi-tier claims lock in the same order.
    for (const item of [...(items ?? [])].sort((a, b) => a.tier.localeCompare(b.tier))) {
      const got = await claimBestAvailable(tx, cmd.showId, item.tier, item.quantity);
      if (!got) return reject('SOLD_OUT');
      claimed.push(...got);
    }
  }

  // Booking, seats, what it got and its audit trail in one statement. The seats' foreign key to
  // (booking id, status) is deferred to commit, so the order of these writes does not matter.
  await tx`
    with picked as (
      select s.id, t.price_cents, t.currency
        from seats s join tiers t on t.show_id = s.show_id and t.code = s.tier_code
       where s.id = any(${claimed}::uuid[])
    ), b as (
      insert into bookings (id, show_id, status, version, request, customer_ref, idempotency_key,
                            total_cents, currency, expires_at, accepted_at, held_at, updated_at)
      select ${cmd.bookingId}, ${cmd.showId}, 'HELD', 2, ${tx.json(cmd.request as never)}, ${cmd.customerRef},
             ${cmd.idempotencyKey}, sum(price_cents), min(currency),
             now() + make_interval(secs => ${ctx.holdTtlSeconds}), ${cmd.acceptedAt}, now(), now()
        from picked
      returning id, accepted_at
    ), u as (
      update seats set status = 'HELD', booking_id = ${cmd.bookingId} where id = any(${claimed}::uuid[])
    ), bs as (
      insert into booking_seats (booking_id, seat_id, price_cents)
      select ${cmd.bookingId}, id, price_cents from picked
    )
    insert into booking_events (booking_id, from_status, to_status, at)
    select id, null, 'PENDING', accepted_at from b
    union all
    select id, 'PENDING', 'HELD', now() from b`;
  return { outcome: 'OK', booking: await getBooking(tx, cmd.bookingId), changed: true };
}

/** One hold command in its own transaction. */
export function holdSeats(sql: Sql, cmd: HoldJob): Promise<Decision> {
  return inTransaction(sql, (tx) => decideHold(tx, cmd));
}

interface LockedBooking {
  id: string;
  status: BookingStatus;
  totalCents: number | null;
  currency: string | null;
  expired: boolean;
  paymentRef: string | null;
  msToExpiry: number | null;
}

/** Locks the booking row: every transition of a booking is serialised on it. */
async function lockBooking(tx: Executor, id: string): Promise<LockedBooking | null> {
  const [row] = await tx<LockedBooking[]>`
    select id, status, total_cents, currency, payment_ref,
           expires_at <= now() as expired,
           (extract(epoch from (expires_at - now())) * 1000)::float8 as ms_to_expiry
      from bookings where id = ${id}
       for update`;
  return row ?? null;
}

/** HELD/CONFIRMED → a final status, seats back on sale, with the audit row. */
async function releaseBookings(tx: Executor, ids: string[], from: BookingStatus, to: 'EXPIRED' | 'CANCELLED', detail: object | null) {
  if (ids.length === 0) return;
  await tx`
    with b as (
      update bookings set status = ${to}, version = version + 1, updated_at = now(),
             expired_at = case when ${to} = 'EXPIRED' then now() end,
             cancelled_at = case when ${to} = 'CANCELLED' then now() end
       where id = any(${ids}::uuid[])
      returning id
    ), s as (
      update seats set status = 'AVAILABLE', booking_id = null where booking_id = any(${ids}::uuid[])
    )
    insert into booking_events (booking_id, from_status, to_status, detail)
    select id, ${from}, ${to}, ${detail ? tx.json(detail as never) : null} from b`;
}

const decided = async (tx: Executor, id: string, outcome: CommandOutcome, changed: boolean, detail?: string): Promise<Decision> => ({
  outcome,
  booking: await getBooking(tx, id),
  changed,
  ...(detail ? { detail } : {}),
});

/**
 * HELD → CONFIRMED, charging once. The booking row is locked first, so confirm and expiry are
 * serialised: whichever locks first wins, and the loser sees the winner's status. The expiry
 * test is database time (now()), never the worker's clock. The charge happens only when the
 * hold is live; it is idempotent by booking id, so a retried transaction charges once.
 */
export async function confirmBooking(sql: Sql, payments: PaymentProvider, cmd: { bookingId: string; paymentToken: string }): Promise<Decision> {
  return inTransaction(sql, async (tx) => {
    const b = await lockBooking(tx, cmd.bookingId);
    if (!b) return { outcome: 'BOOKING_NOT_FOUND', booking: null, changed: false };
    if (b.status === 'CONFIRMED') return decided(tx, b.id, 'OK', false);
    if (b.status === 'EXPIRED') return decided(tx, b.id, 'BOOKING_EXPIRED', false);
    if (b.status !== 'HELD') return decided(tx, b.id, 'BOOKING_FINAL', false, `booking is ${b.status}`);
    if (b.expired) {
      // Expiry won the race: release now rather than wait for the delayed job.
      await releaseBookings(tx, [b.id], 'HELD', 'EXPIRED', { by: 'confirm' });
      return decided(tx, b.id, 'BOOKING_EXPIRED', true);
    }
    const charge = await payments.charge({ key: b.id, token: cmd.paymentToken, amountCents: b.totalCents!, currency: b.currency! });
    if (!charge.ok) return decided(tx, b.id, 'PAYMENT_DECLINED', false, charge.message);
    await tx`
      with p as (
        insert into payments (booking_id, kind, reference, amount_cents, currency)
        values (${b.id}, 'CHARGE', ${charge.reference}, ${b.totalCents}, ${b.currency})
      ), b as (
        update bookings set status = 'CONFIRMED', version = version + 1, payment_ref = ${charge.reference},
               confirmed_at = now(), updated_at = now()
         where id = ${b.id}
      ), s as (
        update seats set status = 'SOLD' where booking_id = ${b.id}
      )
      insert into booking_events (booking_id, from_status, to_status) values (${b.id}, 'HELD', 'CONFIRMED')`;
    return decided(tx, b.id, 'OK', true);
  });
}

/** HELD → CANCELLED (seats freed at once), or CONFIRMED → CANCELLED with one refund. Repeats are no-ops. */
export async function cancelBooking(sql: Sql, payments: PaymentProvider, cmd: { bookingId: string; reason: string | null }): Promise<Decision> {
  return inTransaction(sql, async (tx) => {
    const b = await lockBooking(tx, cmd.bookingId);
    if (!b) return { outcome: 'BOOKING_NOT_FOUND', booking: null, changed: false };
    if (b.status === 'CANCELLED') return decided(tx, b.id, 'OK', false);
    if (b.status === 'EXPIRED') return decided(tx, b.id, 'BOOKING_EXPIRED', false);
    if (b.status === 'REJECTED') return decided(tx, b.id, 'BOOKING_FINAL', false, 'booking was rejected');
    if (b.status === 'CONFIRMED') {
      const refund = await payments.refund({ key: b.id, chargeReference: b.paymentRef!, amountCents: b.totalCents!, currency: b.currency! });
      await tx`
        with p as (
          insert into payments (booking_id, kind, reference, amount_cents, currency)
          values (${b.id}, 'REFUND', ${refund.reference}, ${b.totalCents}, ${b.currency})
        )
        update bookings set refund_ref = ${refund.reference} where id = ${b.id}`;
    }
    await releaseBookings(tx, [b.id], b.status, 'CANCELLED', cmd.reason ? { reason: cmd.reason } : null);
    return decided(tx, b.id, 'OK', true);
  });
}

export type ExpireResult = Decision & { retryInMs?: number };

/**
 * The delayed job's release: HELD and past expiresAt (database time) → EXPIRED, seats free.
 * Anything else is left alone — in particular a CONFIRMED booking is never released. When the
 * job fired early by the database's clock, says how long to wait.
 */
export async function expireHold(sql: Sql, bookingId: string): Promise<ExpireResult> {
  return inTransaction(sql, async (tx) => {
    const b = await lockBooking(tx, bookingId);
    if (!b) return { outcome: 'BOOKING_NOT_FOUND', booking: null, changed: false };
    if (b.status !== 'HELD') return decided(tx, b.id, 'OK', false);
    if (!b.expired) return { ...(await decided(tx, b.id, 'OK', false)), retryInMs: Math.max(1, Math.ceil(b.msToExpiry ?? 1)) };
    await releaseBookings(tx, [b.id], 'HELD', 'EXPIRED', { by: 'expiry' });
    return decided(tx, b.id, 'OK', true);
  });
}

/**
 * Safety net for lost delayed jobs: releases HELD bookings more than `graceMs` past expiry.
 * SKIP LOCKED: a booking locked right now is being decided by its own command (confirm, cancel,
 * expire) — skipping it is right, the next sweep sees the result. Fewer rows than `limit` simply
 * means there is less to do.
 */
export async function sweepExpiredHolds(sql: Sql, opts: { graceMs: number; limit: number }): Promise<Booking[]> {
  return inTransaction(sql, async (tx) => {
    const due = await tx<{ id: string }[]>`
      select id from bookings
       where status = 'HELD' and expires_at <= now() - make_interval(secs => ${opts.graceMs / 1000})
       order by expires_at
       limit ${opts.limit}
         for update skip locked`;
    const ids = due.map((r) => r.id);
    await releaseBookings(tx, ids, 'HELD', 'EXPIRED', { by: 'sweep' });
    return getBookingDocs(tx, ids);
  });
}

/** Keyset page of a show's bookings in acceptance order, optionally of one status. */
export async function listBookings(
  sql: Executor,
  showId: string,
  q: { status?: BookingStatus | undefined; limit: number; after?: { acceptedAt: string; id: string } | undefined },
): Promise<Booking[]> {
  const rows = await sql<{ id: string }[]>`
    select id from bookings
     where show_id = ${showId}
       ${q.status ? sql`and status = ${q.status}` : sql``}
       ${q.after ? sql`and (accepted_at, id) > (${q.after.acceptedAt}::timestamptz, ${q.after.id}::uuid)` : sql``}
     order by accepted_at, id
     limit ${q.limit}`;
  return getBookingDocs(sql, rows.map((r) => r.id));
}
