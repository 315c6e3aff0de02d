import { QueueKeys, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { showQueueName, type RedisKeys, type ShowQueues } from '@booking/contracts';
import { DrainShows } from './drain.js';
import { ShowLeases } from './leases.js';
import type { QueueDepth, WorkerMetrics } from './metrics.js';
import type { DueJobs, TakeDue } from './peek.js';
import type { DrainOutcome } from './processors/drain.js';

export interface ShowWorkersOptions {
  /** Commands connection (shared by the queues and every attached worker's non-blocking calls). */
  redis: Redis;
  /** A separate connection for SUBSCRIBE. */
  subscriber: Redis;
  queues: ShowQueues;
  keys: RedisKeys;
  prefix: string;
  processor: (job: Job, token?: string) => Promise<unknown>;
  log: Logger;
  showConcurrency: number;
  idleMs: number;
  lockMs: number;
  /** How often the due list is polled (wake messages make it faster still). */
  pollMs?: number;
  /** Its scrapes read shows attached and queue depths from here (see queueDepths). */
  metrics?: WorkerMetrics;
  /**
   * Drain mode (DrainShows), used with strict FIFO (showConcurrency 1, where shows are leased):
   * attached shows are drained in rounds, and a show gets a BullMQ worker only when its drain
   * hands it over. Absent, every attached show gets a BullMQ worker.
   */
  drain?: {
    takeDue: TakeDue;
    drainShow: (showId: string, due: DueJobs) => Promise<DrainOutcome>;
    /** True when `err` means Postgres is unreachable (DbGate.report). */
    report: (err: unknown) => boolean;
    batchSize: number;
  };
}

/** Leases are renewed this many times per term. */
const RENEWALS_PER_TERM = 3;

interface Attached {
  /** Null while the show is drained (DrainShows). */
  worker: Worker | null;
  /** When this process last claimed or renewed the show's lease (the claim's sending time). */
  leasedAt: number;
  running: number;
  lastActive: number;
}

/**
 * Attaches a show's queue when the show has work and lets it go when idle, so thousands of
 * shows cost nothing while they are quiet.
 *
 * `activeShows` is a sorted set showId → the time a worker must next look at the show: the API
 * sets it to "now" with every command; a worker letting an idle show go sets it to the show's
 * next delayed job (a hold's expiry) or removes it. Every worker process polls the due entries
 * and attaches. With strict FIFO a show is leased to one process at a time, which drains it in
 * rounds (DrainShows) and starts a BullMQ worker for it only when the drain hands it over; else
 * every attached show gets a BullMQ worker, and global concurrency bounds a show's jobs in flight.
 */
export class ShowWorkers {
  readonly #o: ShowWorkersOptions;
  readonly #attached = new Map<string, Attached>();
  readonly #attaching = new Map<string, Promise<void>>();
  /** With strict FIFO only (see ShowLeases): with SHOW_CONCURRENCY > 1 processes share a show. */
  readonly #leases: ShowLeases | null;
  readonly #drain: DrainShows | null;
  /** Shows another process has attached → when to ask again (wake-ups and polls skip them till then). */
  readonly #elsewhere = new Map<string, number>();
  #renewedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;
  #paused = false;

  constructor(opts: ShowWorkersOptions) {
    this.#o = opts;
    this.#leases = opts.showConcurrency === 1 ? new ShowLeases(opts.redis, opts.keys, opts.lockMs) : null;
    this.#drain =
      this.#leases && opts.drain
        ? new DrainShows({
            ...opts.drain,
            log: opts.log,
            idlePollMs: opts.pollMs ?? 100,
            onHandOver: (showId) => void this.#handOver(showId),
            // A round may start while the lease has a third of its term left: a process stalled
            // past its renewals takes no further round on a show another process may have by now.
            mayDrain: (showId) => Date.now() - (this.#attached.get(showId)?.leasedAt ?? 0) < (this.#leases!.termMs * 2) / 3,
          })
        : null;
    opts.metrics?.trackShows(this);
  }

  get attachedCount() {
    return this.#attached.size;
  }

  /** Whether this process has the show attached (drained or with a BullMQ worker). */
  isAttached(showId: string): boolean {
    return this.#attached.has(showId);
  }

  async start(): Promise<void> {
    const { subscriber, keys } = this.#o;
    subscriber.on('message', (channel: string, showId: string) => {
      if (channel === keys.wakeChannel) void this.#attach(showId);
    });
    await subscriber.subscribe(keys.wakeChannel);
    await this.#tick();
    this.#timer = setInterval(() => void this.#tick(), this.#o.pollMs ?? 100);
  }

  async #tick(): Promise<void> {
    if (this.#closing) return;
    try {
      const due = await this.#o.redis.zrangebyscore(this.#o.keys.activeShows, '-inf', Date.now(), 'LIMIT', 0, 500);
      for (const showId of due) if (!this.#attached.has(showId)) void this.#attach(showId);
      const now = Date.now();
      for (const [showId, a] of this.#attached) {
        const idleMs = a.worker ? (a.running === 0 ? now - a.lastActive : 0) : (this.#drain?.idleMs(showId) ?? 0);
        if (idleMs > this.#o.idleMs) void this.#detach(showId);
      }
      for (const [showId, until] of this.#elsewhere) if (until <= now) this.#elsewhere.delete(showId);
      if (this.#leases && !this.#paused && now - this.#renewedAt >= this.#leases.termMs / RENEWALS_PER_TERM) {
        this.#renewedAt = now;
        await this.#renewLeases();
      }
    } catch (err) {
      this.#o.log.warn({ err }, 'polling active shows failed');
    }
  }

  /** Keeps this process's leases; a show whose lease another process took meanwhile is let go. */
  async #renewLeases(): Promise<void> {
    const showIds = [...this.#attached.keys()];
    if (!this.#leases || showIds.length === 0) return;
    const claimedAt = Date.now();
    const held = await this.#leases.claim(showIds);
    showIds.forEach((showId, i) => {
      const a = this.#attached.get(showId);
      if (a && held[i] === 0) a.leasedAt = claimedAt;
      if (held[i]! > 0) {
        this.#o.log.warn({ showId }, 'another worker process took over this show (our lease had lapsed); letting it go');
        void this.#detach(showId);
      }
    });
    this.#drain?.kick();
  }

  #attach(showId: string): Promise<void> {
    if (this.#drain?.has(showId)) this.#drain.kick();
    if (this.#closing || this.#paused || this.#attached.has(showId)) return Promise.resolve();
    if ((this.#elsewhere.get(showId) ?? 0) > Date.now()) return Promise.resolve();
    const pending = this.#attaching.get(showId);
    if (pending) return pending;
    const p = this.#doAttach(showId).finally(() => this.#attaching.delete(showId));
    this.#attaching.set(showId, p);
    return p;
  }

  async #doAttach(showId: string): Promise<void> {
    const { log } = this.#o;
    try {
      const claimedAt = Date.now();
      if (this.#leases) {
        const [heldElsewhereMs] = await this.#leases.claim([showId]);
        if (heldElsewhereMs! > 0) {
          // Ask again soon: the owner may let the show go long before its lease would run out.
          this.#elsewhere.set(showId, Date.now() + Math.min(heldElsewhereMs!, 5 * (this.#o.pollMs ?? 100)));
          return;
        }
        if (this.#closing || this.#paused) {
          await this.#leases.release([showId]);
          return;
        }
      }
      const a: Attached = { worker: null, leasedAt: claimedAt, running: 0, lastActive: Date.now() };
      this.#attached.set(showId, a);
      if (this.#drain) this.#drain.add(showId);
      else await this.#startWorker(showId, a);
      log.debug({ showId, drained: this.#drain !== null }, 'attached show queue');
    } catch (err) {
      log.warn({ err, showId }, 'could not attach show queue');
    }
  }

  /** A drained show that needs what only a BullMQ worker does (see drainShow). */
  async #handOver(showId: string): Promise<void> {
    const a = this.#attached.get(showId);
    if (!a || a.worker || this.#closing) return;
    try {
      await this.#startWorker(showId, a);
      this.#o.log.debug({ showId }, 'drained show handed over to a BullMQ worker');
    } catch (err) {
      this.#o.log.warn({ err, showId }, 'could not start a worker for the show; it will be picked up again');
      this.#attached.delete(showId);
      await this.#o.redis.zadd(this.#o.keys.activeShows, Date.now(), showId).catch(() => {});
      await this.#leases?.release([showId]).catch(() => {});
    }
  }

  /** A BullMQ worker for the show's queue, unless the show was let go meanwhile. */
  async #startWorker(showId: string, a: Attached): Promise<void> {
    const { log } = this.#o;
    // Global concurrency is a queue setting: N = 1 gives strict FIFO across every worker process.
    await this.#o.queues.get(showId).setGlobalConcurrency(this.#o.showConcurrency);
    const worker = new Worker(showQueueName(showId), this.#o.processor, {
      connection: this.#o.redis,
      prefix: this.#o.prefix,
      concurrency: this.#o.showConcurrency,
      lockDuration: this.#o.lockMs,
      stalledInterval: this.#o.lockMs,
      // A job cut off by kill -9 comes back as stalled; allow that a few times before failing it.
      maxStalledCount: 10,
      // An idle worker re-polls every drainDelay s; a new job wakes it at once and a delayed
      // one shortens the wait, so a long delay costs no latency, only fewer idle polls.
      drainDelay: 5,
    });
    if (this.#attached.get(showId) !== a || this.#closing) {
      await worker.close();
      return;
    }
    a.worker = worker;
    a.lastActive = Date.now();
    if (this.#paused) await worker.pause(true);
    worker.on('active', () => {
      a.running++;
      a.lastActive = Date.now();
    });
    const settled = () => {
      a.running = Math.max(0, a.running - 1);
      a.lastActive = Date.now();
    };
    worker.on('completed', settled);
    worker.on('failed', (job, err) => {
      settled();
      const final = !job || job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
      log[final ? 'error' : 'warn']({ err, jobId: job?.id, showId, attempts: job?.attemptsMade }, final ? 'job failed for good' : 'job failed, will retry');
    });
    worker.on('error', (err) => log.error({ err, showId }, 'worker error'));
  }

  /**
   * Lets an idle show go. Order matters: first record when the show next needs a worker (its
   * earliest delayed job) or remove it, then close, then look for jobs that arrived meanwhile;
   * an API that added a job after our first step has already set the entry back to "now".
   */
  async #detach(showId: string): Promise<void> {
    const a = this.#attached.get(showId);
    if (!a || this.#closing) return;
    this.#attached.delete(showId);
    const { redis, keys } = this.#o;
    const queue = this.#o.queues.get(showId);
    try {
      const nextDue = await this.#nextDelayed(showId);
      if (nextDue === null) await redis.zrem(keys.activeShows, showId);
      else await redis.zadd(keys.activeShows, nextDue, showId);
      if (a.worker) await a.worker.close();
      else await this.#drain?.remove(showId);
      const counts = await queue.getJobCounts('wait', 'prioritized', 'active');
      if (Object.values(counts).some((n) => n > 0)) await redis.zadd(keys.activeShows, Date.now(), showId);
      // Unless a wake-up attached the show again meanwhile (the lease is still ours, and in use).
      if (!this.#attached.has(showId) && !this.#attaching.has(showId)) await this.#leases?.release([showId]);
      this.#o.log.debug({ showId, nextDue }, 'let idle show queue go');
    } catch (err) {
      this.#o.log.warn({ err, showId }, 'detaching show queue failed; it will be picked up again');
      await redis.zadd(keys.activeShows, Date.now(), showId).catch(() => {});
    }
  }

  /** When the show's earliest delayed job is due (ms), or null. BullMQ scores are ms × 4096 + counter. */
  async #nextDelayed(showId: string): Promise<number | null> {
    const queue = this.#o.queues.get(showId);
    const [, score] = await this.#o.redis.zrange(queue.keys.delayed!, '0', '0', 'WITHSCORES');
    return score === undefined ? null : Math.floor(Number(score) / 4096);
  }

  /**
   * Jobs per state in the queues of the shows this process is attached to and of up to
   * `maxShows` shows in the due list (soonest first: busy shows, then the next hold expiries),
   * read in one pipelined round trip. Every worker process sees the same queues.
   */
  async queueDepths(maxShows = 1000): Promise<QueueDepth[]> {
    const { redis, keys, prefix } = this.#o;
    if (redis.status !== 'ready') throw new Error(`redis is ${redis.status}`);
    const due = await redis.zrange(keys.activeShows, '0', String(maxShows - 1));
    const showIds = [...new Set([...this.#attached.keys(), ...due])].slice(0, maxShows);
    const qk = new QueueKeys(prefix);
    const pipeline = redis.pipeline();
    for (const showId of showIds) {
      const key = (type: string) => qk.toKey(showQueueName(showId), type);
      pipeline.llen(key('wait')).llen(key('paused')).zcard(key('prioritized')).llen(key('active')).zcard(key('delayed'));
    }
    const replies = (await pipeline.exec()) ?? [];
    const n = (i: number) => {
      const [err, value] = replies[i] ?? [null, 0];
      if (err) throw err;
      return Number(value);
    };
    return showIds.map((showId, s) => ({
      showId,
      waiting: n(s * 5) + n(s * 5 + 1) + n(s * 5 + 2),
      active: n(s * 5 + 3),
      delayed: n(s * 5 + 4),
    }));
  }

  /**
   * Stops taking jobs (Postgres is away): attached queues stop fetching, active jobs stay
   * active, no show is attached until resume. Due shows wait in activeShows meanwhile. Leases
   * are not renewed while paused: if only this process lost Postgres, another one takes its shows
   * over when they run out, and on resume this one lets those go.
   */
  async pause(): Promise<void> {
    this.#paused = true;
    this.#drain?.pause();
    await Promise.all([...this.#attached.values()].map((a) => a.worker?.pause(true)));
  }

  async resume(): Promise<void> {
    if (!this.#paused) return;
    this.#paused = false;
    this.#renewedAt = Date.now();
    await this.#renewLeases().catch((err: unknown) => this.#o.log.warn({ err }, 'renewing show leases failed'));
    for (const a of this.#attached.values()) a.worker?.resume();
    this.#drain?.resume();
    await this.#tick();
  }

  /** Stops taking jobs, lets the active ones finish, closes every worker. */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#timer) clearInterval(this.#timer);
    await Promise.allSettled(this.#attaching.values());
    await Promise.all([this.#drain?.close(), ...[...this.#attached.values()].map((a) => a.worker?.close())]);
    // Other processes take these shows over at once, not when the leases run out.
    await this.#leases?.release([...this.#attached.keys()]).catch((err: unknown) => this.#o.log.warn({ err }, 'releasing show leases failed; they run out on their own'));
    this.#attached.clear();
  }
}
