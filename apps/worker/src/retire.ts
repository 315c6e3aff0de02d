import type { Redis } from 'ioredis';
import type { ShowQueues } from '@booking/contracts';

// Removes batched jobs that are still the oldest entries of the wait list (its right end, where
// workers take jobs from), in one step: check, LTRIM, delete their hashes. BullMQ's own remove
// does an LREM per job — a scan of the whole list, which during an on-sale holds tens of
// thousands of commands. Returns 0 when the right end is not what we peeked (e.g. a stalled job
// was pushed back there meanwhile); the caller then falls back to BullMQ's remove.
const RETIRE = `
local n = #ARGV - 1
local tail = redis.call('LRANGE', KEYS[1], -n, -1)
if #tail ~= n then return 0 end
for i = 1, n do
  if tail[n - i + 1] ~= ARGV[i + 1] then return 0 end
end
redis.call('LTRIM', KEYS[1], 0, -(n + 1))
for i = 2, #ARGV do
  local k = ARGV[1] .. ARGV[i]
  redis.call('DEL', k, k .. ':logs', k .. ':dependencies', k .. ':processed', k .. ':failed', k .. ':unsuccessful')
end
return n`;

export type RetireJobs = (showId: string, jobIdsOldestFirst: readonly string[]) => Promise<void>;

/** Takes jobs that a batch already decided out of their show's queue (see processors/shared.ts). */
export function createRetireJobs(redis: Redis, queues: ShowQueues): RetireJobs {
  redis.defineCommand('bkRetire', { numberOfKeys: 1, lua: RETIRE });
  const r = redis as Redis & { bkRetire(waitKey: string, jobKeyPrefix: string, ...ids: string[]): Promise<number> };
  return async (showId, ids) => {
    if (ids.length === 0) return;
    const queue = queues.get(showId);
    const retired = await r.bkRetire(queue.keys.wait!, queue.toKey(''), ...ids);
    if (retired === 0) await Promise.all(ids.map((id) => queue.remove(id)));
  };
}
