import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
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
  type ProblemField,
} from '@booking/contracts';
import { createShow, getShow, inTransaction, listBookings, listSeats, listShows, updateShow } from '@booking/db';
import { DomainError, invalid } from '../errors.js';
import { requireAdmin } from '../plugins/auth.js';
import { AdminHeaders, AdminSecurity, cursor, isRank, isTimestamp, isUuid, problems } from './http.js';

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
      summary: 'A show with per-tier total/available/held/sold',
      params: ShowParams,
      response: { 200: Show, ...problems('SHOW_NOT_FOUND') },
    },
  }, async (request) => {
    const [show, waiting] = await Promise.all([getShow(app.sql, request.params.showId), app.commands.backlog(request.params.showId)]);
    if (!show) throw notFound(request.params.showId);
    return { ...show, waiting };
  });

  app.get('/v1/shows/:showId/seats', {
    schema: {
      tags: ['shows'],
      summary: 'The seat map, page by page, best seats first',
      params: ShowParams,
      querystring: ListSeatsQuery,
      response: { 200: SeatList, ...problems('SHOW_NOT_FOUND') },
    },
  }, async (request) => {
    const { showId } = request.params;
    const limit = request.query.limit ?? 50;
    const after = cursor.decode<[string]>(request.query.cursor, [isRank]);
    const rows = await listSeats(app.sql, showId, { tier: request.query.tier, status: request.query.status, limit, afterRank: after?.[0] });
    if (rows.length === 0 && !(await app.shows.get(showId))) throw notFound(showId);
    const last = rows.length === limit ? rows[rows.length - 1] : undefined;
    return { items: rows.map(({ rank: _rank, ...seat }) => seat), nextCursor: last ? cursor.encode([last.rank]) : null };
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

