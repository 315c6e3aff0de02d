import { QueueKeys } from 'bullmq';
import type { Redis } from 'ioredis';
import { showQueueName, type ShowQueues } from '@booking/contracts';

// The next jobs due in a show's queue — the right end of the wait list (where workers take jobs
// from), or the lowest scores of the prioritized set — with only what a batch needs: id, name
// and data, read in one step. BullMQ's getJobs reads each job's whole hash (a round trip's worth
// of fields per job) and builds a Job object for it, which a batch then throws away.
// (Every script here starts with READ: appends id, name and data of each id, in the order given.)
const READ = `
local function read(out, jobKeyPrefix, ids)
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', jobKeyPrefix .. id, 'name', 'data')
    out[#out + 1] = id
    out[#out + 1] = f[1]
    out[#out + 1] = f[2]
  end
  return out
end`;
const PEEK_LIST = `${READ}
local tail = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[2]), -1)
local ids = {}
for i = #tail, 1, -1 do ids[#ids + 1] = tail[i] end
return read({}, ARGV[1], ids)`;
const PEEK_SET = `${READ}
return read({}, ARGV[1], redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1))`;

export interface PeekedJob {
  id: string;
  /** null when the job's hash is gone (removed meanwhile). */
  name: string | null;
  /** The job's data as BullMQ stores it (JSON text), or null. */
  data: string | null;
}

/** Up to `count` jobs next due in a show's wait list or prioritized set, oldest first. */
export type PeekJobs = (showId: string, state: 'wait' | 'prioritized', count: number) => Promise<PeekedJob[]>;

/** The commands due next in one show's queue, as one DrainShows round reads them. */
export interface DueJobs {
  /**
   * Where the jobs sit: BullMQ takes plain jobs (the wait list) first, then due delayed jobs
   * (which it would promote to the back of the wait list), then prioritized holds. `active`: a
   * job is active (a BullMQ worker took it, or left it stalled when it died): only a BullMQ
   * worker may touch the queue now. `paused`: the queue is paused (BullMQ's pause). `unread`:
   * not read, as nothing was added since a read found it empty (see TakeDue). Else `none`.
   */
  state: 'wait' | 'delayed' | 'prioritized' | 'active' | 'paused' | 'none' | 'unread';
  jobs: PeekedJob[];
  /** When the show's earliest delayed job is due (ms), or null (and unknown when `unread`). */
  nextDelayedAt: number | null;
}

/**
 * For each show, the commands due next in its queue (up to `count`, oldest first), in one call.
 * A show is only read when a job was added to it since a read last found it empty, or when it is
 * in `reread`: the caller's to ask for a show it has not read yet, or one with a delayed job due
 * by the time the last read gave.
 */
export type TakeDue = (showIds: readonly string[], count: number, reread?: ReadonlySet<string>) => Promise<DueJobs[]>;

// ARGV: count, the highest delayed score due now, one character per show ('1': read it whatever
// its marker says), then each show's queue key base ("<prefix>:show-<id>:", also its job key
// prefix). Per show it returns state, the earliest delayed score (or ''), the number of jobs,
// then id, name and data of each.
//
// A show with nothing added costs one call, not six: BullMQ sets the queue's marker whenever it
// adds a job, delayed or not, for its workers' blocking wait. No BullMQ worker waits on a
// drained show, so here it means "read me": a show is read while marked, and the mark is cleared
// when a read finds nothing due. A job added after that read marks the show again (scripts run
// whole), so nothing added is left unread. A delayed job becoming due adds nothing: the caller
// rereads the show by then, from the earliest delayed score the last read returned.
const TAKE_DUE = `${READ}
local count = tonumber(ARGV[1])
local reread = ARGV[3]
local out = {}
for s = 4, #ARGV do
  local base = ARGV[s]
  if string.byte(reread, s - 3) ~= 49 and redis.call('EXISTS', base .. 'marker') == 0 then
    out[#out + 1] = 'unread'
    out[#out + 1] = ''
    out[#out + 1] = 0
  else
  local wait, prioritized, delayed = base .. 'wait', base .. 'prioritized', base .. 'delayed'
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  local state, ids = 'none', {}
  if redis.call('HEXISTS', base .. 'meta', 'paused') == 1 then
    state = 'paused'
  elseif redis.call('LLEN', base .. 'active') > 0 then
    state = 'active'
  else
    local tail = redis.call('LRANGE', wait, -count, -1)
    if #tail > 0 then
      state = 'wait'
      for i = #tail, 1, -1 do ids[#ids + 1] = tail[i] end
    else
      ids = redis.call('ZRANGEBYSCORE', delayed, 0, ARGV[2], 'LIMIT', 0, count)
      if #ids > 0 then
        state = 'delayed'
      else
        ids = redis.call('ZRANGE', prioritized, 0, count - 1)
        if #ids > 0 then state = 'prioritized' else redis.call('DEL', base .. 'marker') end
      end
    end
  end
  out[#out + 1] = state
  out[#out + 1] = first[2] or ''
  out[#out + 1] = #ids
  read(out, base, ids)
  end
end
return out`;

/**
 * One script over every show asked for: a round of DrainShows costs one round trip and one
 * script run however many shows it covers. A show costs it one short argument (its key base),
 * not five key names: a round over a few hundred shows goes out every few milliseconds. Like
 * BullMQ's own scripts (and PEEK above) it builds key names from that base, so in Redis Cluster
 * the queues must share a slot (a hash tag in the prefix).
 */
export function createTakeDue(redis: Redis, prefix: string): TakeDue {
  redis.defineCommand('bkTakeDue', { numberOfKeys: 0, lua: TAKE_DUE });
  // Key names only: a round must not open (and evict) a BullMQ Queue object per show it reads.
  const qk = new QueueKeys(prefix);
  const r = redis as Redis & { bkTakeDue: (...args: (string | number)[]) => Promise<(string | number | null)[]> };
  return async (showIds, count, reread) => {
    if (showIds.length === 0) return [];
    const flags = showIds.map((id) => (reread?.has(id) ? '1' : '0')).join('');
    // BullMQ's delayed scores are ms × 4096 + a counter: everything below (now + 1) × 4096 is due.
    const flat = await r.bkTakeDue(count, (Date.now() + 1) * 4096 - 1, flags, ...showIds.map((id) => qk.toKey(showQueueName(id), '')));
    const out: DueJobs[] = [];
    let i = 0;
    for (let s = 0; s < showIds.length; s++) {
      const state = String(flat[i++]) as DueJobs['state'];
      const first = flat[i++];
      const n = Number(flat[i++]);
      const jobs: PeekedJob[] = [];
      for (let j = 0; j < n; j++, i += 3) jobs.push({ id: String(flat[i]), name: (flat[i + 1] as string | null) ?? null, data: (flat[i + 2] as string | null) ?? null });
      out.push({ state, jobs, nextDelayedAt: first === '' || first === null ? null : Math.floor(Number(first) / 4096) });
    }
    return out;
  };
}

export function createPeekJobs(redis: Redis, queues: ShowQueues): PeekJobs {
  redis.defineCommand('bkPeekList', { numberOfKeys: 1, lua: PEEK_LIST });
  redis.defineCommand('bkPeekSet', { numberOfKeys: 1, lua: PEEK_SET });
  type Peek = (key: string, jobKeyPrefix: string, count: number) => Promise<(string | null)[]>;
  const r = redis as Redis & { bkPeekList: Peek; bkPeekSet: Peek };
  return async (showId, state, count) => {
    if (count <= 0) return [];
    const queue = queues.get(showId);
    const peek = state === 'wait' ? r.bkPeekList.bind(r) : r.bkPeekSet.bind(r);
    const flat = await peek(queue.keys[state]!, queue.toKey(''), count);
    const jobs: PeekedJob[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) jobs.push({ id: flat[i]!, name: flat[i + 1] ?? null, data: flat[i + 2] ?? null });
    return jobs;
  };
}
