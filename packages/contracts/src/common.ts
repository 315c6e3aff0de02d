import Type, { type Static, type TSchema } from 'typebox';

/** Every id a client sees is a random 128-bit UUID: unguessable, and the booking id is the holder's capability. */
export const Uuid = Type.String({ format: 'uuid', description: 'UUID (random, v4)' });
export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339 timestamp' });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * Free text. Postgres cannot store U+0000 in text, nor a lone UTF-16 surrogate (`"\ud800"` in
 * JSON: no UTF-8 encodes it), so both are refused here, at the edge, rather than failing a write
 * later (in the worker, long after the client was told 202). Patterns are matched as Unicode
 * (ajv and TypeBox both compile them with the `u` flag), so a surrogate pair — an emoji — is one
 * code point above U+FFFF and passes; only a surrogate standing alone falls in the range refused.
 */
export const Text = (opts: { minLength?: number; maxLength: number; description?: string }) =>
  Type.String({ pattern: '^[^\\u0000\\uD800-\\uDFFF]*$', ...opts });

export const TierCode = Type.String({ pattern: '^[A-Z0-9_]{1,16}$', description: 'Tier code, e.g. VIP, FRONT, GA' });
export const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 currency code' });

export const SeatStatus = Type.Union([Type.Literal('AVAILABLE'), Type.Literal('HELD'), Type.Literal('SOLD')]);
export type SeatStatus = Static<typeof SeatStatus>;

export const BOOKING_STATUSES = ['PENDING', 'HELD', 'CONFIRMED', 'REJECTED', 'EXPIRED', 'CANCELLED'] as const;
export const BookingStatus = Type.Union([
  Type.Literal('PENDING'),
  Type.Literal('HELD'),
  Type.Literal('CONFIRMED'),
  Type.Literal('REJECTED'),
  Type.Literal('EXPIRED'),
  Type.Literal('CANCELLED'),
]);
export type BookingStatus = (typeof BOOKING_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<BookingStatus> = new Set(['REJECTED', 'EXPIRED', 'CANCELLED']);

/** Page size for every list; numbers in queries arrive as text and are converted, anything else is a 400. */
export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,200}$', description: 'Opaque cursor from nextCursor' })),
};

export const IdempotencyKey = Type.String({ pattern: '^[\\x21-\\x7E]{1,255}$', description: 'Client-chosen key, printable ASCII' });
