import Type, { type Static } from 'typebox';
import { Currency, Nullable, PageQuery, SeatStatus, Text, TierCode, Timestamp, Uuid } from '../common.js';

/** Limits that keep one request's work bounded: a show's seat map is inserted in one statement. */
export const SHOW_LIMITS = { maxSeatsPerShow: 100_000, maxTiers: 20, maxRows: 500, maxSeatsPerRow: 500 } as const;

export const TierInput = Type.Object(
  {
    code: TierCode,
    name: Text({ minLength: 1, maxLength: 100 }),
    priceCents: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
    currency: Currency,
  },
  { additionalProperties: false },
);

export const SeatingBlock = Type.Object(
  {
    section: Type.String({ pattern: '^[A-Za-z0-9]{1,8}$', description: 'Section name, used in seat labels (A-3-12)' }),
    tier: TierCode,
    rows: Type.Integer({ minimum: 1, maximum: SHOW_LIMITS.maxRows }),
    seatsPerRow: Type.Integer({ minimum: 1, maximum: SHOW_LIMITS.maxSeatsPerRow }),
  },
  { additionalProperties: false },
);

export const GeneralAdmissionBlock = Type.Object(
  { tier: TierCode, capacity: Type.Integer({ minimum: 1, maximum: SHOW_LIMITS.maxSeatsPerShow }) },
  { additionalProperties: false },
);

const ShowDetails = {
  name: Text({ minLength: 1, maxLength: 200 }),
  venue: Text({ minLength: 1, maxLength: 200 }),
  startsAt: Timestamp,
  salesOpen: Type.Boolean({ description: 'When false, new bookings are REJECTED with SALES_CLOSED' }),
  holdTtlSeconds: Type.Integer({ minimum: 1, maximum: 86_400, description: 'How long a hold lasts before it expires' }),
  maxSeatsPerBooking: Type.Integer({ minimum: 1, maximum: 100 }),
};

export const CreateShowBody = Type.Object(
  {
    name: ShowDetails.name,
    venue: ShowDetails.venue,
    startsAt: ShowDetails.startsAt,
    salesOpen: Type.Optional(Type.Boolean({ default: true, description: 'Default true' })),
    holdTtlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400, description: 'Default HOLD_TTL_SECONDS' })),
    maxSeatsPerBooking: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
    tiers: Type.Array(TierInput, { minItems: 1, maxItems: SHOW_LIMITS.maxTiers }),
    seating: Type.Optional(Type.Array(SeatingBlock, { maxItems: 200 })),
    generalAdmission: Type.Optional(Type.Array(GeneralAdmissionBlock, { maxItems: SHOW_LIMITS.maxTiers })),
  },
  { additionalProperties: false },
);
export type CreateShowBody = Static<typeof CreateShowBody>;

export const UpdateShowBody = Type.Object(
  {
    name: Type.Optional(ShowDetails.name),
    venue: Type.Optional(ShowDetails.venue),
    startsAt: Type.Optional(ShowDetails.startsAt),
    salesOpen: Type.Optional(ShowDetails.salesOpen),
    holdTtlSeconds: Type.Optional(ShowDetails.holdTtlSeconds),
    maxSeatsPerBooking: Type.Optional(ShowDetails.maxSeatsPerBooking),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateShowBody = Static<typeof UpdateShowBody>;

export const SeatCounts = Type.Object({
  total: Type.Integer(),
  available: Type.Integer(),
  held: Type.Integer(),
  sold: Type.Integer(),
});
export type SeatCounts = Static<typeof SeatCounts>;

export const Tier = Type.Object({
  code: TierCode,
  name: Type.String(),
  priceCents: Type.Integer(),
  currency: Currency,
});
export type Tier = Static<typeof Tier>;

export const ShowSummary = Type.Object({
  id: Uuid,
  name: Type.String(),
  venue: Type.String(),
  startsAt: Timestamp,
  salesOpen: Type.Boolean(),
  holdTtlSeconds: Type.Integer(),
  maxSeatsPerBooking: Type.Integer(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type ShowSummary = Static<typeof ShowSummary>;

export const Show = Type.Object({
  ...ShowSummary.properties,
  version: Type.Integer({
    minimum: 1,
    description: "Grows with every change of the show's seats or details; the ETag of GET /v1/shows/:showId and the id of its availability events",
  }),
  tiers: Type.Array(Type.Object({ ...Tier.properties, ...SeatCounts.properties })),
  totals: SeatCounts,
  waiting: Type.Optional(Type.Integer({ description: 'Booking requests accepted for this show and not decided yet (approximate, a fraction of a second old)' })),
});
export type Show = Static<typeof Show>;

export const ShowList = Type.Object({ items: Type.Array(ShowSummary), nextCursor: Nullable(Type.String()) });
export type ShowList = Static<typeof ShowList>;

export const ShowParams = Type.Object({ showId: Uuid }, { additionalProperties: false });
export type ShowParams = Static<typeof ShowParams>;

export const ListShowsQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
export type ListShowsQuery = Static<typeof ListShowsQuery>;

export const ListSeatsQuery = Type.Object(
  { tier: Type.Optional(TierCode), status: Type.Optional(SeatStatus), ...PageQuery },
  { additionalProperties: false },
);
export type ListSeatsQuery = Static<typeof ListSeatsQuery>;

export const Seat = Type.Object({
  id: Uuid,
  tier: TierCode,
  section: Nullable(Type.String()),
  row: Nullable(Type.Integer()),
  number: Nullable(Type.Integer()),
  label: Nullable(Type.String({ description: 'Section-row-number, e.g. A-3-12; null for general admission' })),
  status: SeatStatus,
  expiresAt: Nullable(Type.String({ format: 'date-time', description: "When HELD: the hold's expiry" })),
});
export type Seat = Static<typeof Seat>;

export const SeatList = Type.Object({ items: Type.Array(Seat), nextCursor: Nullable(Type.String()) });
export type SeatList = Static<typeof SeatList>;
