import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { defaultJobOptions, jobId, jobOptionsByName, showQueueName, type JobName, type JobPayloads } from './catalog.js';

/**
 * Adds catalog jobs to the per-show queues. Queue objects share the caller's Redis connection and
 * are kept for the most recently used shows only, so thousands of shows cost no connections.
 */
export class ShowQueues {
  readonly #queues = new Map<string, Queue>();

  readonly connection: Redis;
  readonly prefix: string;
  readonly maxOpen: number;

  constructor(connection: Redis, prefix: string, maxOpen = 500) {
    this.connection = connection;
    this.prefix = prefix;
    this.maxOpen = maxOpen;
  }

  get(showId: string): Queue {
    let queue = this.#queues.get(showId);
    if (queue) {
      this.#queues.delete(showId); // re-insert: Map order is our LRU order
    } else {
      queue = new Queue(showQueueName(showId), { connection: this.connection, prefix: this.prefix });
      queue.on('error', () => {}); // the shared connection reports its own errors
      if (this.#queues.size >= this.maxOpen) {
        const [oldestId, oldest] = this.#queues.entries().next().value as [string, Queue];
        this.#queues.delete(oldestId);
        void oldest.close();
      }
    }
    this.#queues.set(showId, queue);
    return queue;
  }

  add<N extends JobName>(name: N, payload: JobPayloads[N] & { showId: string }, opts: { delay?: number } = {}): Promise<Job> {
    const id = (jobId[name] as (p: JobPayloads[N]) => string)(payload);
    return this.get(payload.showId).add(name, payload, { ...defaultJobOptions, ...jobOptionsByName[name], jobId: id, ...opts });
  }

  async close(): Promise<void> {
    const queues = [...this.#queues.values()];
    this.#queues.clear();
    await Promise.all(queues.map((q) => q.close()));
  }
}
