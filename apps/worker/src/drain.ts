import type { Logger } from 'pino';
import type { DueJobs, TakeDue } from './peek.js';
import type { DrainOutcome } from './processors/drain.js';

export interface DrainShowsOptions {
  takeDue: TakeDue;
  /** Decides a show's due commands (processors/drain.ts). */
  drainShow: (showId: string, due: DueJobs) => Promise<DrainOutcome>;
  /** A show that needs a BullMQ worker: it has left the drain by the time this is called. */
  onHandOver: (showId: string) => void;
  /** True when `err` means Postgres is unreachable (DbGate.report: it pauses the workers). */
  report: (err: unknown) => boolean;
  log: Logger;
  /** Commands one show may have decided in one round. */
  batchSize: number;
  /** How long to wait after a round that found nothing, while shows are quiet. */
  idlePollMs: number;
  /** The same while any show had work within the last second (commands come in bursts). */
  busyPollMs?: number;
  /** Rounds in flight at once, over different shows. */
  maxRounds?: number;
  /**
   * Whether this process may take the show's commands now: its lease has enough of its term
   * left to cover a round. A show that may not sits out until it is kicked again.
   */
  mayDrain?: (showId: string) => boolean;
}

interface Drained {
  lastActive: number;
  /** When its earliest delayed job (a hold's expiry) is due, as of its last round. */
  nextDelayedAt: number;
  /** The round the show is in, if any. */
  round: Promise<void> | null;
  /** When a round last read its queue, not just its marker (0: never, so the next round does). */
  readAt: number;
}

/**
 * A show is read at least this often whatever its marker says (see TakeDue): should a job ever
 * come without one (BullMQ sets it on every add, pause and resume today), it waits this long, not
 * forever. A show new to the drain is read at once: its marker may have gone to the BullMQ worker
 * it had.
 */
const REREAD_EVERY_MS = 1000;

/**
 * The shows this process holds a lease on, drained in rounds instead of by a BullMQ worker each.
 * A round reads the due commands of every show not already in a round with one script
 * (TakeDue), decides each show's batch (their transactions share commits through GroupCommit),
 * publishes, and retires the jobs; then the next round starts at once. With many shows busy a
 * round covers all of them for the Redis round trips a BullMQ worker spends on one job (move to
 * active, peek, retire, move to finished, and a blocking read on a connection of its own).
 *
 * One show is in at most one round at a time, and only this process takes its commands while
 * it holds the show's lease: that, not BullMQ's global concurrency, keeps each show first in,
 * first out here. A lease that lapses (a process stalled for a whole lock term) lets another
 * process in, as an expired job lock lets another BullMQ worker take a job; ShowWorkers lets the
 * show go when it finds its lease taken.
 */
export class DrainShows {
  readonly #o: Required<DrainShowsOptions>;
  readonly #shows = new Map<string, Drained>();
  readonly #rounds = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #busyAt = 0;
  #paused = false;
  #closed = false;

  constructor(opts: DrainShowsOptions) {
    this.#o = { busyPollMs: 5, maxRounds: 2, mayDrain: () => true, ...opts };
  }

  has(showId: string): boolean {
    return this.#shows.has(showId);
  }

  add(showId: string): void {
    if (this.#closed || this.#shows.has(showId)) return;
    this.#shows.set(showId, { lastActive: Date.now(), nextDelayedAt: Infinity, round: null, readAt: 0 });
    this.kick();
  }

  /** How long the show has had no commands (0 while it is in a round). */
  idleMs(showId: string): number {
    const s = this.#shows.get(showId);
    return !s || s.round ? 0 : Date.now() - s.lastActive;
  }

  /** Leaves the drain; resolves once the show's round in flight, if any, has finished. */
  async remove(showId: string): Promise<void> {
    const s = this.#shows.get(showId);
    this.#shows.delete(showId);
    await s?.round;
  }

  /** Starts a round now (new commands, a show added, Postgres back). */
  kick(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#startRounds();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.kick();
  }

  /** No new rounds; resolves when those in flight have finished. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await Promise.allSettled([...this.#rounds]);
  }

  #startRounds(): void {
    while (!this.#paused && !this.#closed && this.#rounds.size < this.#o.maxRounds) {
      const free = [...this.#shows].filter(([id, s]) => !s.round && this.#o.mayDrain(id)).map(([id]) => id);
      if (free.length === 0) return;
      const round: Promise<void> = this.#round(free).finally(() => {
        this.#rounds.delete(round);
        for (const id of free) {
          const s = this.#shows.get(id);
          if (s?.round === round) s.round = null;
        }
      });
      this.#rounds.add(round);
      for (const id of free) this.#shows.get(id)!.round = round;
    }
  }

  async #round(showIds: string[]): Promise<void> {
    let found = false;
    try {
      const started = Date.now();
      const reread = new Set(
        showIds.filter((id) => {
          const s = this.#shows.get(id);
          return s && (s.nextDelayedAt <= started || started - s.readAt >= REREAD_EVERY_MS);
        }),
      );
      const due = await this.#o.takeDue(showIds, this.#o.batchSize, reread);
      const now = Date.now();
      await Promise.all(
        due.map(async (d, i) => {
          const showId = showIds[i]!;
          const s = this.#shows.get(showId);
          if (s && d.state !== 'unread') {
            s.nextDelayedAt = d.nextDelayedAt ?? Infinity;
            s.readAt = started;
          }
          if (d.jobs.length === 0 && d.state !== 'active') return;
          found = true;
          if (s) s.lastActive = now;
          this.#busyAt = now;
          let outcome: DrainOutcome;
          try {
            outcome = await this.#o.drainShow(showId, d);
          } catch (err) {
            // Postgres away: the gate pauses this process; the commands stay queued meanwhile.
            if (this.#o.report(err)) return;
            this.#o.log.warn({ err, showId }, 'draining the show failed; a BullMQ worker takes its queue over');
            outcome = 'handOver';
          }
          if (outcome === 'handOver' && this.#shows.delete(showId)) this.#o.onHandOver(showId);
        }),
      );
    } catch (err) {
      this.#o.log.warn({ err }, 'reading due commands failed');
    } finally {
      // After this round's finally has freed its shows (a microtask later).
      setImmediate(() => this.#afterRound(found));
    }
  }

  #afterRound(found: boolean): void {
    if (found) return this.kick();
    if (this.#timer || this.#paused || this.#closed || this.#rounds.size > 0) return;
    const now = Date.now();
    const poll = now - this.#busyAt < 1000 ? this.#o.busyPollMs : this.#o.idlePollMs;
    let nextDelayedAt = Infinity;
    for (const s of this.#shows.values()) nextDelayedAt = Math.min(nextDelayedAt, s.nextDelayedAt);
    // One already due is in a round's reach but was not taken (its queue is paused): no hurry.
    const wait = nextDelayedAt > now ? Math.min(poll, nextDelayedAt - now) : poll;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#startRounds();
    }, wait);
  }
}
