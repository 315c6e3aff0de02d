import type { Booking, BookingStatus, Seat, Show } from '@booking/contracts';
import type { BuyerRecord } from './types.js';

/**
 * The verdict of a run, judged through the API only (no SQL): what the buyers saw, checked
 * against the admin list of bookings, the show's totals and the seat map. A pure function of
 * its inputs and a fetcher, so tests feed it crafted inconsistent data.
 */

/** Reads the API; the real one (run.ts) pages through the admin list and the seat map. */
export interface VerdictFetcher {
  /** Every decided booking of the show (the admin list, all pages). */
  listBookings(showId: string): Promise<Booking[]>;
  getShow(showId: string): Promise<Show>;
  /** The whole seat map of the show. */
  listSeats(showId: string): Promise<Seat[]>;
  /** One booking (also PENDING ones, which the admin list leaves out); null on 404. */
  getBooking(bookingId: string): Promise<Booking | null>;
}

export interface VerdictInput {
  /** customerRefs of this run's buyers start with `<runId>:`. */
  runId: string;
  showIds: readonly string[];
  buyers: readonly BuyerRecord[];
  /** 5xx answers seen during the run, by "op status code". */
  serverErrors: Readonly<Record<string, number>>;
}

export const CHECKS = {
  'no-5xx': 'no request was answered with a 5xx',
  'one-decision': 'every accepted booking reached exactly one decision, consistent with what its buyer saw',
  'no-double-seat': 'no seat is in two HELD/CONFIRMED bookings; each got exactly the seats it asked for',
  'counts-match': "the show's held and sold totals (and its seat map) equal the sum over its bookings",
  'holds-released': 'every abandoned hold was released (EXPIRED, its seats available again)',
  'no-duplicates': 'retries with the same Idempotency-Key created no second booking (and were answered with the first)',
} as const;
export type CheckName = keyof typeof CHECKS;

export interface Check {
  name: CheckName;
  description: string;
  ok: boolean;
  violations: number;
  /** The first few violations, readable. */
  samples: string[];
}

export interface Verdict {
  pass: boolean;
  checks: Check[];
  /** One line per failed check. */
  reasons: string[];
  /** Things worth knowing that are not violations. */
  notes: string[];
  /** What the API says this run's bookings ended as. */
  finalStatuses: Record<string, number>;
}

const MAX_SAMPLES = 10;
const LIVE: ReadonlySet<BookingStatus> = new Set(['HELD', 'CONFIRMED']);
const NEXT: Record<BookingStatus, readonly BookingStatus[]> = {
  PENDING: ['HELD', 'REJECTED'],
  HELD: ['CONFIRMED', 'EXPIRED', 'CANCELLED'],
  CONFIRMED: ['CANCELLED'],
  REJECTED: [],
  EXPIRED: [],
  CANCELLED: [],
};

/** Whether `to` can follow `from` (or is it) in the booking state machine. */
export function reachable(from: BookingStatus, to: BookingStatus): boolean {
  if (from === to) return true;
  return NEXT[from].some((n) => reachable(n, to));
}

/** What is wrong with a booking's audit trail, or null: one PENDING, then one decision, then legal steps to its status. */
export function trailProblem(doc: Booking): string | null {
  const steps = doc.transitions.map((t) => t.status);
  if (steps[0] !== 'PENDING') return `trail starts with ${steps[0] ?? 'nothing'}, not PENDING`;
  if (steps.filter((s) => s === 'PENDING').length !== 1) return `trail has ${steps.filter((s) => s === 'PENDING').length} PENDING steps`;
  const decisions = steps.filter((s) => s === 'HELD' || s === 'REJECTED').length;
  if (doc.status !== 'PENDING' && decisions !== 1) return `trail has ${decisions} decisions (${steps.join('→')})`;
  for (let i = 1; i < steps.length; i++) {
    if (!NEXT[steps[i - 1]!].includes(steps[i]!)) return `illegal step ${steps[i - 1]}→${steps[i]} (${steps.join('→')})`;
  }
  if (steps[steps.length - 1] !== doc.status) return `status ${doc.status} but the trail ends in ${steps[steps.length - 1]}`;
  if (doc.status === 'REJECTED' && (!doc.rejection || doc.seats.length > 0)) return 'REJECTED without a rejection code, or with seats';
  if (doc.status === 'HELD' && !doc.expiresAt) return 'HELD without expiresAt';
  return null;
}

const seatCount = (b: { request: Booking['request'] }) => b.request.seatIds?.length ?? (b.request.items ?? []).reduce((n, i) => n + i.quantity, 0);

class Findings {
  readonly checks = new Map<CheckName, Check>();
  readonly notes: string[] = [];
  constructor() {
    for (const [name, description] of Object.entries(CHECKS) as [CheckName, string][]) {
      this.checks.set(name, { name, description, ok: true, violations: 0, samples: [] });
    }
  }
  fail(name: CheckName, text: string): void {
    const c = this.checks.get(name)!;
    c.ok = false;
    c.violations++;
    if (c.samples.length < MAX_SAMPLES) c.samples.push(text);
  }
}

interface Snapshot {
  show: Show;
  bookings: Booking[];
  seats: Seat[];
}

const totalsKey = (s: Show) => JSON.stringify([s.totals, s.tiers.map((t) => [t.code, t.held, t.sold])]);

/**
 * The show, its bookings and seat map as one consistent picture: read the totals before and after
 * the lists and retry while they differ (a hold expiring meanwhile would look like a mismatch).
 */
async function snapshot(fetcher: VerdictFetcher, showId: string, attempts = 5): Promise<{ snap: Snapshot; stable: boolean }> {
  let snap: Snapshot | null = null;
  for (let i = 0; i < attempts; i++) {
    const before = await fetcher.getShow(showId);
    const bookings = await fetcher.listBookings(showId);
    const seats = await fetcher.listSeats(showId);
    const after = await fetcher.getShow(showId);
    snap = { show: after, bookings, seats };
    if (totalsKey(before) === totalsKey(after)) return { snap, stable: true };
    await new Promise((r) => setTimeout(r, 200));
  }
  return { snap: snap!, stable: false };
}

export async function judge(input: VerdictInput, fetcher: VerdictFetcher): Promise<Verdict> {
  const f = new Findings();
  const finalStatuses: Record<string, number> = {};

  for (const [what, n] of Object.entries(input.serverErrors)) {
    if (n > 0) f.fail('no-5xx', `${what}: ${n}×`);
  }

  const refPrefix = `${input.runId}:`;
  const buyersByRef = new Map(input.buyers.map((b) => [b.customerRef, b]));

  for (const showId of input.showIds) {
    const { snap, stable } = await snapshot(fetcher, showId);
    if (!stable) f.notes.push(`show ${showId} kept changing while it was read; the count checks may be off by what changed`);
    const { show, bookings, seats } = snap;
    const byId = new Map(bookings.map((b) => [b.id, b]));

    // no-double-seat: every seat of a live booking has one owner; each got what it asked for.
    const owner = new Map<string, Booking>();
    for (const b of bookings) {
      if (!LIVE.has(b.status)) continue;
      if (b.seats.length !== seatCount(b)) f.fail('no-double-seat', `booking ${b.id} (${b.status}) asked for ${seatCount(b)} seats and has ${b.seats.length}`);
      for (const s of b.seats) {
        const other = owner.get(s.id);
        if (other) f.fail('no-double-seat', `seat ${s.label ?? s.id} is in ${other.status} booking ${other.id} and ${b.status} booking ${b.id}`);
        else owner.set(s.id, b);
      }
    }

    // counts-match: the show's totals, per tier and overall, and the seat map.
    const sum = { held: 0, sold: 0 };
    const byTier = new Map<string, { held: number; sold: number }>();
    for (const b of bookings) {
      if (!LIVE.has(b.status)) continue;
      const k = b.status === 'HELD' ? 'held' : 'sold';
      sum[k] += b.seats.length;
      for (const s of b.seats) {
        const t = byTier.get(s.tier) ?? { held: 0, sold: 0 };
        t[k]++;
        byTier.set(s.tier, t);
      }
    }
    const tot = show.totals;
    if (tot.held !== sum.held || tot.sold !== sum.sold) {
      f.fail('counts-match', `show ${showId}: totals say held ${tot.held}, sold ${tot.sold}; its bookings hold ${sum.held} and sold ${sum.sold}`);
    }
    if (tot.held + tot.sold > tot.total) f.fail('counts-match', `show ${showId}: held ${tot.held} + sold ${tot.sold} exceeds capacity ${tot.total}`);
    if (tot.available + tot.held + tot.sold !== tot.total) {
      f.fail('counts-match', `show ${showId}: available ${tot.available} + held ${tot.held} + sold ${tot.sold} ≠ total ${tot.total}`);
    }
    for (const t of show.tiers) {
      const s = byTier.get(t.code) ?? { held: 0, sold: 0 };
      if (t.held !== s.held || t.sold !== s.sold) {
        f.fail('counts-match', `show ${showId} tier ${t.code}: held ${t.held}, sold ${t.sold}; its bookings hold ${s.held} and sold ${s.sold}`);
      }
    }
    if (seats.length !== tot.total) f.fail('counts-match', `show ${showId}: the seat map lists ${seats.length} seats, the totals ${tot.total}`);
    const seatById = new Map(seats.map((s) => [s.id, s]));
    for (const seat of seats) {
      const b = owner.get(seat.id);
      const expected = !b ? 'AVAILABLE' : b.status === 'HELD' ? 'HELD' : 'SOLD';
      if (seat.status !== expected) {
        f.fail('counts-match', `seat ${seat.label ?? seat.id} is ${seat.status} in the seat map but ${b ? `${b.status} in booking ${b.id}` : 'in no live booking'}`);
      }
    }

    // no-duplicates, from the server's side: one booking per buyer.
    const ours = new Map<string, Booking[]>();
    for (const b of bookings) {
      if (!b.customerRef?.startsWith(refPrefix)) continue;
      const list = ours.get(b.customerRef) ?? [];
      list.push(b);
      ours.set(b.customerRef, list);
    }
    let unknownToClient = 0;
    for (const [ref, list] of ours) {
      const buyer = buyersByRef.get(ref);
      if (list.length > 1) f.fail('no-duplicates', `buyer ${ref} has ${list.length} bookings: ${list.map((b) => b.id).join(', ')}`);
      if (!buyer) f.fail('no-duplicates', `booking ${list[0]!.id} carries customerRef ${ref}, which no buyer of this run used`);
      else if (!buyer.bookingId) unknownToClient++;
      else for (const b of list) if (b.id !== buyer.bookingId) f.fail('no-duplicates', `buyer ${ref} was given booking ${buyer.bookingId}, yet booking ${b.id} also exists for it`);
    }
    if (unknownToClient) f.notes.push(`${unknownToClient} bookings were made for buyers whose creation never got an answer (timeouts); they are decided like any other`);

    // Per buyer of this show: its decision, what it saw afterwards, the release of abandoned holds.
    let gaveUp = 0;
    for (const buyer of input.buyers) {
      if (buyer.showId !== showId) continue;
      const ids = [...new Set(buyer.createdIds)];
      if (ids.length > 1) f.fail('no-duplicates', `Idempotency-Key ${buyer.idempotencyKey} answered with ${ids.length} booking ids: ${ids.join(', ')}`);
      if (buyer.retryRefused) f.fail('no-duplicates', `Idempotency-Key ${buyer.idempotencyKey}: ${buyer.retryRefused}`);
      if (!buyer.bookingId) continue;
      const doc = byId.get(buyer.bookingId) ?? (await fetcher.getBooking(buyer.bookingId));
      if (!doc) {
        f.fail('one-decision', `accepted booking ${buyer.bookingId} is unknown to the API (lost)`);
        continue;
      }
      finalStatuses[doc.status] = (finalStatuses[doc.status] ?? 0) + 1;
      if (doc.status === 'PENDING') {
        f.fail('one-decision', `accepted booking ${doc.id} was never decided`);
        continue;
      }
      if (!byId.has(doc.id)) f.fail('one-decision', `decided booking ${doc.id} (${doc.status}) is missing from the admin list`);
      const problem = trailProblem(doc);
      if (problem) f.fail('one-decision', `booking ${doc.id}: ${problem}`);
      const decided = doc.transitions[1]?.status;
      if (buyer.decision && buyer.decision.status !== decided) {
        f.fail('one-decision', `booking ${doc.id}: its buyer saw ${buyer.decision.status}, the API says the decision was ${decided}`);
      }
      if (!buyer.decision) gaveUp++;
      if (buyer.lastStatus && !reachable(buyer.lastStatus, doc.status)) {
        f.fail('one-decision', `booking ${doc.id}: its buyer last saw ${buyer.lastStatus}, yet it is now ${doc.status}`);
      }
      const r = buyer.actionResult;
      if (buyer.decision?.status === 'HELD' && r) {
        const expect = (status: BookingStatus, why: string) => {
          if (doc.status !== status) f.fail('one-decision', `booking ${doc.id}: ${why}, yet it is ${doc.status}`);
        };
        if (buyer.action === 'confirm' && r.status === 200) expect('CONFIRMED', 'confirm answered 200');
        if (buyer.action === 'cancel' && r.status === 200) expect('CANCELLED', 'cancel answered 200');
        if (buyer.action === 'decline' && r.status === 200) f.fail('one-decision', `booking ${doc.id}: a declined payment answered 200`);
        if (buyer.action === 'decline' && r.status === 402 && doc.payment) f.fail('one-decision', `booking ${doc.id}: a declined payment left a charge`);
      }
      const abandoned =
        buyer.decision?.status === 'HELD' &&
        (buyer.action === 'abandon' || (buyer.action === 'decline' && r?.status === 402) || (r?.status === 409 && r.code === 'BOOKING_EXPIRED'));
      if (abandoned) {
        if (doc.status !== 'EXPIRED') {
          f.fail('holds-released', `abandoned hold ${doc.id} is ${doc.status} (expiresAt ${doc.expiresAt})`);
        } else {
          for (const s of doc.seats) {
            const seat = seatById.get(s.id);
            const now = owner.get(s.id);
            if (seat && seat.status !== 'AVAILABLE' && !now) f.fail('holds-released', `seat ${s.label ?? s.id} of expired booking ${doc.id} is still ${seat.status}`);
            if (now?.id === doc.id) f.fail('holds-released', `seat ${s.label ?? s.id} still belongs to expired booking ${doc.id}`);
          }
        }
      }
    }
    if (gaveUp) f.notes.push(`${gaveUp} buyers gave up following their booking before its decision (decision timeout); the API shows them decided`);
  }

  const checks = [...f.checks.values()];
  const reasons = checks
    .filter((c) => !c.ok)
    .map((c) => `${c.name}: ${c.violations} violation${c.violations === 1 ? '' : 's'} — ${c.samples[0]}`);
  return { pass: reasons.length === 0, checks, reasons, notes: f.notes, finalStatuses };
}
