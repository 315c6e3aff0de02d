import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import {
  BookingList,
  CreateShowBody,
  ListBookingsQuery,
  ListSeatsQuery,
  ListShowsQuery,
  SHOW_LIMITS,
  SeatList,
  Show,
  ShowList,
  ShowParams,
  ShowSummary,
  UpdateShowBody,
  parseSeatStatus,
  type ProblemField,
  type Seat as SeatDoc,
} from '@booking/contracts';
import { createShow, inTransaction, listBookings, listShows, updateShow, type SeatPlace } from '@booking/db';
import { DomainError, invalid } from '../errors.js';
import { requireAdmin } from '../plugins/auth.js';
import { AdminHeaders, AdminSecurity, cursor, etagOf, isRank, isTimestamp, isUuid, preferWait, problems, versionFromEtag } from './http.js';

/** What the JSON schema cannot say about a seat map: references between its parts. */
function checkLayout(body: CreateShowBody): ProblemField[] {
  const errors: ProblemField[] = [];
  const tiers = new Set<string>();
  body.tiers.forEach((t, i) => {
    if (tiers.has(t.code)) errors.push({ path: `/body/tiers/${i}/code`, message: `duplicate tier code ${t.code}` });
    tiers.add(t.code);
    if (t.currency !== body.tiers[0]!.currency) errors.push({ path: `/body/tiers/${i}/currency`, message: 'all tiers of a show must share one currency' });
  });
  const sections = new Set<string>();
  let total = 0;
  (body.seating ?? []).forEach((b, i) => {
    if (!tiers.has(b.tier)) errors.push({ path: `/body/seating/${i}/tier`, message: `unknown tier ${b.tier}` });
    if (sections.has(b.section)) errors.push({ path: `/body/seating/${i}/section`, message: `duplicate section ${b.section}` });
    sections.add(b.section);
    total += b.rows * b.seatsPerRow;
  });
  (body.generalAdmission ?? []).forEach((b, i) => {
    if (!tiers.has(b.tier)) errors.push({ path: `/body/generalAdmission/${i}/tier`, message: `unknown tier ${b.tier}` });
    total += b.capacity;
  });
  if (total === 0) errors.push({ path: '/body', message: 'a show needs seating or generalAdmission with at least one seat' });
  if (total > SHOW_LIMITS.maxSeatsPerShow) errors.push({ path: '/body', message: `a show has at most ${SHOW_LIMITS.maxSeatsPerShow} seats (asked for ${total})` });
  return errors;
}

const notFound = (showId: string) => new DomainError('SHOW_NOT_FOUND', `No show ${showId}`);

const ConditionalHeaders = Type.Object({
  'if-none-match': Type.Optional(Type.String()),
  prefer: Type.Optional(Type.String({ description: 'wait=N (N ≤ 30), with If-None-Match: hold the request until the show changes' })),
});

/** 304 with the current ETag and no body (RFC 9110 §15.4.5). */
const notModified = (reply: unknown, version: number) => (reply as FastifyReply).code(304).header('etag', etagOf(version)).header('cache-control', 'no-cache').send();

/** First index of `places` (best first) whose rank is above `rank`. */
function after(places: readonly SeatPlace[], rank: number): number {
  let lo = 0;
  let hi = places.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (places[mid]!.rank <= rank) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export async function showRoutes(appBase: FastifyInstance, opts: { adminToken: string; defaultHoldTtlSeconds: number }) {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  const admin = requireAdmin(opts.adminToken);

  app.post('/v1/shows', {
    onRequest: admin,
    schema: {
      tags: ['shows', 'admin'],
      summary: 'Create a show with its tiers and seat map',
      security: AdminSecurity,
      headers: AdminHeaders,
      body: CreateShowBody,
      response: { 201: Show, ...problems('UNAUTHORIZED') },
    },
  }, async (request, reply) => {
    const errors = checkLayout(request.body);
    if (errors.length) throw invalid('The seat map is inconsistent', errors);
    const show = await createShow(app.sql, {
      ...request.body,
      id: randomUUID(),
      holdTtlSeconds: request.body.holdTtlSeconds ?? opts.defaultHoldTtlSeconds,
    });
    await app.availability.refresh(show.id);
    request.log.info({ showId: show.id, seats: show.totals.total }, 'show created');
    return reply.code(201).header('location', `/v1/shows/${show.id}`).send(show);
  });

  app.get('/v1/shows', {
    schema: { tags: ['shows'], summary: 'List shows, oldest first', querystring: ListShowsQuery, response: { 200: ShowList } },
  }, async (request) => {
    const limit = request.query.limit ?? 50;
    const after = cursor.decode<[string, string]>(request.query.cursor, [isTimestamp, isUuid]);
    const items = await listShows(app.sql, { limit, after: after && { createdAt: after[0], id: after[1] } });
    const last = items.length === limit ? items[items.length - 1] : undefined;
    return { items, nextCursor: last ? cursor.encode([last.createdAt, last.id]) : null };
  });

  app.get('/v1/shows/:showId', {
    schema: {
      tags: ['shows'],
      summary: 'A show with per-tier total/available/held/sold (served from Redis)',
      description:
        'Has an ETag (the availability version); `If-None-Match` with the current ETag gives 304. With `Prefer: wait=N` as well, the request is held until the show changes (then 200) or N seconds pass (then 304). `waiting` is not part of the version: it is read at each request.',
      params: ShowParams,
      headers: ConditionalHeaders,
      response: { 200: Show, 304: Type.Null({ description: 'Not modified' }), ...problems('SHOW_NOT_FOUND', 'SERVER_BUSY') },
    },
  }, async (request, reply) => {
    const { showId } = request.params;
    const known = versionFromEtag(request.headers['if-none-match']);
    const wait = known !== null ? preferWait(request.headers.prefer) : null;
    const stored = wait ? await app.watchers.during(() => app.availability.watch(showId, known!, wait * 1000)) : await app.availability.get(showId);
    if (!stored) throw notFound(showId);
    if (wait) reply.header('preference-applied', `wait=${wait}`);
    if (stored.version === known) return notModified(reply, known);
    const waiting = await app.commands.backlog(showId);
    // The stored text is a JSON object: `waiting` goes in before its closing brace, unparsed.
    return (reply as FastifyReply).header('etag', etagOf(stored.version)).header('cache-control', 'no-cache').type('application/json; charset=utf-8')
      .send(`${stored.raw.slice(0, stored.raw.lastIndexOf('}'))},"waiting":${waiting}}`);
  });

  app.get('/v1/shows/:showId/seats', {
    schema: {
      tags: ['shows'],
      summary: 'The seat map, page by page, best seats first (served from Redis)',
      description: "Has an ETag (the show's availability version); `If-None-Match` with the current ETag gives 304.",
      params: ShowParams,
      querystring: ListSeatsQuery,
      headers: ConditionalHeaders,
      response: { 200: SeatList, 304: Type.Null({ description: 'Not modified' }), ...problems('SHOW_NOT_FOUND') },
    },
  }, async (request, reply) => {
    const { showId } = request.params;
    const { tier, status } = request.query;
    const limit = request.query.limit ?? 50;
    const afterRank = cursor.decode<[string]>(request.query.cursor, [isRank])?.[0];
    const known = versionFromEtag(request.headers['if-none-match']);
    const current = await app.availability.get(showId);
    if (!current) throw notFound(showId);
    if (current.version === known) return notModified(reply, known);
    const places = await app.shows.places(showId, tier);
    // Statuses for a page's worth of seats per Redis call; with a status filter, wider reads
    // until the page is full or the map ends.
    const items: SeatDoc[] = [];
    let version: number | null = null;
    let last: SeatPlace | undefined;
    for (let at = afterRank ? after(places, Number(afterRank)) : 0; items.length < limit && at < places.length; ) {
      const chunk = places.slice(at, at + (status ? Math.max(limit, 1000) : limit - items.length));
      at += chunk.length;
      let read = await app.availability.store.seatStatuses(showId, chunk.map((p) => p.id));
      if (!read) {
        await app.availability.get(showId); // Redis lost the document since: rebuilt once
        read = await app.availability.store.seatStatuses(showId, chunk.map((p) => p.id));
        if (!read) throw new DomainError('SERVICE_UNAVAILABLE', 'The seat map is being rebuilt; try again', { headers: { 'retry-after': '1' } });
      }
      version ??= read.version;
      for (let i = 0; i < chunk.length && items.length < limit; i++) {
        const seat = parseSeatStatus(read.values[i] ?? null);
        if (status && seat.status !== status) continue;
        const { rank: _rank, ...place } = chunk[i]!;
        items.push({ ...place, ...seat });
        last = chunk[i];
      }
    }
    reply.header('etag', etagOf(version ?? current.version)).header('cache-control', 'no-cache');
    return { items, nextCursor: items.length === limit && last ? cursor.encode([String(last.rank)]) : null };
  });

  app.patch('/v1/shows/:showId', {
    onRequest: admin,
    schema: {
      tags: ['shows', 'admin'],
      summary: 'Edit show details; open or close sales',
      security: AdminSecurity,
      headers: AdminHeaders,
      params: ShowParams,
      body: UpdateShowBody,
      response: { 200: ShowSummary, ...problems('UNAUTHORIZED', 'SHOW_NOT_FOUND') },
    },
  }, async (request) => {
    const show = await updateShow(app.sql, request.params.showId, request.body);
    if (!show) throw notFound(request.params.showId);
    // Its details are part of the availability document (and its version grew).
    await app.availability.refresh(show.id);
    request.log.info({ showId: show.id, patch: request.body }, 'show updated');
    return show;
  });

  app.get('/v1/shows/:showId/bookings', {
    onRequest: admin,
    schema: {
      tags: ['bookings', 'admin'],
      summary: "The show's bookings in acceptance order, optionally of one status",
      description: 'Lists decided bookings (from Postgres); bookings still PENDING in the queue are not listed.',
      security: AdminSecurity,
      headers: AdminHeaders,
      params: ShowParams,
      querystring: ListBookingsQuery,
      response: { 200: BookingList, ...problems('UNAUTHORIZED', 'SHOW_NOT_FOUND') },
    },
  }, async (request) => {
    const { showId } = request.params;
    if (!(await app.shows.get(showId))) throw notFound(showId);
    const limit = request.query.limit ?? 50;
    const after = cursor.decode<[string, string]>(request.query.cursor, [isTimestamp, isUuid]);
    // A transaction: the page's ids and their documents come from one snapshot, with index plans.
    const page = { status: request.query.status, limit, after: after && { acceptedAt: after[0], id: after[1] } };
    const items = await inTransaction(app.sql, (tx) => listBookings(tx, showId, page));
    const last = items.length === limit ? items[items.length - 1] : undefined;
    return { items, nextCursor: last ? cursor.encode([last.createdAt, last.id]) : null };
  });
}

