import type { Booking, BookingRequest, BookingStatus } from '@booking/contracts';
import type { Executor } from '../client.js';

interface BookingRow {
  id: string;
  showId: string;
  status: BookingStatus;
  version: number;
  request: BookingRequest;
  customerRef: string | null;
  totalCents: number | null;
  currency: string | null;
  expiresAt: Date | null;
  rejectionCode: string | null;
  rejectionDetail: string | null;
  acceptedAt: Date;
  updatedAt: Date;
  seats: { id: string; tier: string; label: string | null; priceCents: number }[];
  transitions: { status: BookingStatus; at: string }[];
  money: { kind: 'CHARGE' | 'REFUND'; reference: string; amountCents: number; currency: string; at: string }[];
}

const iso = (d: Date | string) => new Date(d).toISOString();

function toBooking(r: BookingRow): Booking {
  const money = (kind: 'CHARGE' | 'REFUND') => {
    const m = r.money.find((x) => x.kind === kind);
    return m ? { reference: m.reference, amountCents: m.amountCents, currency: m.currency, at: iso(m.at) } : null;
  };
  return {
    id: r.id,
    showId: r.showId,
    status: r.status,
    version: r.version,
    request: r.request,
    customerRef: r.customerRef,
    seats: r.seats,
    totalCents: r.totalCents,
    currency: r.currency,
    expiresAt: r.expiresAt ? iso(r.expiresAt) : null,
    rejection: r.rejectionCode ? { code: r.rejectionCode, detail: r.rejectionDetail ?? '' } : null,
    payment: money('CHARGE'),
    refund: money('REFUND'),
    createdAt: iso(r.acceptedAt),
    updatedAt: iso(r.updatedAt),
    transitions: r.transitions.map((t) => ({ status: t.status, at: iso(t.at) })),
  };
}

/**
 * The client-facing documents of these bookings, in one round trip: seats, transitions and
 * payments come back aggregated as JSON. Called inside the deciding transaction so the document
 * written to Redis is exactly what was committed.
 *
 * Each booking's seats are looked up by primary key (`lateral … offset 0` keeps the planner
 * from turning that into a join): on tables not analyzed yet (a venue's seats inserted just
 * before its on-sale) it hash-joined the whole seats table once per booking, 20 ms instead of
 * 4.7 for 27 bookings among 5,000 seats; with fresh statistics both plans take ~4.5 ms.
 */
export async function getBookingDocs(sql: Executor, ids: readonly string[]): Promise<Booking[]> {
  if (ids.length === 0) return [];
  const rows = await sql<BookingRow[]>`
    select b.id, b.show_id, b.status, b.version, b.request, b.customer_ref, b.total_cents,
           b.currency, b.expires_at, b.rejection_code, b.rejection_detail, b.accepted_at, b.updated_at,
           coalesce((select json_agg(json_build_object('id', s.id, 'tier', s.tier_code, 'label', s.label,
                                                       'priceCents', bs.price_cents) order by s.rank)
                       from booking_seats bs cross join lateral (select * from seats s where s.id = bs.seat_id offset 0) s
                      where bs.booking_id = b.id), '[]') as seats,
           coalesce((select json_agg(json_build_object('status', e.to_status, 'at', e.at) order by e.id)
                       from booking_events e where e.booking_id = b.id), '[]') as transitions,
           coalesce((select json_agg(json_build_object('kind', p.kind, 'reference', p.reference,
                                                       'amountCents', p.amount_cents, 'currency', p.currency, 'at', p.at))
                       from payments p where p.booking_id = b.id), '[]') as money
      from bookings b
     where b.id = any(${ids as string[]}::uuid[])`;
  const byId = new Map(rows.map((r) => [r.id, toBooking(r)]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

export async function getBooking(sql: Executor, id: string): Promise<Booking | null> {
  const [doc] = await getBookingDocs(sql, [id]);
  return doc ?? null;
}
