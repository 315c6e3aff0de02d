import Type, { type Static } from 'typebox';
import { BookingStatus, Currency, IdempotencyKey, Nullable, PageQuery, Text, TierCode, Timestamp, Uuid } from '../common.js';

/** Where the Prefer: wait=N long-poll stops (RFC 7240). */
export const MAX_WAIT_SECONDS = 30;

export const BookingItem = Type.Object(
  { tier: TierCode, quantity: Type.Integer({ minimum: 1, maximum: 100 }) },
  { additionalProperties: false },
);
export type BookingItem = Static<typeof BookingItem>;

/** Exactly one of seatIds (exact seats) or items (best available per tier); all or nothing. */
export const BookingRequest = Type.Object(
  {
    seatIds: Type.Optional(Type.Array(Uuid, { minItems: 1, maxItems: 100, uniqueItems: true })),
    items: Type.Optional(Type.Array(BookingItem, { minItems: 1, maxItems: 20 })),
  },
  { additionalProperties: false },
);
export type BookingRequest = Static<typeof BookingRequest>;

export const CreateBookingBody = Type.Object(
  {
    ...BookingRequest.properties,
    customerRef: Type.Optional(Text({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false, description: 'Give exactly one of seatIds or items' },
);
export type CreateBookingBody = Static<typeof CreateBookingBody>;

export const CreateBookingHeaders = Type.Object({
  'idempotency-key': Type.Optional(IdempotencyKey),
  prefer: Type.Optional(Type.String({ description: 'wait=N (N ≤ 30): wait up to N seconds for the decision' })),
});

export const BookingParams = Type.Object({ bookingId: Uuid }, { additionalProperties: false });
export type BookingParams = Static<typeof BookingParams>;

export const ConfirmBody = Type.Object(
  { paymentToken: Text({ minLength: 1, maxLength: 200, description: 'tok_visa succeeds, tok_declined is declined' }) },
  { additionalProperties: false },
);
export type ConfirmBody = Static<typeof ConfirmBody>;

export const CancelBody = Type.Object(
  { reason: Type.Optional(Text({ maxLength: 500 })) },
  { additionalProperties: false },
);
export type CancelBody = Static<typeof CancelBody>;

export const BookingSeat = Type.Object({
  id: Uuid,
  tier: TierCode,
  label: Nullable(Type.String()),
  priceCents: Type.Integer(),
});
export type BookingSeat = Static<typeof BookingSeat>;

export const Transition = Type.Object({ status: BookingStatus, at: Timestamp });
export type Transition = Static<typeof Transition>;

export const Money = Type.Object({ reference: Type.String(), amountCents: Type.Integer(), currency: Currency, at: Timestamp });

/**
 * The booking as clients see it. The same document is cached in Redis (the status document)
 * and served from there while the booking is live; `version` grows with every transition and
 * is the ETag.
 */
export const Booking = Type.Object(
  {
    id: Uuid,
    showId: Uuid,
    status: BookingStatus,
    version: Type.Integer({ minimum: 1 }),
    request: BookingRequest,
    customerRef: Nullable(Type.String()),
    seats: Type.Array(BookingSeat),
    totalCents: Nullable(Type.Integer()),
    currency: Nullable(Currency),
    expiresAt: Nullable(Timestamp),
    rejection: Nullable(Type.Object({ code: Type.String(), detail: Type.String() })),
    payment: Nullable(Money),
    refund: Nullable(Money),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    transitions: Type.Array(Transition),
    queuePosition: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Only while PENDING, on GET: about how many requests of the show are ahead of this one' }),
    ),
  },
  { $id: 'Booking' },
);
export type Booking = Static<typeof Booking>;

/** The document of a booking just accepted, before any decision (version 1). */
export function pendingBooking(b: { id: string; showId: string; request: BookingRequest; customerRef: string | null; acceptedAt: string }): Booking {
  return {
    id: b.id,
    showId: b.showId,
    status: 'PENDING',
    version: 1,
    request: b.request,
    customerRef: b.customerRef,
    seats: [],
    totalCents: null,
    currency: null,
    expiresAt: null,
    rejection: null,
    payment: null,
    refund: null,
    createdAt: b.acceptedAt,
    updatedAt: b.acceptedAt,
    transitions: [{ status: 'PENDING', at: b.acceptedAt }],
  };
}

export const ListBookingsQuery = Type.Object(
  { status: Type.Optional(BookingStatus), ...PageQuery },
  { additionalProperties: false },
);
export type ListBookingsQuery = Static<typeof ListBookingsQuery>;

export const BookingList = Type.Object({ items: Type.Array(Booking), nextCursor: Nullable(Type.String()) });
export type BookingList = Static<typeof BookingList>;

/** Rejection codes a decided booking can carry. */
export const RejectionCodes = {
  SEATS_UNAVAILABLE: 'One or more of the requested seats is already held or sold',
  SOLD_OUT: 'Not enough seats left in the requested tier',
  SALES_CLOSED: 'Sales for this show are closed',
  TOO_MANY_SEATS: "The request asks for more seats than the show's maxSeatsPerBooking",
  DUPLICATE_REQUEST: 'Another booking already used this Idempotency-Key',
  INVALID_REQUEST: 'The request was accepted but holds something that cannot be applied; nothing was held',
} as const;
export type RejectionCode = keyof typeof RejectionCodes;
