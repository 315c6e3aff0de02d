import type { Redis } from 'ioredis';
import type { Booking } from './http/bookings.js';
import type { BookingStatus, SeatStatus } from './common.js';
import type { Show } from './http/shows.js';
import type { RedisKeys } from './redis-keys.js';

/**
 * The availability document of a show, in Redis: the show with per-tier counts (`Show`, without
 * `waiting`), the status of every seat that is not AVAILABLE, and a short log of assigned-seat
 * changes per version (for SSE resumes). The worker applies what each commit changed (never a
 * recount); the API and the worker rebuild it from a Postgres snapshot when it is missing or
 * could be stale. Postgres assigns the versions (shows.version, bumped under the show's row
 * lock), so a rebuilt document never goes back in version, and a gap between the version Redis
 * has and the one a commit carries shows a change that did not reach Redis.
 *
 * Redis layout (all under the deployment prefix, see redisKeys):
 * - `availability(showId)`: hash { v: version, doc: the Show JSON };
 * - `seatStatus(showId)`: hash seatId → `HELD <expiresAt>` | `SOLD` (AVAILABLE seats absent);
 * - `seatLog(showId)`: stream, one entry per version with id `<version>-0` and field `c`: the
 *   JSON list of that version's assigned-seat changes; trimmed to about SEAT_LOG_LENGTH entries,
 *   started again on a rebuild with one entry `R` at the rebuilt version (a resume from before
 *   it reloads the seat map);
 * - `showChannel`: pub/sub, every change as `{"showId","version","at","availability","seats"}`, or
 *   `{"showId","version","availability","reload":true}` after a rebuild.
 */

/** A seat's status change as streams send it (`seats` events). */
export interface SeatChange {
  id: string;
  status: SeatStatus;
  expiresAt: string | null;
}

/** What one pub/sub message on the show channel carries. */
export interface ShowUpdate {
  showId: string;
  version: number;
  /** The document as stored (JSON text of a Show without `waiting`). */
  availability: Show;
  /** Assigned-seat changes of this version; absent after a rebuild (then `reload`). */
  seats?: SeatChange[];
  /** When the worker published the change, just after its commit (ms since the epoch, the worker's clock). */
  at?: number;
  reload?: true;
}

/** Versions of assigned-seat changes kept for resuming streams (about a few seconds of a hot on-sale). */
export const SEAT_LOG_LENGTH = 10_000;
/** How long a show's availability keys live (renewed by each rebuild and every 64th version). */
export const AVAILABILITY_TTL_SECONDS = 7 * 24 * 3600;

const seatStatusOf = (status: BookingStatus): SeatStatus => (status === 'HELD' ? 'HELD' : status === 'CONFIRMED' ? 'SOLD' : 'AVAILABLE');

/** A show's seat changes made by one commit, from the documents of the bookings it changed. */
export interface SeatEffects {
  /** tier → [Δavailable, Δheld, Δsold] */
  tiers: Map<string, [number, number, number]>;
  /** every seat whose status changed (general admission included), in the bookings' order */
  seats: SeatChange[];
  /** those of them with a place (assigned seats): what `seats` events carry */
  assigned: SeatChange[];
}

/**
 * What the transitions of these bookings did to their seats: each booking moved from the
 * status before its last transition to its current one (a commit makes one transition per
 * booking), and its seats with it. Rejections move nothing.
 */
export function seatEffects(bookings: readonly Booking[]): SeatEffects {
  const effects: SeatEffects = { tiers: new Map(), seats: [], assigned: [] };
  const slot = { AVAILABLE: 0, HELD: 1, SOLD: 2 } as const;
  for (const b of bookings) {
    const from = seatStatusOf(b.transitions.at(-2)?.status ?? 'PENDING');
    const to = seatStatusOf(b.status);
    if (from === to) continue;
    for (const seat of b.seats) {
      let d = effects.tiers.get(seat.tier);
      if (!d) effects.tiers.set(seat.tier, (d = [0, 0, 0]));
      d[slot[from]]--;
      d[slot[to]]++;
      const change = { id: seat.id, status: to, expiresAt: to === 'HELD' ? b.expiresAt : null };
      effects.seats.push(change);
      if (seat.label !== null) effects.assigned.push(change);
    }
  }
  return effects;
}

const statusValue = (c: { status: SeatStatus; expiresAt: string | null }) => (c.status === 'HELD' ? `HELD ${c.expiresAt ?? ''}` : c.status === 'SOLD' ? 'SOLD' : '');

/** A seat status as stored in the seatStatus hash, back to its fields (absent: AVAILABLE). */
export function parseSeatStatus(value: string | null): { status: SeatStatus; expiresAt: string | null } {
  if (!value) return { status: 'AVAILABLE', expiresAt: null };
  if (value === 'SOLD') return { status: 'SOLD', expiresAt: null };
  return { status: 'HELD', expiresAt: value.slice(5) || null };
}

// Applies one commit's change on top of the version before it. Answers 2 when applied, 1 when
// Redis already has this version or a later one (a replay, or a rebuild that saw it), 0 when
// there is no document (Redis lost it, or nobody read the show yet), -1 when a version between
// is missing (a commit whose change never reached Redis): the caller then rebuilds.
const APPLY = `
local cur = redis.call('HGET', KEYS[1], 'v')
if not cur then return 0 end
cur = tonumber(cur)
local v = tonumber(ARGV[1])
if cur >= v then return 1 end
if cur ~= v - 1 then return -1 end
local doc = cjson.decode(redis.call('HGET', KEYS[1], 'doc'))
for _, d in ipairs(cjson.decode(ARGV[2])) do
  for _, t in ipairs(doc.tiers) do
    if t.code == d[1] then
      t.available = t.available + d[2]; t.held = t.held + d[3]; t.sold = t.sold + d[4]
    end
  end
  doc.totals.available = doc.totals.available + d[2]
  doc.totals.held = doc.totals.held + d[3]
  doc.totals.sold = doc.totals.sold + d[4]
end
doc.version = v
local text = cjson.encode(doc)
redis.call('HSET', KEYS[1], 'v', v, 'doc', text)
local n = tonumber(ARGV[3])
for i = 0, n - 1 do
  local id, value = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  if value == '' then redis.call('HDEL', KEYS[2], id) else redis.call('HSET', KEYS[2], id, value) end
end
local rest = 4 + 2 * n
local changes = ARGV[rest]
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[rest + 1], v .. '-0', 'c', changes)
-- The keys' lifetime is renewed every 64 versions, not every write: a show quiet for the whole
-- TTL loses its document, which the next read or commit rebuilds.
if v % 64 == 0 then for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[rest + 2]) end end
redis.call('PUBLISH', ARGV[rest + 3], '{"showId":"' .. ARGV[rest + 4] .. '","version":' .. v .. ',"at":' .. ARGV[rest + 5] .. ',"availability":' .. text .. ',"seats":' .. changes .. '}')
return 2`;

// Replaces the whole document with a snapshot of the given version, unless Redis already has
// that version or a later one. The seat log restarts with a rebuild mark at this version: a
// stream resuming from before it cannot be given the changes in between, so it reloads.
const REBUILD = `
local cur = redis.call('HGET', KEYS[1], 'v')
local v = tonumber(ARGV[1])
if cur and tonumber(cur) >= v then return 0 end
redis.call('HSET', KEYS[1], 'v', v, 'doc', ARGV[2])
redis.call('DEL', KEYS[2], KEYS[3])
local i = 6
while i <= #ARGV do
  local last = math.min(i + 999, #ARGV)
  redis.call('HSET', KEYS[2], unpack(ARGV, i, last))
  i = last + 1
end
for k = 1, 2 do redis.call('EXPIRE', KEYS[k], ARGV[3]) end
-- The log starts again at this version, marked as a rebuild (no changes can be given across it).
redis.call('XADD', KEYS[3], v .. '-0', 'c', 'R')
redis.call('EXPIRE', KEYS[3], ARGV[3])
redis.call('PUBLISH', ARGV[4], '{"showId":"' .. ARGV[5] .. '","version":' .. v .. ',"availability":' .. ARGV[2] .. ',"reload":true}')
return 1`;

// The statuses of the given seats and the version they belong to, read together.
const SEAT_STATUSES = `
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return false end
if #ARGV == 0 then return { v } end
local values = redis.call('HMGET', KEYS[2], unpack(ARGV))
table.insert(values, 1, v)
return values`;

type Commands = Redis & {
  bkAvailApply(k1: string, k2: string, k3: string, ...args: (string | number)[]): Promise<number>;
  bkAvailRebuild(k1: string, k2: string, k3: string, ...args: (string | number)[]): Promise<number>;
  bkSeatStatuses(k1: string, k2: string, ...ids: string[]): Promise<(string | null)[] | null>;
};

export type ApplyOutcome = 'applied' | 'already' | 'missing' | 'gap';

export interface AvailabilityStore {
  /** The stored document: its JSON text and version; null when Redis has none. */
  read(showId: string): Promise<{ raw: string; version: number } | null>;
  /** Only the stored version (0 without a document). */
  version(showId: string): Promise<number>;
  /** Applies one commit's seat changes as `version` (see APPLY). */
  apply(showId: string, version: number, bookings: readonly Booking[]): Promise<ApplyOutcome>;
  /** Writes a Postgres snapshot unless Redis has its version already; true when written. */
  rebuild(snapshot: { show: Show; taken: readonly SeatChange[] }): Promise<boolean>;
  /** The stored statuses of these seats (null: AVAILABLE) and their version; null without a document. */
  seatStatuses(showId: string, seatIds: readonly string[]): Promise<{ version: number; values: (string | null)[] } | null>;
  /**
   * The assigned-seat changes of every version after `version`, oldest first; null when the log
   * no longer reaches back that far (the caller reloads instead).
   */
  seatChangesSince(showId: string, version: number, current: number): Promise<{ version: number; seats: SeatChange[] }[] | null>;
}

/** The availability document's reads and writes, on one ioredis connection. */
export function createAvailabilityStore(redis: Redis, keys: RedisKeys): AvailabilityStore {
  redis.defineCommand('bkAvailApply', { numberOfKeys: 3, lua: APPLY });
  redis.defineCommand('bkAvailRebuild', { numberOfKeys: 3, lua: REBUILD });
  redis.defineCommand('bkSeatStatuses', { numberOfKeys: 2, lua: SEAT_STATUSES });
  const r = redis as Commands;
  const showKeys = (showId: string) => [keys.availability(showId), keys.seatStatus(showId), keys.seatLog(showId)] as const;

  return {
    async read(showId) {
      const [v, raw] = await redis.hmget(keys.availability(showId), 'v', 'doc');
      return v && raw ? { raw, version: Number(v) } : null;
    },

    async version(showId) {
      return Number((await redis.hget(keys.availability(showId), 'v')) ?? 0);
    },

    async apply(showId, version, bookings) {
      const effects = seatEffects(bookings);
      const tiers = JSON.stringify([...effects.tiers].map(([tier, d]) => [tier, ...d]));
      const seats = effects.seats.flatMap((c) => [c.id, statusValue(c)]);
      const outcome = await r.bkAvailApply(
        ...showKeys(showId),
        version,
        tiers,
        effects.seats.length,
        ...seats,
        JSON.stringify(effects.assigned),
        SEAT_LOG_LENGTH,
        AVAILABILITY_TTL_SECONDS,
        keys.showChannel,
        showId,
        Date.now(),
      );
      return outcome === 2 ? 'applied' : outcome === 1 ? 'already' : outcome === 0 ? 'missing' : 'gap';
    },

    async rebuild({ show, taken }) {
      const { waiting: _waiting, ...doc } = show;
      const seats = taken.flatMap((c) => [c.id, statusValue(c)]);
      const written = await r.bkAvailRebuild(...showKeys(show.id), show.version, JSON.stringify(doc), AVAILABILITY_TTL_SECONDS, keys.showChannel, show.id, ...seats);
      return written === 1;
    },

    async seatStatuses(showId, seatIds) {
      const out = await r.bkSeatStatuses(keys.availability(showId), keys.seatStatus(showId), ...seatIds);
      if (!out) return null;
      return { version: Number(out[0]), values: out.slice(1) };
    },

    async seatChangesSince(showId, version, current) {
      if (version >= current) return [];
      const entries = (await redis.xrange(keys.seatLog(showId), `${version + 1}-0`, '+', 'COUNT', current - version)) as [string, string[]][];
      if (entries.some(([, fields]) => fields[1] === 'R')) return null; // a rebuild in between
      const out = entries.map(([id, fields]) => ({ version: Number(id.split('-')[0]), seats: JSON.parse(fields[1] ?? '[]') as SeatChange[] }));
      // Complete only if it starts right after `version` and has no hole up to where it ends.
      if (out.length === 0 || out[0]!.version !== version + 1) return null;
      for (let i = 1; i < out.length; i++) if (out[i]!.version !== out[i - 1]!.version + 1) return null;
      return out;
    },
  };
}
