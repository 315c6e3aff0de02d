import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { createAvailabilityStore, redisKeys, type AvailabilityStore, type ShowUpdate } from '@booking/contracts';
import { getAvailability } from '@booking/db';
import { listen, waitFor } from './listeners.js';

declare module 'fastify' {
  interface FastifyInstance {
    availability: Availability;
  }
}

/** A show's availability document as stored: sent as is, never re-serialised on the hot path. */
export interface StoredAvailability {
  raw: string;
  version: number;
}

export interface Availability {
  /**
   * The show's availability document from Redis; on a miss, rebuilt from Postgres once however
   * many ask at the same time (single flight) and written back. Null for an unknown show, which
   * is remembered as unknown for a short while (a flood of random ids reaches Postgres once per id).
   */
  get(showId: string): Promise<StoredAvailability | null>;
  /** Rebuilds the document from Postgres now (after a show is created or edited here); never throws. */
  refresh(showId: string): Promise<void>;
  /**
   * A long-poll's one read: the document at once if its version is not `version`, else its first
   * change within `ms`, else the unchanged document; null when there is no such show.
   */
  watch(showId: string, version: number, ms: number): Promise<StoredAvailability | null>;
  /** Every change of the show published from now on (SSE); returns the unsubscribe. */
  follow(showId: string, listener: (update: ShowUpdate, raw: string) => void): () => void;
  /** Long-polls waiting on a show's change right now. */
  waiting(): number;
  store: AvailabilityStore;
}

/** How long an unknown show id is remembered as unknown, and how many are remembered at most. */
const UNKNOWN_TTL_MS = 2000;
const MAX_UNKNOWN = 10_000;
/** The id at the head of a show update (where the worker writes it). */
const UPDATE_HEAD = /^\{"showId":"([^"\\]*)"/;

export const availabilityPlugin = fp(async (app: FastifyInstance, opts: { prefix: string }) => {
  const keys = redisKeys(opts.prefix);
  const store = createAvailabilityStore(app.redis, keys);
  const unknown = new Map<string, number>();
  const loading = new Map<string, Promise<StoredAvailability | null>>();
  const listeners = new Map<string, Set<(update: ShowUpdate, raw: string) => void>>();
  // Long-polls waiting now, for shutdown.
  const pending = new Set<() => void>();

  /** Reads Postgres once for everyone missing this show now, and writes the document back. */
  function load(showId: string): Promise<StoredAvailability | null> {
    let p = loading.get(showId);
    if (p) return p;
    p = (async () => {
      const snapshot = await getAvailability(app.sql, showId);
      if (!snapshot) {
        if (unknown.size >= MAX_UNKNOWN) unknown.delete(unknown.keys().next().value!);
        unknown.set(showId, Date.now() + UNKNOWN_TTL_MS);
        return null;
      }
      await store.rebuild(snapshot);
      // Whatever Redis has now is at least this snapshot's version (the rebuild never goes back).
      return (await store.read(showId)) ?? { raw: JSON.stringify({ ...snapshot.show, waiting: undefined }), version: snapshot.show.version };
    })().finally(() => loading.delete(showId));
    loading.set(showId, p);
    return p;
  }

  async function get(showId: string): Promise<StoredAvailability | null> {
    const hit = await store.read(showId);
    if (hit) return hit;
    const until = unknown.get(showId);
    if (until !== undefined) {
      if (until > Date.now()) return null;
      unknown.delete(showId);
    }
    return load(showId);
  }

  app.subscriber.on('message', (channel: string, message: string) => {
    if (channel !== keys.showChannel || listeners.size === 0) return;
    const head = UPDATE_HEAD.exec(message);
    const set = head && listeners.get(head[1]!);
    if (!set) return;
    let update: ShowUpdate;
    try {
      update = JSON.parse(message) as ShowUpdate;
    } catch (err) {
      app.log.warn({ err, channel }, 'unreadable show update');
      return;
    }
    for (const listener of [...set]) listener(update, message);
  });
  await app.subscriber.subscribe(keys.showChannel);

  const follow = (showId: string, listener: (update: ShowUpdate, raw: string) => void) => listen(listeners, showId, listener);

  /** The document of an update, as stored (its `availability` member's text). */
  const docOf = (update: ShowUpdate): StoredAvailability => ({ raw: JSON.stringify(update.availability), version: update.version });

  function watch(showId: string, version: number, ms: number): Promise<StoredAvailability | null> {
    let read!: Promise<StoredAvailability | null>; // set by check, which waitFor runs before any timer can fire
    return waitFor<ShowUpdate, StoredAvailability>({
      waiters: listeners,
      id: showId,
      ms,
      pending,
      accept: (update) => (update.version > version ? docOf(update) : null),
      async check() {
        const doc = await (read = get(showId));
        return !doc || doc.version !== version ? { now: doc } : null;
      },
      // Ran out (or shutdown): the document as read, waiting for that read if it is slow.
      onTimeout: () => read,
    });
  }

  app.decorate<Availability>('availability', {
    get,
    async refresh(showId) {
      unknown.delete(showId);
      try {
        const snapshot = await getAvailability(app.sql, showId);
        if (snapshot) await store.rebuild(snapshot);
      } catch (err) {
        // The change is committed; the document must not stay behind it. Without it the next
        // read rebuilds (a quiet show may see no commit, and so no worker check, for a long time).
        app.log.warn({ err, showId }, 'could not rebuild the availability document; dropping it so the next read does');
        await app.redis.del(keys.availability(showId), keys.seatStatus(showId), keys.seatLog(showId)).catch(() => {});
      }
    },
    watch,
    follow,
    waiting: () => pending.size,
    store,
  });

  app.addHook('preClose', async () => {
    for (const stop of [...pending]) stop();
  });
});
