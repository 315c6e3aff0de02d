import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { getShowRules, getShowSeatIds, getShowTiers } from '@booking/db';

declare module 'fastify' {
  interface FastifyInstance {
    shows: ShowCache;
  }
}

export interface ShowFacts {
  tiers: Set<string>;
  maxSeatsPerBooking: number;
}

export interface ShowCache {
  /** What a booking request is validated against; null for an unknown show. */
  get(showId: string): Promise<ShowFacts | null>;
  /** seat id → tier of every seat of the show, for requests that name exact seats. */
  seats(showId: string): Promise<Map<string, string>>;
}

const MAX_SHOWS = 200;
const RULES_TTL_MS = 1000;

/**
 * Booking requests are validated (tiers, seat ids, per-booking limit) without a Postgres query
 * per request: a show's tiers and seat ids never change once created, so they are cached — the
 * seat ids (up to 100,000 of them) only once a request names exact seats, so a general-admission
 * on-sale never loads them; the editable per-booking limit is re-read at most once a second.
 * Sales open/closed is not checked here — the worker decides that (SALES_CLOSED), in the same
 * transaction as the claim.
 */
export const showCachePlugin = fp(async (app: FastifyInstance) => {
  /** A small LRU of immutable per-show facts; a failed or empty load is not kept. */
  function memo<T>(load: (showId: string) => Promise<T>, keep: (value: T) => boolean) {
    const cache = new Map<string, Promise<T>>();
    return (showId: string) => {
      let p = cache.get(showId);
      if (!p) {
        p = load(showId);
        cache.set(showId, p);
        if (cache.size > MAX_SHOWS) cache.delete(cache.keys().next().value!);
        p.then((v) => keep(v) || cache.delete(showId), () => cache.delete(showId));
      }
      return p;
    };
  }
  // An unknown show is not cached: it may be created a moment later.
  const tiers = memo((id) => getShowTiers(app.sql, id), (t) => t.size > 0);
  const seats = memo((id) => getShowSeatIds(app.sql, id), (s) => s.size > 0);
  const rules = new Map<string, { at: number; value: Promise<{ maxSeatsPerBooking: number } | null> }>();

  const showRules = (showId: string) => {
    const hit = rules.get(showId);
    if (hit && Date.now() - hit.at < RULES_TTL_MS) return hit.value;
    const value = getShowRules(app.sql, showId);
    rules.set(showId, { at: Date.now(), value });
    if (rules.size > MAX_SHOWS) rules.delete(rules.keys().next().value!);
    value.catch(() => rules.delete(showId));
    return value;
  };

  app.decorate<ShowCache>('shows', {
    async get(showId) {
      const [t, r] = await Promise.all([tiers(showId), showRules(showId)]);
      return t.size > 0 && r ? { tiers: t, maxSeatsPerBooking: r.maxSeatsPerBooking } : null;
    },
    seats,
  });
});
