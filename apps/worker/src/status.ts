import type { Booking, CommandResult, RedisKeys } from '@booking/contracts';
import { FINAL_DOC_TTL_SECONDS, LIVE_DOC_TTL_SECONDS, TERMINAL_STATUSES, createAvailabilityStore } from '@booking/contracts';
import { getAvailability, getShowVersions, type Decision, type Sql } from '@booking/db';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

// Writes the status document unless Redis already has a newer version (two writers can finish
// out of order, e.g. a sweep and a replayed job), then publishes it so waiting requests wake.
// The stored version is found by its key in the JSON text: a document has one "version" key
// (inside a string value the quotes would be escaped), and this costs about half of decoding
// the whole document (12 us a write, measured); a text it does not match is decoded.
const WRITE_DOC = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local version = tonumber(string.match(cur, '"version":(%d+)'))
  if not version then
    local ok, doc = pcall(cjson.decode, cur)
    version = ok and type(doc) == 'table' and tonumber(doc.version) or nil
  end
  if version and version > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[1])
return 1`;

const WRITE_RESULT = `
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 1`;

/** How long a commit whose version arrives before the one in front of it waits for that one. */
const GAP_WAIT_MS = 50;

export interface StatusPublisher {
  publishBooking(booking: Booking): Promise<void>;
  publishResult(result: CommandResult): Promise<void>;
  /**
   * After a commit: each show's availability document gets what the commit changed (the
   * decisions carrying the show's new version), or is rebuilt from Postgres when Redis lacks
   * it or missed a version. Shows seen here are checked again a second later (`verify`).
   */
  publishShows(decisions: readonly Decision[]): Promise<void>;
  /**
   * The safety net, run about once a second: a show decided here whose Redis version is still
   * below the version Postgres had at the previous check (a commit whose change never reached
   * Redis: a worker killed between commit and publish, a publish that failed) is rebuilt.
   */
  verify(): Promise<void>;
}

/** After each commit: the booking's status document to Redis, then a publish; the shows' availability documents. */
export function createStatusPublisher(redis: Redis, keys: RedisKeys, opts: { sql: Sql; log: Logger }): StatusPublisher {
  const availability = createAvailabilityStore(redis, keys);
  // One rebuild per show at a time: a second caller waits for the one in flight, then runs its own
  // (it may need a later snapshot than the one in flight read).
  const rebuilding = new Map<string, Promise<void>>();
  const rebuild = (showId: string): Promise<void> => {
    const prior = rebuilding.get(showId) ?? Promise.resolve();
    const next = prior.catch(() => {}).then(async () => {
      const snapshot = await getAvailability(opts.sql, showId);
      if (snapshot) await availability.rebuild(snapshot);
    });
    const tracked = next.finally(() => rebuilding.get(showId) === tracked && rebuilding.delete(showId));
    rebuilding.set(showId, tracked);
    return tracked;
  };
  // show → the Postgres version read at the previous check (undefined: not read yet)
  const watched = new Map<string, number | undefined>();

  redis.defineCommand('bkWriteDoc', { numberOfKeys: 1, lua: WRITE_DOC });
  redis.defineCommand('bkWriteResult', { numberOfKeys: 1, lua: WRITE_RESULT });
  const r = redis as Redis & {
    bkWriteDoc(key: string, doc: string, version: number, ttl: number, channel: string): Promise<number>;
    bkWriteResult(key: string, result: string, ttl: number, channel: string): Promise<number>;
  };
  return {
    async publishBooking(booking) {
      const ttl = TERMINAL_STATUSES.has(booking.status) ? FINAL_DOC_TTL_SECONDS : LIVE_DOC_TTL_SECONDS;
      await r.bkWriteDoc(keys.booking(booking.id), JSON.stringify(booking), booking.version, ttl, keys.bookingChannel);
    },
    async publishResult(result) {
      await r.bkWriteResult(keys.commandResult(result.commandId), JSON.stringify(result), FINAL_DOC_TTL_SECONDS, keys.resultChannel);
    },

    async publishShows(decisions) {
      const byShow = new Map<string, { version: number; bookings: Booking[] }>();
      for (const d of decisions) {
        if (!d.booking) continue;
        const showId = d.booking.showId;
        if (!watched.has(showId)) watched.set(showId, undefined);
        if (!d.changed || !d.showVersion) continue;
        const entry = byShow.get(showId) ?? { version: d.showVersion, bookings: [] };
        entry.bookings.push(d.booking);
        byShow.set(showId, entry);
      }
      await Promise.all(
        [...byShow].map(async ([showId, { version, bookings }]) => {
          let outcome = await availability.apply(showId, version, bookings);
          if (outcome === 'gap') {
            // Usually the version before is on its way (another commit of the show publishing
            // a moment later): a short wait spares a rebuild, which restarts the change log.
            await new Promise((r) => setTimeout(r, GAP_WAIT_MS));
            outcome = await availability.apply(showId, version, bookings);
          }
          if (outcome === 'missing' || outcome === 'gap') await rebuild(showId);
        }),
      );
    },

    async verify() {
      if (watched.size === 0) return;
      const ids = [...watched.keys()];
      const [versions, stored] = await Promise.all([getShowVersions(opts.sql, ids), Promise.all(ids.map((id) => availability.version(id)))]);
      await Promise.all(
        ids.map(async (id, i) => {
          const before = watched.get(id);
          const now = versions.get(id);
          if (now === undefined) return void watched.delete(id);
          const have = stored[i]!;
          if (before !== undefined && have < before) {
            opts.log.warn({ showId: id, redis: have, postgres: before }, 'availability document behind Postgres; rebuilding it');
            await rebuild(id);
          }
          // Checked once more after its last decision here, then forgotten.
          if (before !== undefined && have >= now) watched.delete(id);
          else watched.set(id, now);
        }),
      );
    },
  };
}
