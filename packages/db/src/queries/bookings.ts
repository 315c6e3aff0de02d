import type { Booking, BookingStatus, CommandOutcome, HoldJob, PaymentProvider, RejectionCode } from '@booking/contracts';
import { RejectionCodes, pendingBooking } from '@booking/contracts';
import { isTransientDbError, settleAll, type Executor, type Sql } from '../client.js';
import { getBookingDocs } from './booking-docs.js';
import { bumpShowVersions } from './shows.js';

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
  /**
   * When the transaction changed the seats of the booking's show: the show's availability
   * version after it (every decision of that show in the transaction carries the same one).
   */
  showVersion?: number;
}

/**
 * Runs `fn` in a transaction, retrying it a few times with jitter on seat contention, deadlocks
 * and serialization failures. Anything else, or a transient error that outlasts the retries,
 * propagates (the job then retries with backoff).
 *
 * Sequential scans are off inside (`enable_seqscan`: the planner takes one only where no index
 * can serve). Every statement of a command reaches its rows through keys, and postgres.js
 * prepares each statement once per connection: Postgres then keeps a generic plan, made on the
 * table sizes of that moment, until the table is next analyzed. A plan made while an on-sale's
 * tables were nearly empty (a scan of payments, say) would otherwise stay while they grow by
 * thousands of rows a second, every call reading the whole table (plans.test.ts). Set per
 * transaction, pipelined ahead of `fn`'s first statement, not per connection: postgres.js's own
 * catalog query at connect needs its scans.
 */
export async function inTransaction<T>(sql: Sql, fn: (tx: Executor) => Promise<T>, retries = 8): Promise<T> {
  const run = async (tx: Executor) => {
    const planning = tx`set local enable_seqscan = off`.execute();
    const result = await fn(tx);
    await planning;
    return result;
  };
  for (let attempt = 0; ; attempt++) {
    try {
      return (await sql.begin((tx) => run(tx as unknown as Executor))) as T;
    } catch (err) {
      const retryable = err instanceof SeatContention || (isTransientDbError(err) && ['40001', '40P01'].includes((err as { code: string }).code));
      if (!retryable || attempt >= retries) throw err;
      await new Promise((r) => setTimeout(r, 2 + Math.random() * 10 * (attempt + 1)));
    }
  }
}

interface ShowRules {
  salesOpen: boolean;
  holdTtlSeconds: number;
  maxSeatsPerBooking: number;
}

interface ClaimedSeat {
  id: string;
  tier: string;
  label: string | null;
  priceCents: number;
  currency: string;
  rank: number;
}

const iso = (d: Date | string) => new Date(d).toISOString();

/** The document of a booking decided just now, built from what the writes returned (no re-read). */
function decidedDoc(cmd: HoldJob, at: Date, outcome: { seats: ClaimedSeat[]; expiresAt: Date } | { rejection: RejectionCode }): Booking {
  const accepted = iso(cmd.acceptedAt);
  const now = iso(at);
  const held = 'seats' in outcome;
  const seats = held ? [...outcome.seats].sort((a, b) => a.rank - b.rank) : [];
  return {
    id: cmd.bookingId,
    showId: cmd.showId,
    status: held ? 'HELD' : 'REJECTED',
    version: 2,
    request: cmd.request,
    customerRef: cmd.customerRef,
    seats: seats.map(({ id, tier, label, priceCents }) => ({ id, tier, label, priceCents })),
    totalCents: held ? seats.reduce((n, s) => n + s.priceCents, 0) : null,
    currency: held ? (seats[0]?.currency ?? null) : null,
    expiresAt: held ? iso(outcome.expiresAt) : null,
    rejection: held ? null : { code: outcome.rejection, detail: RejectionCodes[outcome.rejection] },
    payment: null,
    refund: null,
    createdAt: accepted,
    updatedAt: now,
    transitions: [
      { status: 'PENDING', at: accepted },
      { status: held ? 'HELD' : 'REJECTED', at: now },
    ],
  };
}

/** A claim of best-available seats: up to `quantity` of one tier of one show. */
interface TierClaim {
  showId: string;
  tier: string;
  quantity: number;
}

/**
 * Claims best-available seats for every (show, tier) asked, in one statement: each gets up to
 * its quantity, best rank first.
 *
 * FOR UPDATE SKIP LOCKED: a seat another transaction is claiming right now is passed over rather
 * than waited for (so claims never wait, and never deadlock). When fewer rows come back than
 * were asked for, either the tier has no more seats or some AVAILABLE seats are locked by a
 * concurrent claim that may still roll back; we count the AVAILABLE seats without locking to tell
 * the two apart and throw SeatContention (retry) in the second case, so a buyer is never told
 * SOLD_OUT while seats may still come free. (`of s`: only the seat rows are locked, never the
 * shared tier row.)
 */
async function claimBestAvailable(tx: Executor, claims: readonly TierClaim[]): Promise<ClaimedSeat[][]> {
  if (claims.length === 0) return [];
  const wants = claims.map((c, i) => ({ i, show_id: c.showId, tier: c.tier, n: c.quantity }));
  const rows = await tx<(ClaimedSeat & { i: number })[]>`
    select w.i, c.id, c.tier, c.label, c.price_cents, c.currency, c.rank
      from jsonb_to_recordset(${tx.json(wants as never)}) as w(i int, show_id uuid, tier text, n int)
     cross join lateral (
       select s.id, s.tier_code as tier, s.label, t.price_cents, t.currency, s.rank::float8 as rank
         from seats s join tiers t on t.show_id = s.show_id and t.code = s.tier_code
        where s.show_id = w.show_id and s.tier_code = w.tier and s.status = 'AVAILABLE'
        order by s.rank
        limit w.n
          for update of s skip locked) c
     order by w.i, c.rank`;
  const pools: ClaimedSeat[][] = claims.map(() => []);
  for (const { i, ...seat } of rows) pools[i]!.push(seat);
  const short = wants.filter((w) => pools[w.i]!.length < w.n);
  if (short.length === 0) return pools;
  const counts = await tx<{ i: number; available: number }[]>`
    select w.i, (select count(*)::int from seats s
                  where s.show_id = w.show_id and s.tier_code = w.tier and s.status = 'AVAILABLE') as available
      from jsonb_to_recordset(${tx.json(short as never)}) as w(i int, show_id uuid, tier text, n int)`;
  for (const { i, available } of counts) {
    if (available > pools[i]!.length) throw new SeatContention(`show ${claims[i]!.showId} tier ${claims[i]!.tier}: ${available} available, ${pools[i]!.length} claimable`);
  }
  return pools;
}

/**
 * Locks exactly these seats, each of the show that names it. Plain FOR UPDATE (no SKIP LOCKED):
 * for named seats a skipped row would be indistinguishable from a taken one, so we wait for a
 * concurrent claim to finish and then see what it left. Locks are taken in id order so two
 * claims cannot deadlock. A seat of another show is not locked (a bad command must not make
 * another show's decisions wait); a seat comes back with its show, and one named for another
 * show counts as missing (the API checks this first).
 */
async function lockExactSeats(tx: Executor, wanted: readonly { seatId: string; showId: string }[]): Promise<Map<string, ClaimedSeat & { status: string; showId: string }>> {
  if (wanted.length === 0) return new Map();
  const rows = await tx<(ClaimedSeat & { status: string; showId: string })[]>`
    select s.id, s.show_id, s.tier_code as tier, s.label, t.price_cents, t.currency, s.rank::float8 as rank, s.status
      from seats s join tiers t on t.show_id = s.show_id and t.code = s.tier_code
     where (s.id, s.show_id) in (select * from unnest(${wanted.map((w) => w.seatId)}::uuid[], ${wanted.map((w) => w.showId)}::uuid[]))
     order by s.id
       for update of s`;
  return new Map(rows.map((r) => [r.id, r]));
}

type Verdict = { cmd: HoldJob; seats: ClaimedSeat[] } | { cmd: HoldJob; rejection: RejectionCode };

/** Adds each item's quantity to its tier's total in `into` (a tier may come more than once). */
function addByTier(into: Map<string, number>, items: readonly { tier: string; quantity: number }[]): Map<string, number> {
  for (const i of items) into.set(i.tier, (into.get(i.tier) ?? 0) + i.quantity);
  return into;
}

const quantityOf = (cmd: HoldJob) => (cmd.request.seatIds ? cmd.request.seatIds.length : (cmd.request.items ?? []).reduce((n, i) => n + i.quantity, 0));

/** A run of consecutive new commands of one show and one form (exact seats, or per tier). */
type Run = { cmd: HoldJob; keyTaken: boolean }[];

/**
 * Decides runs of different shows together, each from seats claimed once for the whole run, in
 * acceptance order: each command gets what a transaction of its own would have got at that
 * point. Per tier a run claims (at most) the best seats it asked for in total; handing them out
 * in order is then the same as claiming best-available again for every command, without the
 * round trips. The claims of all the runs go out as two statements at most (exact seats; best
 * available), pipelined.
 */
async function decideRuns(tx: Executor, rules: ReadonlyMap<string, ShowRules>, runs: readonly Run[]): Promise<Verdict[][]> {
  const decided = new Map<HoldJob, Verdict>();
  const wanting = runs.map((run) => {
    const want: HoldJob[] = [];
    const show = rules.get(run[0]!.cmd.showId)!;
    for (const { cmd, keyTaken } of run) {
      const quantity = quantityOf(cmd);
      if (quantity === 0) throw new InvalidCommand('hold asks for no seats');
      if (keyTaken) decided.set(cmd, { cmd, rejection: 'DUPLICATE_REQUEST' });
      else if (!show.salesOpen) decided.set(cmd, { cmd, rejection: 'SALES_CLOSED' });
      else if (quantity > show.maxSeatsPerBooking) decided.set(cmd, { cmd, rejection: 'TOO_MANY_SEATS' });
      else want.push(cmd);
    }
    return want;
  });
  const exact = wanting.filter((w) => w.length > 0 && w[0]!.request.seatIds);
  const perTier = wanting.filter((w) => w.length > 0 && !w[0]!.request.seatIds);
  // Per run, its demand by tier; tiers in a fixed order (one show's claims, in one statement).
  const demands = perTier.map((want) => {
    const demand = new Map<string, number>();
    for (const cmd of want) addByTier(demand, cmd.request.items!);
    return new Map([...demand].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
  const claims = perTier.flatMap((want, r) => [...demands[r]!].map(([tier, quantity]) => ({ showId: want[0]!.showId, tier, quantity })));
  const [locked, pooled] = await Promise.all([
    lockExactSeats(tx, exact.flatMap((want) => [...new Set(want.flatMap((c) => c.request.seatIds!))].map((seatId) => ({ seatId, showId: want[0]!.showId })))),
    claimBestAvailable(tx, claims),
  ]);

  for (const want of exact) {
    const taken = new Set<string>();
    for (const cmd of want) {
      const seats = cmd.request.seatIds!.map((id) => locked.get(id));
      const free = seats.every((seat) => seat && seat.showId === cmd.showId && seat.status === 'AVAILABLE' && !taken.has(seat.id));
      if (!free) {
        decided.set(cmd, { cmd, rejection: 'SEATS_UNAVAILABLE' });
        continue;
      }
      for (const seat of seats) taken.add(seat!.id);
      decided.set(cmd, { cmd, seats: seats as ClaimedSeat[] });
    }
  }
  let claim = 0;
  perTier.forEach((want, r) => {
    const pools = new Map<string, ClaimedSeat[]>();
    for (const tier of demands[r]!.keys()) pools.set(tier, pooled[claim++]!);
    const next = new Map<string, number>([...pools.keys()].map((t) => [t, 0]));
    for (const cmd of want) {
      const items = cmd.request.items!;
      // Per tier, summed: a command naming a tier twice (the API refuses that, a job might not) still gets all or nothing.
      const fits = [...addByTier(new Map(), items)].every(([tier, quantity]) => pools.get(tier)!.length - next.get(tier)! >= quantity);
      if (!fits) {
        decided.set(cmd, { cmd, rejection: 'SOLD_OUT' });
        continue;
      }
      const seats: ClaimedSeat[] = [];
      for (const i of items) {
        const from = next.get(i.tier)!;
        seats.push(...pools.get(i.tier)!.slice(from, from + i.quantity));
        next.set(i.tier, from + i.quantity);
      }
      decided.set(cmd, { cmd, seats });
    }
  });
  return runs.map((run) => run.map(({ cmd }) => decided.get(cmd)!));
}

// The set-based statements below read their input from jsonb_to_recordset, which the planner
// always guesses at 100 rows; joined to seats or bookings as is, that guess made it hash a full
// scan of the table, every seat of every show, for a batch of one or two commands (5 ms at 20,000
// seats, and growing with the database). So each join to those tables also names its keys with
// `= any(array)`, which the planner sizes from the array and answers from an index.

/**
 * Writes decided holds — bookings, their seats, what each got and the audit trail — in one
 * statement, and returns their documents built from what it returned (no re-read). The seats'
 * foreign key to (booking id, status) is deferred to commit, so the order of the writes inside
 * the statement does not matter.
 */
async function writeVerdicts(tx: Executor, rules: ReadonlyMap<string, ShowRules>, verdicts: Verdict[]): Promise<Booking[]> {
  if (verdicts.length === 0) return [];
  const bookings = verdicts.map((v) => {
    const held = 'seats' in v;
    return {
      id: v.cmd.bookingId,
      show_id: v.cmd.showId,
      hold_ttl: rules.get(v.cmd.showId)!.holdTtlSeconds,
      status: held ? 'HELD' : 'REJECTED',
      request: v.cmd.request,
      customer_ref: v.cmd.customerRef,
      idempotency_key: !held && v.rejection === 'DUPLICATE_REQUEST' ? null : v.cmd.idempotencyKey,
      total_cents: held ? v.seats.reduce((n, s) => n + s.priceCents, 0) : null,
      currency: held ? v.seats[0]!.currency : null,
      rejection_code: held ? null : v.rejection,
      rejection_detail: held ? null : RejectionCodes[v.rejection],
      accepted_at: v.cmd.acceptedAt,
    };
  });
  const seats = verdicts.flatMap((v) => ('seats' in v ? v.seats.map((s) => ({ booking_id: v.cmd.bookingId, seat_id: s.id, price_cents: s.priceCents })) : []));
  const seatIds = seats.map((s) => s.seat_id);
  const [row] = await tx<{ at: Date }[]>`
    with input as (
      select * from jsonb_to_recordset(${tx.json(bookings as never)}) as x(
        id uuid, show_id uuid, hold_ttl int, status text, request jsonb, customer_ref text, idempotency_key text, total_cents int,
        currency text, rejection_code text, rejection_detail text, accepted_at timestamptz)
    ), b as (
      insert into bookings (id, show_id, status, version, request, customer_ref, idempotency_key, total_cents,
                            currency, expires_at, rejection_code, rejection_detail, accepted_at, held_at,
                            rejected_at, updated_at)
      select id, show_id, status, 2, request, customer_ref, idempotency_key, total_cents, currency,
             case when status = 'HELD' then now() + make_interval(secs => hold_ttl) end,
             rejection_code, rejection_detail, accepted_at,
             case when status = 'HELD' then now() end, case when status = 'REJECTED' then now() end, now()
        from input
      returning id, status, accepted_at
    ), taken as (
      select * from jsonb_to_recordset(${tx.json(seats as never)}) as y(booking_id uuid, seat_id uuid, price_cents int)
    ), u as (
      update seats s set status = 'HELD', booking_id = taken.booking_id
        from taken where s.id = taken.seat_id and s.id = any(${seatIds}::uuid[])
    ), bs as (
      insert into booking_seats (booking_id, seat_id, price_cents) select booking_id, seat_id, price_cents from taken
    ), e as (
      insert into booking_events (booking_id, from_status, to_status, at)
      select id, null, 'PENDING', accepted_at from (select * from b order by accepted_at, id) p
      union all
      select id, 'PENDING', status, now() from b
    )
    select now() as at`;
  // now() is the transaction's start, so every hold's expires_at is exactly this plus its TTL.
  const expiresAt = (showId: string) => new Date(row!.at.getTime() + rules.get(showId)!.holdTtlSeconds * 1000);
  return verdicts.map((v) => decidedDoc(v.cmd, row!.at, 'seats' in v ? { seats: v.seats, expiresAt: expiresAt(v.cmd.showId) } : { rejection: v.rejection }));
}

/**
 * Decides hold commands of one show, in the given (acceptance) order, inside the caller's
 * transaction: each HELD with its seats or REJECTED with a reason, all or nothing per command.
 * A command whose booking is already decided (a replayed job) changes nothing and gets the
 * stored decision. Deciding many at once is what makes a hot show fast: the show's rules and
 * the replay/idempotency checks are read once, seats are claimed once per run of commands, and
 * every decision of the run is written by one statement.
 */
export async function decideHolds(tx: Executor, cmds: readonly HoldJob[]): Promise<Decision[]> {
  const [decisions] = await decideHoldsOfShows(tx, [cmds]);
  return decisions!;
}

/**
 * decideHolds for batches of different shows at once (a group commit's), with the statements
 * of one batch: the rules and replay reads, the claims, the writes, each once for all of them,
 * not once per show. Shows touch disjoint seats, so each batch gets exactly what it would get
 * alone. Two batches of one show would not see each other's claims: refused.
 */
export async function decideHoldsOfShows(tx: Executor, batches: readonly (readonly HoldJob[])[]): Promise<Decision[][]> {
  const all = batches.flat();
  if (all.length === 0) return batches.map(() => []);
  const showIds: string[] = [];
  for (const cmds of batches) {
    if (cmds.length === 0) continue;
    const showId = cmds[0]!.showId;
    if (cmds.some((c) => c.showId !== showId)) throw new InvalidCommand('a batch of holds must be of one show');
    if (showIds.includes(showId)) throw new InvalidCommand('two batches of holds of one show cannot be decided together');
    showIds.push(showId);
  }
  const ids = all.map((c) => c.bookingId);
  const keys = all.flatMap((c) => (c.idempotencyKey ? [c.idempotencyKey] : []));
  // Both reads go out together: postgres.js pipelines them on the transaction's connection.
  const [shows, taken] = await Promise.all([
    tx<(ShowRules & { id: string })[]>`
      select id, sales_open, hold_ttl_seconds, max_seats_per_booking from shows where id = any(${showIds}::uuid[])`,
    tx<{ id: string; idempotencyKey: string | null }[]>`
      select id, idempotency_key from bookings
       where id = any(${ids}::uuid[]) or idempotency_key = any(${keys}::text[])`,
  ]);
  const rules = new Map(shows.map(({ id, ...r }) => [id, r]));
  const missing = showIds.find((id) => !rules.has(id));
  if (missing) throw new InvalidCommand(`show ${missing} does not exist`);
  const existing = new Set(taken.filter((r) => ids.includes(r.id)).map((r) => r.id));
  // A replayed booking's key counts too: a new booking with it in the same batch is a duplicate.
  const usedKeys = new Set(taken.flatMap((r) => (r.idempotencyKey ? [r.idempotencyKey] : [])));
  const replays = new Map((await getBookingDocs(tx, [...existing])).map((b) => [b.id, b]));

  // Per show, runs of consecutive new commands of one form (exact seats, or per tier), in order.
  // Every decision but DUPLICATE_REQUEST keeps its key, so which keys are taken is known up front.
  const runsOf = batches.map((cmds) => {
    const runs: Run[] = [];
    for (const cmd of cmds) {
      if (existing.has(cmd.bookingId)) continue;
      const key = cmd.idempotencyKey;
      const keyTaken = key !== null && usedKeys.has(key);
      if (key && !keyTaken) usedKeys.add(key);
      const last = runs.at(-1);
      if (last && !!last[0]!.cmd.request.seatIds === !!cmd.request.seatIds) last.push({ cmd, keyTaken });
      else runs.push([{ cmd, keyTaken }]);
    }
    return runs;
  });
  // A show's second run must see the seats its first took: the k-th runs of all shows go
  // together, then the next ones (nearly always there is only one).
  // The shows whose seats change get their availability version bumped, pipelined with the last
  // round's writes (no round trip of its own).
  const docs = new Map<string, Booking>();
  const rounds = Math.max(0, ...runsOf.map((runs) => runs.length));
  const seatsChanged = new Set<string>();
  let versions = new Map<string, number>();
  for (let k = 0; k < rounds; k++) {
    const verdicts = (await decideRuns(tx, rules, runsOf.flatMap((runs) => runs.slice(k, k + 1)))).flat();
    for (const v of verdicts) if ('seats' in v) seatsChanged.add(v.cmd.showId);
    const [written, bumped] = await Promise.all([
      writeVerdicts(tx, rules, verdicts),
      k === rounds - 1 ? bumpShowVersions(tx, [...seatsChanged]) : Promise.resolve(versions),
    ]);
    versions = bumped;
    for (const doc of written) docs.set(doc.id, doc);
  }
  const versioned = (d: Decision): Decision => {
    const showVersion = d.booking && versions.get(d.booking.showId);
    return showVersion ? { ...d, showVersion } : d;
  };
  return batches.map((cmds) =>
    cmds.map((cmd) =>
      versioned(
        existing.has(cmd.bookingId)
          ? { outcome: 'OK', booking: replays.get(cmd.bookingId) ?? null, changed: false }
          : { outcome: 'OK', booking: docs.get(cmd.bookingId)!, changed: true },
      ),
    ),
  );
}

/** What is known of a hold that cannot be applied (its payload may be what Postgres refuses). */
export interface UndecidableHold {
  bookingId: string;
  showId: string;
  acceptedAt: string;
  idempotencyKey: string | null;
}

/**
 * Decides a hold that can never be applied (a value Postgres refuses, a show that does not
 * exist): REJECTED with INVALID_REQUEST, so the booking gets a decision instead of staying
 * PENDING for ever. Nothing of the request is stored (it may be what was refused), the key is
 * kept unless another booking has it. Returns the booking's document: this decision, or the one
 * it already had; null when not even a rejection can be recorded (no such show): the caller
 * then publishes `invalidHoldDoc` alone.
 */
export async function rejectUndecidableHold(sql: Sql, hold: UndecidableHold): Promise<Booking | null> {
  return inTransaction(sql, async (tx) => {
    const [show] = await tx<{ id: string }[]>`select id from shows where id = ${hold.showId}`;
    if (!show) return null;
    const [taken] = hold.idempotencyKey ? await tx<{ id: string }[]>`select id from bookings where idempotency_key = ${hold.idempotencyKey}` : [];
    // On a conflict nothing is inserted: the booking exists already (decided meanwhile), and its
    // decision stands; either way its document is read back.
    await tx`
      with b as (
        insert into bookings (id, show_id, status, version, request, idempotency_key, rejection_code, rejection_detail,
                              accepted_at, rejected_at, updated_at)
        values (${hold.bookingId}, ${hold.showId}, 'REJECTED', 2, '{}', ${taken ? null : hold.idempotencyKey}, 'INVALID_REQUEST',
                ${RejectionCodes.INVALID_REQUEST}, ${hold.acceptedAt}, now(), now())
        on conflict (id) do nothing
        returning id, accepted_at
      ), e as (
        insert into booking_events (booking_id, from_status, to_status, at)
        select id, null, 'PENDING', accepted_at from b
        union all
        select id, 'PENDING', 'REJECTED', now() from b
      )
      select id from b`;
    const [doc] = await getBookingDocs(tx, [hold.bookingId]);
    return doc ?? null;
  });
}

/** The document of a rejection no row could be written for (published to Redis only). */
export function invalidHoldDoc(hold: UndecidableHold): Booking {
  const now = new Date().toISOString();
  const pending = pendingBooking({ id: hold.bookingId, showId: hold.showId, request: {}, customerRef: null, acceptedAt: hold.acceptedAt });
  return {
    ...pending,
    status: 'REJECTED',
    version: 2,
    rejection: { code: 'INVALID_REQUEST', detail: RejectionCodes.INVALID_REQUEST },
    updatedAt: now,
    transitions: [...pending.transitions, { status: 'REJECTED', at: now }],
  };
}

/** Hold commands of one show, decided in one transaction (retried whole on contention). */
export function holdSeatsBatch(sql: Sql, cmds: readonly HoldJob[]): Promise<Decision[]> {
  return inTransaction(sql, (tx) => decideHolds(tx, cmds));
}

/** One hold command in its own transaction. */
export async function holdSeats(sql: Sql, cmd: HoldJob): Promise<Decision> {
  const [decision] = await holdSeatsBatch(sql, [cmd]);
  return decision!;
}

interface LockedBooking {
  id: string;
  showId: string;
  status: BookingStatus;
  totalCents: number | null;
  currency: string | null;
  expired: boolean;
  paymentRef: string | null;
  msToExpiry: number | null;
}

/**
 * Locks these booking rows, in id order (so two lockers cannot deadlock): every transition of a
 * booking is serialised on its row. `expired` and `msToExpiry` use the database's clock.
 */
async function lockBookings(tx: Executor, ids: readonly string[]): Promise<LockedBooking[]> {
  return tx<LockedBooking[]>`
    select id, show_id, status, total_cents, currency, payment_ref,
           expires_at <= now() as expired,
           (extract(epoch from (expires_at - now())) * 1000)::float8 as ms_to_expiry
      from bookings where id = any(${ids as string[]}::uuid[])
     order by id
       for update`;
}

/** One booking leaving HELD or CONFIRMED: its seats go back on sale, with the audit row. */
interface Release {
  id: string;
  from: BookingStatus;
  to: 'EXPIRED' | 'CANCELLED';
  detail: object | null;
}

/** HELD/CONFIRMED → a final status, seats back on sale, with the audit rows: one statement for all. */
async function releaseBookings(tx: Executor, releases: readonly Release[]) {
  if (releases.length === 0) return;
  const rows = releases.map((r) => ({ id: r.id, from_status: r.from, to_status: r.to, detail: r.detail }));
  const ids = releases.map((r) => r.id);
  await tx`
    with r as (
      select * from jsonb_to_recordset(${tx.json(rows as never)}) as x(id uuid, from_status text, to_status text, detail jsonb)
    ), b as (
      update bookings set status = r.to_status, version = version + 1, updated_at = now(),
             expired_at = case when r.to_status = 'EXPIRED' then now() end,
             cancelled_at = case when r.to_status = 'CANCELLED' then now() end
        from r where bookings.id = r.id and bookings.id = any(${ids}::uuid[])
    ), s as (
      update seats set status = 'AVAILABLE', booking_id = null
        from r where seats.booking_id = r.id and seats.booking_id = any(${ids}::uuid[])
    )
    insert into booking_events (booking_id, from_status, to_status, detail)
    select id, from_status, to_status, detail from r`;
}

/** A charge (its booking HELD → CONFIRMED) or a refund (of a confirmed booking being cancelled). */
interface Payment {
  kind: 'CHARGE' | 'REFUND';
  bookingId: string;
  reference: string;
  amountCents: number;
  currency: string;
}

/**
 * A batch's payments in one statement: every payment row; for a charge, its booking CONFIRMED,
 * its seats SOLD and the audit row; for a refund, the booking's refund reference (its release to
 * CANCELLED follows in releaseBookings). A batch names each booking once, so the two updates of
 * bookings never touch the same row.
 */
async function writePayments(tx: Executor, payments: readonly Payment[]) {
  if (payments.length === 0) return;
  const rows = payments.map((m) => ({ kind: m.kind, booking_id: m.bookingId, reference: m.reference, amount_cents: m.amountCents, currency: m.currency }));
  const ids = payments.map((m) => m.bookingId);
  await tx`
    with m as (
      select * from jsonb_to_recordset(${tx.json(rows as never)})
        as x(kind text, booking_id uuid, reference text, amount_cents int, currency text)
    ), p as (
      insert into payments (booking_id, kind, reference, amount_cents, currency)
      select booking_id, kind, reference, amount_cents, currency from m
    ), c as (
      update bookings set status = 'CONFIRMED', version = version + 1, payment_ref = m.reference,
             confirmed_at = now(), updated_at = now()
        from m where m.kind = 'CHARGE' and bookings.id = m.booking_id and bookings.id = any(${ids}::uuid[])
    ), r as (
      update bookings set refund_ref = m.reference
        from m where m.kind = 'REFUND' and bookings.id = m.booking_id and bookings.id = any(${ids}::uuid[])
    ), s as (
      update seats set status = 'SOLD'
        from m where m.kind = 'CHARGE' and seats.booking_id = m.booking_id and seats.booking_id = any(${ids}::uuid[])
    )
    insert into booking_events (booking_id, from_status, to_status)
    select booking_id, 'HELD', 'CONFIRMED' from m where kind = 'CHARGE'`;
}

/** What a command decided, before its document is read (once, for the whole batch). */
type CommandVerdict = Omit<BookingDecision, 'booking'>;

/** The writes a batch decided, sent together once every command is decided. */
interface Writes {
  payments: Payment[];
  releases: Release[];
}

/**
 * HELD → CONFIRMED, charging once. The booking row is locked first, so confirm and expiry are
 * serialised: whichever locks first wins, and the loser sees the winner's status. The expiry
 * test is database time (now()), never the worker's clock. The charge happens only when the
 * hold is live; it is idempotent by booking id, so a retried transaction charges once.
 */
async function decideConfirm(payments: PaymentProvider, cmd: ConfirmCommand, b: LockedBooking, writes: Writes): Promise<CommandVerdict> {
  if (b.status === 'CONFIRMED') return { outcome: 'OK', changed: false };
  if (b.status === 'EXPIRED') return { outcome: 'BOOKING_EXPIRED', changed: false };
  if (b.status !== 'HELD') return { outcome: 'BOOKING_FINAL', changed: false, detail: `booking is ${b.status}` };
  if (b.expired) {
    // Expiry won the race: release now rather than wait for the delayed job.
    writes.releases.push({ id: b.id, from: 'HELD', to: 'EXPIRED', detail: { by: 'confirm' } });
    return { outcome: 'BOOKING_EXPIRED', changed: true };
  }
  const charge = await payments.charge({ key: b.id, token: cmd.paymentToken, amountCents: b.totalCents!, currency: b.currency! });
  if (!charge.ok) return { outcome: 'PAYMENT_DECLINED', changed: false, detail: charge.message };
  writes.payments.push({ kind: 'CHARGE', bookingId: b.id, reference: charge.reference, amountCents: b.totalCents!, currency: b.currency! });
  return { outcome: 'OK', changed: true };
}

/** HELD → CANCELLED (seats freed at once), or CONFIRMED → CANCELLED with one refund. Repeats are no-ops. */
async function decideCancel(payments: PaymentProvider, cmd: CancelCommand, b: LockedBooking, writes: Writes): Promise<CommandVerdict> {
  if (b.status === 'CANCELLED') return { outcome: 'OK', changed: false };
  if (b.status === 'EXPIRED') return { outcome: 'BOOKING_EXPIRED', changed: false };
  if (b.status === 'REJECTED') return { outcome: 'BOOKING_FINAL', changed: false, detail: 'booking was rejected' };
  if (b.status === 'CONFIRMED') {
    const refund = await payments.refund({ key: b.id, chargeReference: b.paymentRef!, amountCents: b.totalCents!, currency: b.currency! });
    writes.payments.push({ kind: 'REFUND', bookingId: b.id, reference: refund.reference, amountCents: b.totalCents!, currency: b.currency! });
  }
  writes.releases.push({ id: b.id, from: b.status, to: 'CANCELLED', detail: cmd.reason ? { reason: cmd.reason } : null });
  return { outcome: 'OK', changed: true };
}

/**
 * The delayed job's release: HELD and past expiresAt (database time) → EXPIRED. Anything else is
 * left alone — in particular a CONFIRMED booking is never released. A job that fired early by the
 * database's clock is told how long to wait.
 */
function decideExpire(b: LockedBooking, writes: Writes): CommandVerdict {
  if (b.status !== 'HELD') return { outcome: 'OK', changed: false };
  if (!b.expired) return { outcome: 'OK', changed: false, retryInMs: Math.max(1, Math.ceil(b.msToExpiry ?? 1)) };
  writes.releases.push({ id: b.id, from: 'HELD', to: 'EXPIRED', detail: { by: 'expiry' } });
  return { outcome: 'OK', changed: true };
}

export type ConfirmCommand = { bookingId: string; paymentToken: string };
export type CancelCommand = { bookingId: string; reason: string | null };
/** The commands that act on an existing booking (holds create theirs: decideHolds). */
export type BookingCommand = ({ kind: 'confirm' } & ConfirmCommand) | ({ kind: 'cancel' } & CancelCommand) | { kind: 'expire'; bookingId: string };

export interface BookingDecision extends Decision {
  /** An expiry that came early by the database's clock: how long until the hold expires. */
  retryInMs?: number;
}

/**
 * Confirms, cancels and expiries of distinct bookings, decided inside the caller's transaction.
 * Every booking row is locked first, in id order (so two batches cannot deadlock, and confirm
 * racing expiry has one winner), then each command is decided against its locked row. Each
 * command touches only its own booking and that booking's seats, so with distinct bookings the
 * order between them does not matter: the batch's writes are two statements at most
 * (payments, releases), sent together, and every document is read back once at
 * the end — the same few round trips whatever the batch's size. A batch names each booking once
 * (the worker's batches stop at a repeated booking).
 */
export async function decideBookingCommands(tx: Executor, payments: PaymentProvider, cmds: readonly BookingCommand[]): Promise<BookingDecision[]> {
  if (cmds.length === 0) return [];
  const ids = cmds.map((c) => c.bookingId);
  if (new Set(ids).size !== ids.length) throw new InvalidCommand('a batch of booking commands must name each booking once');
  const byId = new Map((await lockBookings(tx, ids)).map((r) => [r.id, r]));
  const writes: Writes = { payments: [], releases: [] };
  const verdicts = await Promise.all(
    cmds.map(async (cmd): Promise<CommandVerdict | null> => {
      const b = byId.get(cmd.bookingId);
      if (!b) return null;
      if (cmd.kind === 'confirm') return decideConfirm(payments, cmd, b, writes);
      if (cmd.kind === 'cancel') return decideCancel(payments, cmd, b, writes);
      return decideExpire(b, writes);
    }),
  );
  // Every change here moves seats (HELD → SOLD, or back on sale): those shows' versions grow.
  const shows = cmds.flatMap((cmd, i) => (verdicts[i]?.changed ? [byId.get(cmd.bookingId)!.showId] : []));
  // Statements on one connection run in the order they are sent, so the writes, the version bump
  // and the read of the documents go out together (one round trip), and a cancelled confirmed
  // booking gets its refund recorded before its release.
  const [, versions, read] = await settleAll<unknown>([
    settleAll([writePayments(tx, writes.payments), releaseBookings(tx, writes.releases)]),
    bumpShowVersions(tx, shows),
    getBookingDocs(tx, [...byId.keys()]),
  ]);
  const docs = new Map((read as Booking[]).map((d) => [d.id, d]));
  return cmds.map((cmd, i): BookingDecision => {
    const v = verdicts[i];
    if (!v) return { outcome: 'BOOKING_NOT_FOUND', booking: null, changed: false };
    const showVersion = v.changed ? (versions as Map<string, number>).get(byId.get(cmd.bookingId)!.showId) : undefined;
    return { ...v, booking: docs.get(cmd.bookingId) ?? null, ...(showVersion ? { showVersion } : {}) };
  });
}

/** Booking commands in one transaction of their own (see decideBookingCommands). */
export function bookingCommands(sql: Sql, payments: PaymentProvider, cmds: readonly BookingCommand[]): Promise<BookingDecision[]> {
  return inTransaction(sql, (tx) => decideBookingCommands(tx, payments, cmds));
}

/**
 * Safety net for lost delayed jobs: releases HELD bookings more than `graceMs` past expiry.
 * SKIP LOCKED: a booking locked right now is being decided by its own command (confirm, cancel,
 * expire) — skipping it is right, the next sweep sees the result. Fewer rows than `limit` simply
 * means there is less to do.
 */
export async function sweepExpiredHolds(sql: Sql, opts: { graceMs: number; limit: number }): Promise<{ bookings: Booking[]; showVersions: Map<string, number> }> {
  return inTransaction(sql, async (tx) => {
    const due = await tx<{ id: string; showId: string }[]>`
      select id, show_id from bookings
       where status = 'HELD' and expires_at <= now() - make_interval(secs => ${opts.graceMs / 1000})
       order by expires_at
       limit ${opts.limit}
         for update skip locked`;
    const ids = due.map((r) => r.id);
    const [, showVersions, bookings] = await Promise.all([
      releaseBookings(tx, ids.map((id) => ({ id, from: 'HELD', to: 'EXPIRED', detail: { by: 'sweep' } }))),
      bumpShowVersions(tx, due.map((r) => r.showId)),
      getBookingDocs(tx, ids),
    ]);
    return { bookings, showVersions };
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
