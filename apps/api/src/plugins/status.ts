import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { IDEMPOTENCY_TTL_SECONDS, LIVE_DOC_TTL_SECONDS, redisKeys, type Booking, type CommandResult } from '@booking/contracts';
import { getBooking } from '@booking/db';

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
  /** Resolves with the command's result, published by the worker, or null after `ms`. */
  waitForResult(commandId: string, ms: number, afterRegister: () => Promise<void>): Promise<CommandResult | null>;
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

type Waiter = (raw: string, doc: Booking) => void;

export const statusPlugin = fp(async (app: FastifyInstance, opts: { prefix: string }) => {
  const keys = redisKeys(opts.prefix);
  const redis = app.redis as typeof app.redis & {
    bkAccept(docKey: string, idemKey: string, doc: string, docTtl: number, idemValue: string, idemTtl: number): Promise<string | null>;
  };
  redis.defineCommand('bkAccept', { numberOfKeys: 2, lua: ACCEPT });

  const bookingWaiters = new Map<string, Set<Waiter>>();
  const resultWaiters = new Map<string, Set<(r: CommandResult) => void>>();

  // One subscription per process; messages are fanned out to this process's waiters.
  app.subscriber.on('message', (channel: string, message: string) => {
    try {
      if (channel === keys.bookingChannel) {
        const doc = JSON.parse(message) as Booking;
        for (const w of bookingWaiters.get(doc.id) ?? []) w(message, doc);
      } else if (channel === keys.resultChannel) {
        const result = JSON.parse(message) as CommandResult;
        for (const w of resultWaiters.get(result.commandId) ?? []) w(result);
      }
    } catch (err) {
      app.log.warn({ err, channel }, 'unreadable pub/sub message');
    }
  });
  await app.subscriber.subscribe(keys.bookingChannel, keys.resultChannel);

  function register<T>(map: Map<string, Set<T>>, id: string, fn: T): () => void {
    let set = map.get(id);
    if (!set) map.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) map.delete(id);
    };
  }

  const store: StatusStore = {
    async get(bookingId) {
      const raw = await app.redis.get(keys.booking(bookingId));
      if (raw) return { raw, doc: JSON.parse(raw) as Booking };
      const doc = await getBooking(app.sql, bookingId);
      return doc ? { raw: JSON.stringify(doc), doc } : null;
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

    waitForChange(bookingId, version, ms) {
      return new Promise((resolve, reject) => {
        let done = false;
        const finish = (value: StoredBooking | null) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          unregister();
          resolve(value);
        };
        const unregister = register(bookingWaiters, bookingId, (raw, doc) => {
          if (doc.version !== version) finish({ raw, doc });
        });
        const timer = setTimeout(() => finish(null), ms);
        store.get(bookingId).then(
          (current) => {
            if (current && current.doc.version !== version) finish(current);
          },
          (err) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            unregister();
            reject(err);
          },
        );
      });
    },

    waitForResult(commandId, ms, afterRegister) {
      return new Promise((resolve, reject) => {
        let done = false;
        const finish = (value: CommandResult | null) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          unregister();
          resolve(value);
        };
        const unregister = register(resultWaiters, commandId, (r: CommandResult) => finish(r));
        const timer = setTimeout(() => finish(null), ms);
        // The same command may have been decided already (a repeated confirm): its result is kept.
        afterRegister()
          .then(() => app.redis.get(keys.commandResult(commandId)))
          .then((raw) => {
            if (raw) finish(JSON.parse(raw) as CommandResult);
          })
          .catch((err) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            unregister();
            reject(err);
          });
      });
    },
  };
  app.decorate('status', store);
});
