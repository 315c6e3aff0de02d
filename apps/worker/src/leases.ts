import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '@booking/contracts';

// Takes (or keeps) one show's lease for this process: 0 when it is ours now, else how many ms
// another process still holds it. One key per call, so shows may live on different cluster slots.
const CLAIM = `
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 0
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 1 then return 1 end
return ttl`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Which worker process has a show's queue attached. With strict FIFO only one process at a time
 * may take a show's commands: drained shows (DrainShows) rest on the lease for it, since their
 * jobs never go through BullMQ's active state; a show handed to a BullMQ worker rests on BullMQ's
 * global concurrency as well, and the lease spares other processes' workers the wake-ups, fetch
 * attempts and stalled-job checks of a queue they could only wait on.
 *
 * A lease that lapses (a process stalled past a whole term) lets another process in, as an
 * expired job lock lets another BullMQ worker take a job: the stalled one takes no new round
 * once a third of the term is gone unrenewed, and lets the show go when it finds the lease
 * taken. A process that dies holds its shows until the term runs out.
 */
type LeaseRedis = Redis & {
  bkLeaseClaim(key: string, owner: string, ttlMs: number): Promise<number>;
  bkLeaseRelease(key: string, owner: string): Promise<number>;
};

export class ShowLeases {
  readonly #redis: LeaseRedis;
  readonly #keys: RedisKeys;
  readonly #owner = randomUUID();
  readonly termMs: number;

  constructor(redis: Redis, keys: RedisKeys, termMs: number) {
    redis.defineCommand('bkLeaseClaim', { numberOfKeys: 1, lua: CLAIM });
    redis.defineCommand('bkLeaseRelease', { numberOfKeys: 1, lua: RELEASE });
    this.#redis = redis as LeaseRedis;
    this.#keys = keys;
    this.termMs = termMs;
  }

  /** Claims or renews each show's lease; per show, 0 if it is ours, else ms until another's runs out. */
  claim(showIds: readonly string[]): Promise<number[]> {
    return Promise.all(showIds.map((id) => this.#redis.bkLeaseClaim(this.#keys.showLease(id), this.#owner, this.termMs)));
  }

  /** Gives up this process's leases of these shows (another's is left alone). */
  async release(showIds: readonly string[]): Promise<void> {
    await Promise.all(showIds.map((id) => this.#redis.bkLeaseRelease(this.#keys.showLease(id), this.#owner)));
  }
}
