import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { getSeatPlaces, getShowRules, getShowSeatIds, getShowTiers, type SeatPlace } from '@booking/db';

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
  /** The seat map's fixed part (ids, tiers, places, labels), best first, optionally of one tier; empty for an unknown show. */
  places(showId: string, tier?: string): Promise<SeatPlace[]>;
}

const MAX_SHOWS = 200;
/** Seat maps kept in memory (up to 100,000 seats each, ~150 bytes a seat). */
const MAX_SEAT_MAPS = 20;
const RULES_TTL_MS = 1000;

/**
 * Booking requests are validated (tiers, seat ids, per-booking limit) without a Postgres query
 * per request: a show's tiers and seat ids never change once created, so they are cached — the
 * seat ids (up to 100,000 of them) only once a request names exact seats, so a general-admission
 * on-sale never loads them; the editable per-booking limit is re-read at most once a second.
 * Sales open/closed is not checked here — the worker decides that (SALES_CLOSED), in the same
 * transaction as the claim. The seat map's fixed part (what GET /v1/shows/:showId/seats pages
 * through; statuses come from Redis) is cached for the most recently asked shows.
 */
export const showCachePlugin = fp(async (app: FastifyInstance) => {
  /** A small LRU of immutable per-show facts; a failed or empty load is not kept. */
  function memo<T>(load: (showId: string) => Promise<T>, keep: (value: T) => boolean, max = MAX_SHOWS) {
    const cache = new Map<string, Promise<T>>();
    return (showId: string) => {
      let p = cache.get(showId);
      if (!p) {
        p = load(showId);
        cache.set(showId, p);
        if (cache.size > max) cache.delete(cache.keys().next().value!);
        p.then((v) => keep(v) || cache.delete(showId), () => cache.delete(showId));
      }
      return p;
    };
  }
  // An unknown show is not cached: it may be created a moment later.
  const tiers = memo((id) => getShowTiers(app.sql, id), (t) => t.size > 0);
  const seats = memo((id) => getShowSeatIds(app.sql, id), (s) => s.size > 0);
  const places = memo((id) => getSeatPlaces(app.sql, id), (s) => s.length > 0, MAX_SEAT_MAPS);
  // A tier's seats, filtered once per cached map.
  const byTier = new WeakMap<SeatPlace[], Map<string, SeatPlace[]>>();
  const placesOf = async (showId: string, tier?: string) => {
    const all = await places(showId);
    if (!tier) return all;
    let tiers = byTier.get(all);
    if (!tiers) byTier.set(all, (tiers = new Map()));
    let list = tiers.get(tier);
    if (!list) tiers.set(tier, (list = all.filter((p) => p.tier === tier)));
    return list;
  };
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
    places: placesOf,
  });
});
