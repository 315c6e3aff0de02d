import type { Redis } from 'ioredis';
import type { ShowQueues } from '@booking/contracts';

// The next jobs due in a show's queue — the right end of the wait list (where workers take jobs
// from), or the lowest scores of the prioritized set — with only what a batch needs: id, name
// and data, read in one step. BullMQ's getJobs reads each job's whole hash (a round trip's worth
// of fields per job) and builds a Job object for it, which a batch then throws away.
// (Both scripts end with READ: id, name and data of each id, in the order given.)
const READ = `
local out = {}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', ARGV[1] .. id, 'name', 'data')
  out[#out + 1] = id
  out[#out + 1] = f[1]
  out[#out + 1] = f[2]
end
return out`;
const PEEK_LIST = `
local tail = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[2]), -1)
local ids = {}
for i = #tail, 1, -1 do ids[#ids + 1] = tail[i] end
${READ}`;
const PEEK_SET = `
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
${READ}`;

export interface PeekedJob {
  id: string;
  /** null when the job's hash is gone (removed meanwhile). */
  name: string | null;
  /** The job's data as BullMQ stores it (JSON text), or null. */
  data: string | null;
}

/** Up to `count` jobs next due in a show's wait list or prioritized set, oldest first. */
export type PeekJobs = (showId: string, state: 'wait' | 'prioritized', count: number) => Promise<PeekedJob[]>;

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
