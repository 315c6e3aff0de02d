import type { Redis } from 'ioredis';
import type { ShowQueues } from '@booking/contracts';

// Removes batched jobs that are still the next ones due — the right end of the wait list (where
// workers take jobs from) or the lowest scores of the prioritized set — in one step: check,
// trim, delete their hashes. BullMQ's own remove does an LREM per job, a scan of the whole list,
// which during an on-sale holds tens of thousands of commands. Returns 0 when the head is not
// what we peeked (e.g. a stalled job was pushed back there meanwhile); the caller then falls
// back to BullMQ's remove.
// (Each script below starts with DEL_JOB: a job's hash and the keys BullMQ keeps beside it.)
const DEL_JOB = `
local function delJob(id)
  local k = ARGV[1] .. id
  redis.call('DEL', k, k .. ':logs', k .. ':dependencies', k .. ':processed', k .. ':failed', k .. ':unsuccessful')
end`;
const RETIRE_FROM_LIST = `${DEL_JOB}
local n = #ARGV - 1
local tail = redis.call('LRANGE', KEYS[1], -n, -1)
if #tail ~= n then return 0 end
for i = 1, n do
  if tail[n - i + 1] ~= ARGV[i + 1] then return 0 end
end
redis.call('LTRIM', KEYS[1], 0, -(n + 1))
for i = 2, #ARGV do delJob(ARGV[i]) end
return n`;
const RETIRE_FROM_SET = `${DEL_JOB}
local n = #ARGV - 1
local head = redis.call('ZRANGE', KEYS[1], 0, n - 1)
if #head ~= n then return 0 end
for i = 1, n do
  if head[i] ~= ARGV[i + 1] then return 0 end
end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 1)
for i = 2, #ARGV do delJob(ARGV[i]) end
return n`;

// Drops delayed jobs that are no longer needed (the expiry of a hold just confirmed or
// cancelled), wherever they sit in the delayed set. One that has already been promoted is left
// alone: it runs, finds its booking decided and does nothing.
const DROP_DELAYED = `${DEL_JOB}
local n = 0
for i = 2, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    n = n + 1
    delJob(ARGV[i])
  end
end
return n`;

/** Where a command waits in its show's queue: the wait list, the prioritized set (holds) or the delayed set. */
export type QueuedState = 'wait' | 'prioritized' | 'delayed';

/**
 * `wait`/`prioritized`: jobs a batch decided, which must be the next ones due, oldest first.
 * `delayed`: delayed jobs to drop wherever they are (missing ones are skipped).
 */
export type RetireJobs = (showId: string, state: QueuedState, jobIds: readonly string[]) => Promise<void>;

/** Takes jobs that a batch already decided out of their show's queue (see processors/shared.ts). */
export function createRetireJobs(redis: Redis, queues: ShowQueues): RetireJobs {
  redis.defineCommand('bkRetireList', { numberOfKeys: 1, lua: RETIRE_FROM_LIST });
  redis.defineCommand('bkRetireSet', { numberOfKeys: 1, lua: RETIRE_FROM_SET });
  redis.defineCommand('bkDropDelayed', { numberOfKeys: 1, lua: DROP_DELAYED });
  type Retire = (key: string, jobKeyPrefix: string, ...ids: string[]) => Promise<number>;
  const r = redis as Redis & { bkRetireList: Retire; bkRetireSet: Retire; bkDropDelayed: Retire };
  return async (showId, state, ids) => {
    if (ids.length === 0) return;
    const queue = queues.get(showId);
    if (state === 'delayed') {
      await r.bkDropDelayed(queue.keys.delayed!, queue.toKey(''), ...ids);
      return;
    }
    const retire = state === 'wait' ? r.bkRetireList.bind(r) : r.bkRetireSet.bind(r);
    const retired = await retire(queue.keys[state]!, queue.toKey(''), ...ids);
    if (retired === 0) await Promise.all(ids.map((id) => queue.remove(id)));
  };
}
