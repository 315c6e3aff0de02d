import { WaitingError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { isDbUnreachable } from '@booking/db';

export interface DbGateOptions {
  /** Resolves when Postgres answers a query. */
  ping: () => Promise<void>;
  log: Logger;
  /** First probe after an outage is noticed; the interval then doubles up to maxProbeMs. */
  probeMs?: number;
  maxProbeMs?: number;
}

type Listener = (up: boolean) => void;

/** The worker is shutting down while Postgres is away: hand the job back to its queue. */
class GateClosed extends Error {}

/**
 * Whether this worker believes Postgres is reachable. A job that finds it unreachable does not
 * fail (that would spend its retries, and after the last one leave its booking PENDING for
 * good): it marks the gate down and waits, still active under its lock, while the gate probes
 * Postgres with backoff; listeners pause the queues meanwhile so no further jobs are taken. When
 * a probe answers, waiting jobs run again (every command is idempotent: a transaction cut off at
 * commit is found decided) and the queues resume. On shutdown, waiting jobs go back to the front
 * of their queue with no attempt spent.
 */
export class DbGate {
  readonly #o: Required<DbGateOptions>;
  #outage: { since: number; reopened: Promise<void>; reopen: () => void; fail: (err: Error) => void } | null = null;
  #listeners: Listener[] = [];
  #probe: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: DbGateOptions) {
    this.#o = { probeMs: 250, maxProbeMs: 5000, ...opts };
  }

  get up(): boolean {
    return this.#outage === null;
  }

  /** Called with false when an outage starts and true when it ends. */
  onChange(listener: Listener): void {
    this.#listeners.push(listener);
  }

  /** Resolves at once while up; otherwise when Postgres answers again (rejects on close). */
  wait(): Promise<void> {
    return this.#outage?.reopened ?? Promise.resolve();
  }

  /** An operation failed with `err`: if that means Postgres is unreachable, start an outage. */
  report(err: unknown): boolean {
    if (!isDbUnreachable(err)) return false;
    if (this.#outage || this.#closed) return true;
    let reopen!: () => void;
    let fail!: (err: Error) => void;
    const reopened = new Promise<void>((resolve, reject) => {
      reopen = resolve;
      fail = reject;
    });
    reopened.catch(() => {}); // nobody may be waiting when it is closed
    this.#outage = { since: Date.now(), reopened, reopen, fail };
    this.#o.log.error({ err }, 'postgres is unreachable: pausing the queues and holding active jobs until it answers');
    this.#emit(false);
    this.#schedule(this.#o.probeMs);
    return true;
  }

  /**
   * Runs `fn` for `job` once Postgres is up; when it fails because Postgres went away, waits
   * for it and runs it again. Other errors propagate (the job's normal retry/fail path).
   */
  async run<T>(job: Job, token: string | undefined, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        await this.wait();
      } catch (err) {
        if (!(err instanceof GateClosed)) throw err;
        return this.#handBack(job, token);
      }
      try {
        return await fn();
      } catch (err) {
        if (!this.report(err)) throw err;
        // Shutting down: no waiting for Postgres, and no retry loop either.
        if (this.#closed) return this.#handBack(job, token);
      }
    }
  }

  /** Back to the front of its queue (a prioritized hold keeps its place among equals), no attempt spent. */
  async #handBack(job: Job, token: string | undefined): Promise<never> {
    await job.moveToWait(token);
    throw new WaitingError();
  }

  /** Shutdown: stops probing; jobs still waiting for Postgres are handed back to their queues. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#probe);
    this.#outage?.fail(new GateClosed('worker is shutting down while postgres is unreachable'));
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#probe = setTimeout(() => {
      this.#o.ping().then(
        () => this.#reopen(),
        (err: unknown) => {
          this.#o.log.warn({ err: (err as Error)?.message, retryInMs: Math.min(delayMs * 2, this.#o.maxProbeMs) }, 'postgres still unreachable');
          this.#schedule(Math.min(delayMs * 2, this.#o.maxProbeMs));
        },
      );
    }, delayMs);
    this.#probe.unref();
  }

  #reopen(): void {
    const outage = this.#outage;
    if (!outage || this.#closed) return;
    this.#outage = null;
    this.#o.log.info({ downMs: Date.now() - outage.since }, 'postgres answers again: resuming the queues');
    outage.reopen();
    this.#emit(true);
  }

  #emit(up: boolean): void {
    for (const listener of this.#listeners) {
      try {
        listener(up);
      } catch (err) {
        this.#o.log.warn({ err }, 'db gate listener failed');
      }
    }
  }
}
