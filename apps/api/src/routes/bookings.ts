import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  Booking,
  BookingParams,
  CancelBody,
  ConfirmBody,
  CreateBookingBody,
  CreateBookingHeaders,
  ShowParams,
  jobId,
  pendingBooking,
  type BookingRequest,
  type CommandResult,
  type JobName,
  type JobPayloads,
  type ProblemField,
} from '@booking/contracts';
import Type from 'typebox';
import { DomainError, invalid } from '../errors.js';
import type { ShowFacts } from '../plugins/show-cache.js';
import type { StoredBooking } from '../plugins/status.js';
import { etagOf, preferWait, problems, versionFromEtag } from './http.js';

/** What the schema cannot check: exactly one form, tiers and seats of this show, the size limit. */
function checkRequest(body: CreateBookingBody, show: ShowFacts, seats: Map<string, string> | null, showId: string): ProblemField[] {
  const errors: ProblemField[] = [];
  if (!!body.seatIds === !!body.items) {
    return [{ path: '/body', message: 'give exactly one of seatIds or items' }];
  }
  let quantity = 0;
  if (body.seatIds) {
    body.seatIds.forEach((id, i) => {
      if (!seats?.has(id)) errors.push({ path: `/body/seatIds/${i}`, message: `not a seat of show ${showId}` });
    });
    quantity = body.seatIds.length;
  } else {
    const seen = new Set<string>();
    body.items!.forEach((item, i) => {
      if (!show.tiers.has(item.tier)) errors.push({ path: `/body/items/${i}/tier`, message: `unknown tier ${item.tier}` });
      if (seen.has(item.tier)) errors.push({ path: `/body/items/${i}/tier`, message: `tier ${item.tier} given twice` });
      seen.add(item.tier);
      quantity += item.quantity;
    });
  }
  if (quantity > show.maxSeatsPerBooking) {
    errors.push({ path: body.seatIds ? '/body/seatIds' : '/body/items', message: `asks for ${quantity} seats; this show allows at most ${show.maxSeatsPerBooking} per booking` });
  }
  return errors;
}

/** JSON with sorted keys, so the same body in another key order is the same request. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const requestDigest = (showId: string, body: CreateBookingBody) => createHash('sha256').update(canonical({ showId, body })).digest('hex').slice(0, 32);

const etag = (doc: Booking) => etagOf(doc.version);

function sendBooking(reply: FastifyReply, stored: StoredBooking, code = 200) {
  return reply.code(code).header('etag', etag(stored.doc)).header('cache-control', 'no-cache').type('application/json; charset=utf-8').send(stored.raw);
}

const notFound = (bookingId: string) => new DomainError('BOOKING_NOT_FOUND', `No booking ${bookingId}`);

const OUTCOME_ERRORS = {
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  BOOKING_EXPIRED: 'BOOKING_EXPIRED',
  BOOKING_NOT_HELD: 'BOOKING_NOT_HELD',
  BOOKING_FINAL: 'BOOKING_FINAL',
  BOOKING_NOT_FOUND: 'BOOKING_NOT_FOUND',
} as const;

export async function bookingRoutes(appBase: FastifyInstance, opts: { commandTimeoutMs: number }) {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();

  /** Enqueues a confirm/cancel and waits (bounded) for the worker's decision. */
  async function runCommand<N extends 'confirm' | 'cancel'>(name: N, payload: JobPayloads[N]): Promise<Booking> {
    const commandId = (jobId[name] as (p: JobPayloads[N]) => string)(payload);
    const result: CommandResult | null = await app.status.waitForResult(commandId, opts.commandTimeoutMs, () =>
      app.commands.enqueue(name as JobName, payload as JobPayloads[JobName] & { showId: string }),
    );
    if (!result) {
      throw new DomainError('DECISION_TIMEOUT', `The ${name} was accepted but not decided in time; repeat the request to get its outcome`, {
        headers: { 'retry-after': '1' },
      });
    }
    if (result.outcome !== 'OK') throw new DomainError(OUTCOME_ERRORS[result.outcome], result.detail ?? `The booking cannot be ${name}ed (${result.outcome})`);
    return result.booking!;
  }

  app.post('/v1/shows/:showId/bookings', {
    schema: {
      tags: ['bookings'],
      summary: 'Ask for seats: exact seatIds, or items per tier (best available); all or nothing',
      description:
        'Answers 202 with the PENDING booking and its Location at once. With `Prefer: wait=N` (N ≤ 30) waits up to N seconds for the decision and answers 201 with the HELD or REJECTED booking (still 202 if the wait ran out). The same Idempotency-Key with the same body returns the same booking; with another body, 422.',
      params: ShowParams,
      headers: CreateBookingHeaders,
      body: CreateBookingBody,
      response: { 201: Booking, 202: Booking, ...problems('SHOW_NOT_FOUND', 'IDEMPOTENCY_KEY_REUSED', 'SHOW_BUSY') },
    },
  }, async (request, reply) => {
    const { showId } = request.params;
    const body = request.body;
    const show = await app.shows.get(showId);
    if (!show) throw new DomainError('SHOW_NOT_FOUND', `No show ${showId}`);
    const errors = checkRequest(body, show, body.seatIds ? await app.shows.seats(showId) : null, showId);
    if (errors.length) throw invalid('The booking request does not fit this show', errors);

    const key = request.headers['idempotency-key'] ?? null;
    const wait = preferWait(request.headers.prefer);
    const acceptedAt = new Date().toISOString();
    const bookingRequest: BookingRequest = body.seatIds ? { seatIds: body.seatIds } : { items: body.items! };
    const pending = pendingBooking({ id: randomUUID(), showId, request: bookingRequest, customerRef: body.customerRef ?? null, acceptedAt });

    const digest = key ? requestDigest(showId, body) : '';
    const accepted = await app.status.accept(pending, key ? { key, value: `${pending.id} ${digest}` } : null);
    let bookingId = pending.id;
    let waiting: Promise<StoredBooking | null> | null = null;
    let current: StoredBooking | null = null;
    if (!accepted.accepted) {
      const [existingId, existingDigest] = accepted.existing.split(' ');
      if (existingDigest !== digest) {
        throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used with a different request');
      }
      bookingId = existingId!;
      if (wait) waiting = app.status.waitForChange(bookingId, 1, wait * 1000);
      // A retry of a booking still PENDING makes sure its hold is queued: the first request may
      // have died (or Redis blipped) between writing the document and adding the job. The job id
      // is the booking's, so a job still queued is not added twice.
      try {
        current = await app.status.get(bookingId);
        if (current?.doc.status === 'PENDING') {
          await app.commands.enqueue('hold', {
            bookingId,
            showId,
            request: current.doc.request,
            customerRef: current.doc.customerRef,
            idempotencyKey: key,
            acceptedAt: current.doc.createdAt,
          });
        }
      } catch (err) {
        waiting?.catch(() => null);
        throw err;
      }
    } else {
      // Registered before the enqueue, so the worker's publish cannot come first and be missed.
      if (wait) waiting = app.status.waitForChange(bookingId, 1, wait * 1000);
      try {
        // Back-pressure applies to new bookings only: a retry of an accepted one still gets it.
        await app.commands.assertCapacity(showId);
        await app.commands.enqueue('hold', {
          bookingId,
          showId,
          request: bookingRequest,
          customerRef: pending.customerRef,
          idempotencyKey: key,
          acceptedAt,
        });
      } catch (err) {
        waiting?.catch(() => null);
        await app.status.forget(bookingId, key);
        throw err;
      }
      app.metrics.bookingAccepted();
    }

    const decided = waiting ? await waiting : null;
    const stored = decided ?? (bookingId === pending.id ? { raw: JSON.stringify(pending), doc: pending } : current);
    if (!stored) throw new DomainError('SERVICE_UNAVAILABLE', 'The booking for this Idempotency-Key is not readable right now', { headers: { 'retry-after': '1' } });
    if (wait) reply.header('preference-applied', `wait=${wait}`);
    reply.header('location', `/v1/bookings/${bookingId}`);
    return sendBooking(reply, stored, stored.doc.status === 'PENDING' ? 202 : 201);
  });

  app.get('/v1/bookings/:bookingId', {
    schema: {
      tags: ['bookings'],
      summary: 'The booking (served from Redis while live)',
      description:
        'Has an ETag; `If-None-Match` with the current ETag gives 304. With `Prefer: wait=N` as well, the request is held until the booking changes (then 200) or N seconds pass (then 304).',
      params: BookingParams,
      headers: Type.Object({
        'if-none-match': Type.Optional(Type.String()),
        prefer: Type.Optional(Type.String({ description: 'wait=N (N ≤ 30)' })),
      }),
      response: { 200: Booking, 304: Type.Null({ description: 'Not modified' }), ...problems('BOOKING_NOT_FOUND', 'SERVER_BUSY') },
    },
  }, async (request, reply) => {
    const { bookingId } = request.params;
    const known = versionFromEtag(request.headers['if-none-match']);
    const wait = preferWait(request.headers.prefer);
    // A long-poll registers for changes before its one read (see watch); a plain GET just reads.
    let stored = known !== null && wait ? await app.watchers.during(() => app.status.watch(bookingId, known, wait * 1000)) : await app.status.get(bookingId);
    if (!stored) throw notFound(bookingId);
    if (known !== null && wait) reply.header('preference-applied', `wait=${wait}`);
    if (stored.doc.status === 'PENDING' && (known === null || stored.doc.version !== known)) {
      // Where the request stands in its show's queue: one Redis call, only while it waits.
      const queuePosition = await app.commands.position(stored.doc.showId, bookingId);
      stored = { doc: { ...stored.doc, queuePosition }, raw: JSON.stringify({ ...stored.doc, queuePosition }) };
    }
    if (known !== null && stored.doc.version === known) {
      // A 304 has no body (RFC 9110 §15.4.5); the raw reply skips the JSON serializer's "null".
      return (reply as FastifyReply).code(304).header('etag', etag(stored.doc)).header('cache-control', 'no-cache').send();
    }
    return sendBooking(reply, stored);
  });

  app.post('/v1/bookings/:bookingId/confirm', {
    schema: {
      tags: ['bookings'],
      summary: 'Pay and turn a HELD booking into CONFIRMED',
      description:
        'Idempotent: a confirmed booking is returned as is and charged once. After expiresAt (database time) the answer is 409 BOOKING_EXPIRED and nothing is charged. A declined payment is 402 and the hold stays until it expires.',
      params: BookingParams,
      body: ConfirmBody,
      response: { 200: Booking, ...problems('BOOKING_NOT_FOUND', 'PAYMENT_DECLINED', 'BOOKING_EXPIRED', 'BOOKING_PENDING', 'DECISION_TIMEOUT') },
    },
  }, async (request) => {
    const { bookingId } = request.params;
    const current = await app.status.get(bookingId);
    if (!current) throw notFound(bookingId);
    const { doc } = current;
    if (doc.status === 'CONFIRMED') return doc;
    if (doc.status === 'PENDING') throw new DomainError('BOOKING_PENDING', 'The booking is not decided yet; wait for HELD', { headers: { 'retry-after': '1' } });
    if (doc.status === 'EXPIRED') throw new DomainError('BOOKING_EXPIRED', 'The hold expired before it was confirmed');
    if (doc.status !== 'HELD') throw new DomainError('BOOKING_FINAL', `The booking is ${doc.status}`);
    return runCommand('confirm', { bookingId, showId: doc.showId, paymentToken: request.body.paymentToken });
  });

  app.post('/v1/bookings/:bookingId/cancel', {
    // The body is optional: a bare POST is the natural way to say "cancel".
    preValidation: async (request) => {
      if (request.body === undefined) request.body = {};
    },
    schema: {
      tags: ['bookings'],
      summary: 'Release a HELD booking, or cancel (and refund) a CONFIRMED one',
      description: 'Idempotent: cancelling a cancelled booking returns it; the refund happens once.',
      params: BookingParams,
      body: CancelBody,
      response: { 200: Booking, ...problems('BOOKING_NOT_FOUND', 'BOOKING_EXPIRED', 'BOOKING_PENDING', 'DECISION_TIMEOUT') },
    },
  }, async (request) => {
    const { bookingId } = request.params;
    const current = await app.status.get(bookingId);
    if (!current) throw notFound(bookingId);
    const { doc } = current;
    if (doc.status === 'CANCELLED') return doc;
    if (doc.status === 'PENDING') throw new DomainError('BOOKING_PENDING', 'The booking is not decided yet', { headers: { 'retry-after': '1' } });
    if (doc.status === 'EXPIRED') throw new DomainError('BOOKING_EXPIRED', 'The hold already expired; nothing to cancel');
    if (doc.status === 'REJECTED') throw new DomainError('BOOKING_FINAL', 'The booking was rejected; nothing to cancel');
    return runCommand('cancel', { bookingId, showId: doc.showId, reason: request.body.reason ?? null });
  });
}
