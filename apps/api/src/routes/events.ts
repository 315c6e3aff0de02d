import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { BookingParams, ShowParams, TERMINAL_STATUSES, type SeatChange, type ShowUpdate } from '@booking/contracts';
import { DomainError } from '../errors.js';
import type { StoredAvailability } from '../plugins/availability.js';
import type { StoredBooking } from '../plugins/status.js';
import { problems } from './http.js';

/** Availability events of one stream: at most one per this many ms (the latest version then). */
export const COALESCE_MS = 250;
/** Seat changes are gathered this long, then sent to every stream of the show as one event. */
export const SEATS_MS = 20;
/** A stream whose client reads slower than this much unsent output is closed (it reconnects and resumes). */
const MAX_BUFFERED_BYTES = 1 << 20;

type Sse = FastifyReply['sse'];

/** Writes one event (nothing once the stream has ended). */
function emit(sse: Sse, event: string, id: number, data: string) {
  if (sse.isConnected) sse.send({ id: String(id), event, data }).catch(() => sse.close());
}

/**
 * Before a client's next batch of events: a client that has fallen too far behind is
 * disconnected (it reconnects and resumes) rather than buffered without end. Checked per batch,
 * never between the events of one, so a batch (a `reload` and its availability) goes out whole.
 */
function caughtUp(reply: FastifyReply): boolean {
  if (!reply.sse.isConnected) return false;
  if (reply.raw.writableLength <= MAX_BUFFERED_BYTES) return true;
  reply.log.info({ buffered: reply.raw.writableLength }, 'event stream closed: the client reads too slowly');
  reply.sse.close();
  return false;
}

const lastEventId = (request: FastifyRequest) => {
  const header = request.headers['last-event-id'];
  return typeof header === 'string' && /^\d{1,15}$/.test(header) ? Number(header) : null;
};

/** One client of a show's stream. */
interface ShowClient {
  reply: FastifyReply;
  /** The last version whose availability this client was sent. */
  sent: number;
  /** The last version whose seat changes this client was sent (every version is counted). */
  seen: number;
  /** Updates that arrived before the first events went out. */
  early: { update: ShowUpdate; raw: string }[] | null;
}

/**
 * Everyone following one show on this API process: one subscription to the show's updates, and
 * one timer. Every SEATS_MS the seat changes that arrived meanwhile go to every client as one
 * `seats` event, formatted once for all of them (a hot show commits tens of versions a second,
 * and one event per version per client was a socket write each: 100,000 a second at 1,000
 * streams); the latest availability goes out at most every COALESCE_MS.
 */
class ShowHub {
  readonly clients = new Set<ShowClient>();
  latest: StoredAvailability | null = null;
  /** Versions published since the last tick, in order (every one, so a client's `seen` stays contiguous). */
  private queue: ShowUpdate[] = [];
  private timer: NodeJS.Timeout | null = null;
  private availabilityAt = 0;
  /** The latest version whose availability went to every client. */
  private broadcast = 0;
  readonly stop: () => void;

  constructor(stop: () => void) {
    this.stop = stop;
  }

  onUpdate(update: ShowUpdate, raw: string) {
    const doc = { version: update.version, raw: availabilityText(raw) };
    if (!this.latest || doc.version > this.latest.version) this.latest = doc;
    for (const c of this.clients) if (c.early) c.early.push({ update, raw });
    if (update.reload) {
      // Rare (a rebuild): every client reloads; what was queued is older and superseded.
      this.queue = [];
      this.broadcast = Math.max(this.broadcast, doc.version);
      for (const c of this.clients) if (!c.early && update.version > c.seen && caughtUp(c.reply)) sendReload(c, doc, 'rebuilt');
      return;
    }
    this.queue.push(update);
    this.schedule();
  }

  private schedule() {
    if (!this.timer) this.timer = setTimeout(() => this.tick(), SEATS_MS);
  }

  private tick() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const queue = this.queue;
    this.queue = [];
    const changes = queue.flatMap((u) => u.seats ?? []);
    // One event for the whole tick, formatted once; `at` is the oldest change's publish time, so a
    // client measuring lag sees the longest wait.
    const merged = changes.length > 0 ? JSON.stringify({ version: queue.at(-1)!.version, changes, ...(queue[0]!.at ? { at: queue[0]!.at } : {}) }) : null;
    const doc = this.latest;
    const availabilityDue = !!doc && doc.version > this.broadcast && Date.now() - this.availabilityAt >= COALESCE_MS;
    if (availabilityDue) {
      this.availabilityAt = Date.now();
      this.broadcast = doc.version;
    } else if (doc && doc.version > this.broadcast) {
      this.schedule(); // the availability is due at a later tick
    }
    if (queue.length === 0 && !availabilityDue) return;
    const first = queue[0]?.version ?? 0;
    const last = queue.at(-1)?.version ?? 0;
    // One merged event only for versions without a hole (a message lost on a resubscribe): else
    // each update on its own, which turns the hole into a reload.
    const contiguous = queue.every((u, i) => i === 0 || u.version === queue[i - 1]!.version + 1);
    for (const c of this.clients) {
      if (c.early || !caughtUp(c.reply)) continue;
      // A client's events of one tick leave in one socket write: the write, not the bytes, is the cost.
      c.reply.raw.cork();
      if (queue.length > 0 && last > c.seen) {
        if (contiguous && c.seen === first - 1) sendSeats(c, last, merged);
        else for (const u of queue) deliver(c, u, doc!, seatsText(u)); // joined or resumed mid-queue, or a hole
      }
      if (availabilityDue && c.sent < doc!.version) sendAvailability(c, doc!);
      c.reply.raw.uncork();
    }
  }

  close() {
    if (this.timer) clearTimeout(this.timer);
    this.stop();
  }
}

/** The `availability` member of a published update, cut out of its text (the worker writes it between these keys). */
function availabilityText(raw: string): string {
  const start = raw.indexOf(',"availability":') + ',"availability":'.length;
  const end = raw.lastIndexOf(',"seats":') > 0 ? raw.lastIndexOf(',"seats":') : raw.lastIndexOf(',"reload":');
  return raw.slice(start, end);
}

function sendAvailability(c: ShowClient, doc: StoredAvailability) {
  c.sent = doc.version;
  emit(c.reply.sse, 'availability', doc.version, doc.raw);
}

/**
 * The client can no longer be given every seat change in order: word to reload the seat map,
 * then the latest availability. In that order: a stream cut between the two resumes from the
 * reload's id, having been told.
 */
function sendReload(c: ShowClient, doc: StoredAvailability, reason: string) {
  c.seen = doc.version;
  emit(c.reply.sse, 'reload', doc.version, JSON.stringify({ version: doc.version, reason }));
  sendAvailability(c, doc);
}

/** The data of a `seats` event; null when the version changed no assigned seat. */
function seatsText(update: { version: number; seats?: readonly SeatChange[]; at?: number }): string | null {
  if (!update.seats?.length) return null;
  return JSON.stringify({ version: update.version, changes: update.seats, ...(update.at ? { at: update.at } : {}) });
}

function sendSeats(c: ShowClient, version: number, text: string | null) {
  c.seen = version;
  if (text !== null) emit(c.reply.sse, 'seats', version, text);
}

/** One update, in version order: seat changes at once (or a reload where versions were missed); availability waits for the hub's flush. */
function deliver(c: ShowClient, update: ShowUpdate, doc: StoredAvailability, seats: string | null) {
  if (update.version <= c.seen) return;
  if (update.reload) return sendReload(c, doc, 'rebuilt');
  if (update.version !== c.seen + 1) return sendReload(c, doc, 'missed');
  sendSeats(c, update.version, seats);
}

const SseResponse = (description: string) => ({
  description,
  content: { 'text/event-stream': { schema: Type.String({ description: 'Server-sent events (text/event-stream)' }) } },
});

export async function eventRoutes(appBase: FastifyInstance) {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  const hubs = new Map<string, ShowHub>();
  // Every open stream's close, so a shutdown ends them instead of waiting for their clients.
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const close of [...open]) close();
  });

  /**
   * Runs `cleanup` once when the stream ends, whenever that is: registered before the handler's
   * first await, so a client gone before the stream opened (or a 404) releases what it took too.
   */
  function onEnd(reply: FastifyReply, cleanup: () => void) {
    const close = () => reply.sse.close();
    let done = false;
    open.add(close);
    reply.sse.onClose(() => {
      if (done) return;
      done = true;
      open.delete(close);
      cleanup();
    });
  }

  /** Opens the stream for the rest of the connection; false when the client is already gone. */
  function keepOpen(request: FastifyRequest, reply: FastifyReply): boolean {
    if (!reply.sse.isConnected || request.raw.destroyed) {
      reply.sse.close();
      return false;
    }
    reply.sse.keepAlive();
    reply.header('x-request-id', request.id);
    reply.sse.sendHeaders();
    return true;
  }

  app.get('/v1/shows/:showId/events', {
    sse: { kind: 'manual' },
    schema: {
      tags: ['shows'],
      summary: "Follow a show's availability and seat map (server-sent events)",
      description: [
        'A `text/event-stream` of:',
        '- `availability` — data: the show with per-tier counts (as GET /v1/shows/:showId, without `waiting`); `id:` its version. First at once, then whenever it changes, at most four a second (the latest version).',
        '- `seats` — data: `{version, changes: [{id, status, expiresAt}], at}`: assigned seats whose status changed, in order, up to `version` (`id:` the same); the changes of a few versions may come as one event (they are gathered for 20 ms). `at`: when the worker published the oldest of them (ms since the epoch; absent on a resume).',
        '- `reload` — data: `{version, reason}`: the seat changes since the client\'s Last-Event-ID are no longer kept (or some were missed, or the document was rebuilt); reload the seat map (GET /v1/shows/:showId/seats). The current `availability` follows it.',
        'Reconnecting with `Last-Event-ID` (as EventSource does) resumes: the current availability, then every `seats` event after that version. A comment line (`: heartbeat`) comes at least every 15 s.',
      ].join('\n'),
      params: ShowParams,
      headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ description: 'The last id received, to resume' })) }),
      response: { 200: SseResponse('The event stream'), ...problems('SHOW_NOT_FOUND', 'SERVER_BUSY') },
    },
  }, async (request, reply) => {
    const { showId } = request.params;
    const release = app.watchers.take('stream');
    const client: ShowClient = { reply, sent: 0, seen: 0, early: [] };
    let hub = hubs.get(showId);
    if (!hub) {
      const stop = app.availability.follow(showId, (update, raw) => hubs.get(showId)?.onUpdate(update, raw));
      hubs.set(showId, (hub = new ShowHub(stop)));
    }
    const theHub = hub;
    theHub.clients.add(client);
    onEnd(reply, () => {
      release();
      theHub.clients.delete(client);
      if (theHub.clients.size === 0 && hubs.get(showId) === theHub) {
        hubs.delete(showId);
        theHub.close();
      }
    });
    // Registered before this read: nothing published in between is missed. A failure (or a 404)
    // closes the stream context, which runs the cleanup above.
    const current = await app.availability.get(showId);
    if (!current) throw new DomainError('SHOW_NOT_FOUND', `No show ${showId}`);
    if (!keepOpen(request, reply)) return;
    const resumeFrom = lastEventId(request);
    if (resumeFrom === null || resumeFrom > current.version) {
      if (resumeFrom !== null) sendReload(client, current, 'unknown version');
      else {
        sendAvailability(client, current);
        client.seen = current.version;
      }
    } else {
      const missed = await app.availability.store.seatChangesSince(showId, resumeFrom, current.version).catch(() => null);
      if (!reply.sse.isConnected) return;
      if (missed === null) sendReload(client, current, 'too old');
      else {
        sendAvailability(client, current);
        client.seen = resumeFrom;
        for (const m of missed) sendSeats(client, m.version, seatsText(m));
      }
    }
    const early = client.early ?? [];
    client.early = null;
    for (const { update, raw } of early) deliver(client, update, { version: update.version, raw: availabilityText(raw) }, seatsText(update));
    if (theHub.latest && theHub.latest.version > client.sent) sendAvailability(client, theHub.latest);
  });

  app.get('/v1/bookings/:bookingId/events', {
    sse: { kind: 'manual' },
    schema: {
      tags: ['bookings'],
      summary: "Follow a booking's status (server-sent events)",
      description:
        'A `text/event-stream` of `booking` events — data: the booking document (as GET /v1/bookings/:bookingId); `id:` its version — first at once, then on every change. The stream ends after a final status (REJECTED, EXPIRED, CANCELLED). With `Last-Event-ID` a version the client has already is not sent again; a reconnect after the final status gets 204 (an EventSource then stops). A comment line (`: heartbeat`) comes at least every 15 s.',
      params: BookingParams,
      headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ description: 'The last id received, to resume' })) }),
      response: { 200: SseResponse('The event stream'), 204: Type.Null({ description: 'The booking is final and the client has its last version' }), ...problems('BOOKING_NOT_FOUND', 'SERVER_BUSY') },
    },
  }, async (request, reply) => {
    const { bookingId } = request.params;
    const release = app.watchers.take('stream');
    let last = lastEventId(request) ?? 0;
    const early: StoredBooking[] | null = [];
    let live = false;
    const deliver = (m: StoredBooking) => {
      if (m.doc.version <= last || !caughtUp(reply)) return;
      last = m.doc.version;
      emit(reply.sse, 'booking', m.doc.version, m.raw);
      if (TERMINAL_STATUSES.has(m.doc.status)) reply.sse.close();
    };
    const stop = app.status.follow(bookingId, (m) => (live ? deliver(m) : early.push(m)));
    onEnd(reply, () => {
      stop();
      release();
    });
    const current = await app.status.get(bookingId);
    if (!current) throw new DomainError('BOOKING_NOT_FOUND', `No booking ${bookingId}`);
    // Final, and the client has that version: nothing will ever follow. 204 tells an EventSource
    // to stop reconnecting (a 200 that ends would make it come back).
    if (TERMINAL_STATUSES.has(current.doc.status) && last >= current.doc.version) return (reply as FastifyReply).code(204).send();
    if (!keepOpen(request, reply)) return;
    deliver(current);
    for (const m of early) deliver(m);
    live = true;
  });
}
