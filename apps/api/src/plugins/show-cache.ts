import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { getShowCatalog, getShowRules, type ShowCatalog } from '@booking/db';

declare module 'fastify' {
  interface FastifyInstance {
    shows: ShowCache;
  }
}

export interface ShowFacts extends ShowCatalog {
  maxSeatsPerBooking: number;
}

export interface ShowCache {
  /** What a booking request is validated against; null for an unknown show. */
  get(showId: string): Promise<ShowFacts | null>;
}

const MAX_SHOWS = 200;
const RULES_TTL_MS = 1000;

/**
 * Booking requests are validated (tiers, seat ids, per-booking limit) without a Postgres query
 * per request: a show's tiers and seat ids never change once created, so they are cached; the
 * editable per-booking limit is re-read at most once a second. Sales open/closed is not checked
 * here — the worker decides that (SALES_CLOSED), in the same transaction as the claim.
 */
export const showCachePlugin = fp(async (app: FastifyInstance) => {
  const catalogs = new Map<string, Promise<ShowCatalog | null>>();
  const rules = new Map<string, { at: number; value: Promise<{ maxSeatsPerBooking: number } | null> }>();

  const catalog = (showId: string) => {
    let p = catalogs.get(showId);
    if (!p) {
      p = getShowCatalog(app.sql, showId);
      catalogs.set(showId, p);
      if (catalogs.size > MAX_SHOWS) catalogs.delete(catalogs.keys().next().value!);
      // Unknown shows and failures are not cached: the show may be created a moment later.
      p.then((c) => c || catalogs.delete(showId), () => catalogs.delete(showId));
    }
    return p;
  };

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
      const [c, r] = await Promise.all([catalog(showId), showRules(showId)]);
      return c && r ? { ...c, maxSeatsPerBooking: r.maxSeatsPerBooking } : null;
    },
  });
});
