import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { IDEMPOTENCY_TTL_SECONDS, LIVE_DOC_TTL_SECONDS, redisKeys, type Booking, type CommandResult } from '@booking/contracts';
import { getBooking, inTransaction } from '@booking/db';
import { listen, waitFor } from './listeners.js';

declare module 'fastify' {
  interface FastifyInstance {
    status: StatusStore;
  }
}

export interface StoredBooking {
  /** The document as stored, sent as is (no re-serialisation on the hot path). */
  raw: string;
  doc: Booking;
}

export type AcceptResult = { accepted: true } | { accepted: false; existing: string };

export interface StatusStore {
  /** Redis first (every live booking is there), Postgres as fallback. */
  get(bookingId: string): Promise<StoredBooking | null>;
  /** Records a new PENDING booking, claiming its Idempotency-Key atomically when one is given. */
  accept(doc: Booking, idempotency: { key: string; value: string } | null): Promise<AcceptResult>;
  /** Undoes accept when the command could not be enqueued. */
  forget(bookingId: string, idempotencyKey: string | null): Promise<void>;
  /**
   * Resolves with the booking's document once its version differs from `version`, or with null
   * after `ms`. The waiter is registered before the first read, so no publish can slip between.
   */
  waitForChange(bookingId: string, version: number | null, ms: number): Promise<StoredBooking | null>;
  /**
   * A long-poll's one read: the document at once if its version differs from `version`, else its
   * first change within `ms`, else the unchanged document; null when there is no such booking.
   */
  watch(bookingId: string, version: number, ms: number): Promise<StoredBooking | null>;
  /** Resolves with the command's result, published by the worker, or null after `ms`. */
  waitForResult(commandId: string, ms: number, afterRegister: () => Promise<void>): Promise<CommandResult | null>;
  /** Every published change of the booking from now on (event streams); returns the unsubscribe. */
  follow(bookingId: string, listener: (m: StoredBooking) => void): () => void;
  /** Requests waiting right now: on a booking's change (long-polls), on a command's result. */
  waiting(): { booking: number; command: number };
}

// Claims the idempotency key (if any) and writes the PENDING document in one step, so a
// concurrent retry with the same key either wins or finds both the key and the document.
const ACCEPT = `
if KEYS[2] ~= '' then
  local ok = redis.call('SET', KEYS[2], ARGV[3], 'NX', 'EX', ARGV[4])
  if not ok then return redis.call('GET', KEYS[2]) end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false`;

/** How long an id found nowhere is answered as unknown without asking Postgres, and how many are kept. */
const UNKNOWN_TTL_MS = 2000;
const MAX_UNKNOWN = 10_000;

/** The id a published booking (`id`) or command result (`commandId`) starts with. */
const MESSAGE_HEAD = /^\{"(?:id|commandId)":"([^"\\]*)"/;

export const statusPlugin = fp(async (app: FastifyInstance, opts: { prefix: string }) => {
  const keys = redisKeys(opts.prefix);
  const redis = app.redis as typeof app.redis & {
    bkAccept(docKey: string, idemKey: string, doc: string, docTtl: number, idemValue: string, idemTtl: number): Promise<string | null>;
  };
  redis.defineCommand('bkAccept', { numberOfKeys: 2, lua: ACCEPT });

  // booking id → until when it is known to be unknown (see get)
  const unknown = new Map<string, number>();
  const fallbacks = new Map<string, Promise<Booking | null>>();
  const bookingWaiters = new Map<string, Set<(m: StoredBooking) => void>>();
  const resultWaiters = new Map<string, Set<(r: CommandResult) => void>>();

  // One subscription per process; messages are fanned out to this process's waiters. Every
  // decision of every show is published, mostly with nobody here waiting for it: the id at the
  // head of the JSON (where the worker writes it) says so without parsing the whole document.
  app.subscriber.on('message', (channel: string, message: string) => {
    const waiters = channel === keys.bookingChannel ? bookingWaiters : channel === keys.resultChannel ? resultWaiters : null;
    if (!waiters || waiters.size === 0) return;
    const head = MESSAGE_HEAD.exec(message);
    if (head && !waiters.has(head[1]!)) return;
    try {
      if (channel === keys.bookingChannel) {
        const doc = JSON.parse(message) as Booking;
        for (const w of bookingWaiters.get(doc.id) ?? []) w({ raw: message, doc });
      } else if (channel === keys.resultChannel) {
        const result = JSON.parse(message) as CommandResult;
        for (const w of resultWaiters.get(result.commandId) ?? []) w(result);
      }
    } catch (err) {
      app.log.warn({ err, channel }, 'unreadable pub/sub message');
    }
  });
  await app.subscriber.subscribe(keys.bookingChannel, keys.resultChannel);

  // The shutdown callbacks of the waits in progress, by kind (their sizes are the waiter gauges).
  const pending = { booking: new Set<() => void>(), command: new Set<() => void>() };

  /** A wait of `kind` (see waitFor in listeners.ts): counted and ended on shutdown with the others of its kind. */
  const waitOf = <M, T>(
    kind: keyof typeof pending,
    waiters: Map<string, Set<(m: M) => void>>,
    id: string,
    ms: number,
    accept: (m: M) => T | null,
    check: () => Promise<{ now: T | null } | null>,
    onTimeout?: () => T | null | Promise<T | null>,
  ) => waitFor({ waiters, id, ms, pending: pending[kind], accept, check, onTimeout });

  /**
   * The booking's document once its version is not `version` (read first, then published
   * changes). As a long-poll's one read (`watch`), a missing booking answers null at once and the
   * wait running out (or a shutdown) answers the document as read, waiting for that read if it
   * has not answered yet: a slow read must not make a live booking look missing (404).
   * Otherwise both wait or give null.
   */
  function changeOf(bookingId: string, version: number | null, ms: number, watch: boolean): Promise<StoredBooking | null> {
    let read!: Promise<StoredBooking | null>; // set by check, which waitFor runs before any timer can fire
    return waitOf<StoredBooking, StoredBooking>(
      'booking',
      bookingWaiters,
      bookingId,
      ms,
      (m) => (m.doc.version !== version ? m : null),
      async () => {
        const doc = await (read = store.get(bookingId));
        if (doc && doc.doc.version !== version) return { now: doc };
        return !doc && watch ? { now: null } : null;
      },
      () => (watch ? read : null),
    );
  }

  const store: StatusStore = {
    async get(bookingId) {
      const raw = await app.redis.get(keys.booking(bookingId));
      if (raw) {
        app.metrics.statusRead('redis');
        return { raw, doc: JSON.parse(raw) as Booking };
      }
      const until = unknown.get(bookingId);
      if (until !== undefined && until > Date.now()) return null;
      app.metrics.statusRead('postgres');
      // One read for every request missing this booking now (single flight).
      let read = fallbacks.get(bookingId);
      if (!read) {
        read = inTransaction(app.sql, (tx) => getBooking(tx, bookingId)).finally(() => fallbacks.delete(bookingId)); // index plans: see inTransaction
        fallbacks.set(bookingId, read);
      }
      const doc = await read;
      if (!doc) {
        // Booking ids are made here and written to Redis before anyone learns them, so an id
        // neither knows is a guess: remembered a while, so a flood of guesses reaches Postgres once each.
        if (unknown.size >= MAX_UNKNOWN) unknown.delete(unknown.keys().next().value!);
        unknown.set(bookingId, Date.now() + UNKNOWN_TTL_MS);
        return null;
      }
      unknown.delete(bookingId);
      return { raw: JSON.stringify(doc), doc };
    },

    async accept(doc, idempotency) {
      const existing = await redis.bkAccept(
        keys.booking(doc.id),
        idempotency ? keys.idempotency(idempotency.key) : '',
        JSON.stringify(doc),
        LIVE_DOC_TTL_SECONDS,
        idempotency?.value ?? '',
        IDEMPOTENCY_TTL_SECONDS,
      );
      return existing ? { accepted: false, existing } : { accepted: true };
    },

    async forget(bookingId, idempotencyKey) {
      const del = [keys.booking(bookingId), ...(idempotencyKey ? [keys.idempotency(idempotencyKey)] : [])];
      await app.redis.del(...del).catch(() => {});
    },

    waitForChange: (bookingId, version, ms) => changeOf(bookingId, version, ms, false),
    watch: (bookingId, version, ms) => changeOf(bookingId, version, ms, true),

    waitForResult(commandId, ms, afterRegister) {
      return waitOf<CommandResult, CommandResult>('command', resultWaiters, commandId, ms, (r) => r, async () => {
        await afterRegister();
        // The same command may have been decided already (a repeated confirm): its result is kept.
        const raw = await app.redis.get(keys.commandResult(commandId));
        return raw ? { now: JSON.parse(raw) as CommandResult } : null;
      });
    },

    follow: (bookingId, listener) => listen(bookingWaiters, bookingId, listener),

    waiting: () => ({ booking: pending.booking.size, command: pending.command.size }),
  };
  app.decorate('status', store);

  // On shutdown, answer every long-poll now (with what it has) instead of holding close() for
  // up to 30 s: clients simply poll again, at the next instance.
  app.addHook('preClose', async () => {
    for (const stop of [...pending.booking, ...pending.command]) stop();
  });
});
