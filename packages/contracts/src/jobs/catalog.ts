import { createHash } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { IdempotencyKey, Nullable, Text, Timestamp, Uuid } from '../common.js';
import { Booking, BookingRequest } from '../http/bookings.js';

/**
 * The job catalog shared by producer (API) and consumer (worker): each command's payload
 * schema, its job id (booking id + command, so a replayed add is deduplicated by BullMQ and a
 * replayed job is a no-op in the worker) and its options.
 */
export const HoldJob = Type.Object(
  {
    bookingId: Uuid,
    showId: Uuid,
    request: BookingRequest,
    customerRef: Nullable(Text({ maxLength: 200 })),
    idempotencyKey: Nullable(IdempotencyKey),
    acceptedAt: Timestamp,
  },
  { additionalProperties: false },
);
export type HoldJob = Static<typeof HoldJob>;

export const ConfirmJob = Type.Object(
  { bookingId: Uuid, showId: Uuid, paymentToken: Text({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
export type ConfirmJob = Static<typeof ConfirmJob>;

export const CancelJob = Type.Object(
  { bookingId: Uuid, showId: Uuid, reason: Nullable(Text({ maxLength: 500 })) },
  { additionalProperties: false },
);
export type CancelJob = Static<typeof CancelJob>;

export const ExpireJob = Type.Object({ bookingId: Uuid, showId: Uuid }, { additionalProperties: false });
export type ExpireJob = Static<typeof ExpireJob>;

export const JobSchemas = { hold: HoldJob, confirm: ConfirmJob, cancel: CancelJob, expire: ExpireJob } as const;
export type JobName = keyof typeof JobSchemas;
export type JobPayloads = { hold: HoldJob; confirm: ConfirmJob; cancel: CancelJob; expire: ExpireJob };

const digest = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);

/** BullMQ job ids: ':' is reserved by BullMQ, so the parts are joined with '.'. */
export const jobId = {
  hold: (p: Pick<HoldJob, 'bookingId'>) => `${p.bookingId}.hold`,
  // A confirm with another payment token is a new attempt (the first may have been declined).
  confirm: (p: Pick<ConfirmJob, 'bookingId' | 'paymentToken'>) => `${p.bookingId}.confirm.${digest(p.paymentToken)}`,
  cancel: (p: Pick<CancelJob, 'bookingId'>) => `${p.bookingId}.cancel`,
  expire: (p: Pick<ExpireJob, 'bookingId'>) => `${p.bookingId}.expire`,
} satisfies { [K in JobName]: (p: JobPayloads[K]) => string };

/**
 * Transient failures (a database restart, a deadlock) retry with backoff; a malformed job fails
 * once (the worker throws UnrecoverableError). Completed jobs are removed at once: their outcome
 * lives in Postgres and in the command-result key, and dedupe of a live job is by job id.
 */
export const defaultJobOptions = {
  attempts: 12,
  backoff: { type: 'exponential', delay: 100 },
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
} as const;

/**
 * Per-command options. Holds are prioritized jobs and every other command is not, and BullMQ
 * runs a queue's plain jobs before its prioritized ones: so a confirm, a cancel or a due expiry
 * never waits behind thousands of queued holds of an on-sale (they only touch their own booking
 * and seats already held, so they do not compete with holds for seats). Among holds — the
 * commands that do compete — order stays strict FIFO (equal priority is first in, first out).
 */
export const jobOptionsByName: { [K in JobName]: { priority?: number } } = {
  hold: { priority: 1 },
  confirm: {},
  cancel: {},
  expire: {},
};

/** Where a waiting job of each command sits in BullMQ: the prioritized set or the wait list. */
export const waitingStateByName = { hold: 'prioritized', confirm: 'wait', cancel: 'wait', expire: 'wait' } as const satisfies {
  [K in JobName]: 'prioritized' | 'wait';
};

/** One queue per show; BullMQ forbids ':' in queue names. */
export const showQueueName = (showId: string) => `show-${showId}`;
export const showIdFromQueueName = (name: string) => (name.startsWith('show-') ? name.slice(5) : null);

/** Outcome of a confirm or cancel, published by the worker and awaited by the API. */
export const CommandOutcome = Type.Union([
  Type.Literal('OK'),
  Type.Literal('PAYMENT_DECLINED'),
  Type.Literal('BOOKING_EXPIRED'),
  Type.Literal('BOOKING_NOT_HELD'),
  Type.Literal('BOOKING_FINAL'),
  Type.Literal('BOOKING_NOT_FOUND'),
]);
export type CommandOutcome = Static<typeof CommandOutcome>;

export const CommandResult = Type.Object({
  commandId: Type.String(),
  outcome: CommandOutcome,
  detail: Type.Optional(Type.String()),
  booking: Nullable(Booking),
});
export type CommandResult = Static<typeof CommandResult>;
