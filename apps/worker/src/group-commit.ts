import type { Logger } from 'pino';
import { inTransaction, isDbUnreachable, settleInLockstep, type Executor, type Sql } from '@booking/db';

/** Work that runs inside a transaction it shares with others; it must not commit or roll back. */
export type TxWork<T> = (tx: Executor) => Promise<T>;

/**
 * Work that other shows' work of the same kind can join: pieces with one `key` that share a
 * transaction make a single call of `many`, with every piece's input in turn, which answers each
 * in the same order. One statement then serves them all where each would send its own.
 */
export interface Mergeable<I, T> {
  key: string;
  input: I;
  many: (tx: Executor, inputs: I[]) => Promise<T[]>;
}

/**
 * Runs a show's work in a transaction: alone (`inTransaction`, with `work`) or grouped with other
 * shows' work (merged through `merge` when given), never with other work of the same show.
 */
export type Transact = <T, I = never>(showId: string, work: TxWork<T>, merge?: Mergeable<I, T>) => Promise<T>;

export interface GroupCommitOptions {
  sql: Sql;
  log: Logger;
  /** Transactions in flight at once; work that arrives meanwhile waits and shares the next one. */
  maxInFlight: number;
  /** Pieces of work one transaction may carry. */
  maxGroup: number;
  /** Called with the size of every group committed (metrics). */
  onCommit?: (size: number) => void;
}

interface Pending {
  showId: string;
  work: TxWork<unknown>;
  merge: Mergeable<unknown, unknown> | undefined;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit across shows. Each show's queue runs one job at a time, so with many shows busy a
 * worker process has many small jobs in flight, each wanting a transaction of its own: a pool
 * connection, five or six round trips and a commit (an fsync) for one or two commands, and far
 * more transactions than pool connections. Here the work of every job that asks while the
 * previous transactions are still running goes into the next transaction together: the
 * statements of different shows are pipelined on one connection and share one commit.
 *
 * Different shows touch different rows (seats and bookings belong to one show), so grouping
 * them cannot make one wait for another's locks, and a group never holds two pieces of one show.
 * The pieces' statements are sent in lockstep (settleInLockstep): one socket write per step of
 * the group, not one per step of each piece. Pieces of one kind (holds; confirms, cancels and
 * expiries) are merged: one call decides all their shows' commands with the statements of one
 * piece (Mergeable), where each piece would send its own five or six, mostly for a single
 * command each when many shows are busy.
 * When a group fails for a reason that is not the database being unreachable, each piece runs
 * again alone, so one bad command (a show that does not exist, a value Postgres refuses) fails
 * only its own job. Seat contention and deadlocks retry the whole group, as for one transaction.
 * With a single job asking at a time (one hot show) a group is that job alone: nothing changes.
 */
export class GroupCommit {
  readonly #o: GroupCommitOptions;
  #queue: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(opts: GroupCommitOptions) {
    this.#o = opts;
  }

  readonly run: Transact = <T, I = never>(showId: string, work: TxWork<T>, merge?: Mergeable<I, T>) =>
    new Promise<T>((resolve, reject) => {
      this.#queue.push({ showId, work, merge: merge as Mergeable<unknown, unknown> | undefined, resolve: resolve as (v: unknown) => void, reject });
      this.#schedule();
    });

  // Started on the next turn of the event loop, so the jobs that ask in the same turn (one
  // Redis reply can start many) travel together.
  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#o.maxInFlight || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      while (this.#inFlight < this.#o.maxInFlight && this.#queue.length > 0) {
        const group = this.#takeGroup();
        this.#inFlight++;
        void this.#commit(group).finally(() => {
          this.#inFlight--;
          this.#schedule();
        });
      }
    });
  }

  /**
   * The oldest waiting work, at most one piece per show: two holds of one show in one
   * transaction would not skip each other's claimed seats (a transaction never skips its own
   * locks). That only happens with SHOW_CONCURRENCY > 1; the second waits for the next group.
   */
  #takeGroup(): Pending[] {
    const group: Pending[] = [];
    const shows = new Set<string>();
    const rest: Pending[] = [];
    for (const p of this.#queue) {
      if (group.length < this.#o.maxGroup && !shows.has(p.showId)) {
        shows.add(p.showId);
        group.push(p);
      } else rest.push(p);
    }
    this.#queue = rest;
    return group;
  }

  async #commit(group: Pending[]): Promise<void> {
    this.#o.onCommit?.(group.length);
    if (group.length === 1) {
      const [only] = group as [Pending];
      return inTransaction(this.#o.sql, only.work).then(only.resolve, only.reject);
    }
    const { order, works } = plan(group);
    let results: unknown[];
    try {
      results = await inTransaction(this.#o.sql, (tx) => settleInLockstep(tx, works).then((rs) => rs.flat()));
    } catch (err) {
      if (isDbUnreachable(err)) {
        for (const p of group) p.reject(err);
        return;
      }
      this.#o.log.debug({ err, group: group.length }, 'group transaction failed; running its work one piece at a time');
      await Promise.all(group.map((p) => inTransaction(this.#o.sql, p.work).then(p.resolve, p.reject)));
      return;
    }
    order.forEach((p, i) => p.resolve(results[i]));
  }
}

/**
 * A group as the transaction runs it: one work per unmerged piece and one per merge key, each
 * answering a list, and the pieces in the order of those answers once flattened.
 */
function plan(group: readonly Pending[]): { order: Pending[]; works: TxWork<unknown[]>[] } {
  const alone = group.filter((p) => !p.merge);
  const byKey = new Map<string, Pending[]>();
  for (const p of group) if (p.merge) byKey.set(p.merge.key, [...(byKey.get(p.merge.key) ?? []), p]);
  const works: TxWork<unknown[]>[] = [
    ...alone.map((p) => (tx: Executor) => p.work(tx).then((r) => [r])),
    ...[...byKey].map(([key, pieces]) => async (tx: Executor) => {
      const inputs = pieces.map((p) => p.merge!.input);
      const out = await pieces[0]!.merge!.many(tx, inputs);
      if (out.length !== inputs.length) throw new Error(`merged work ${key} answered ${out.length} of ${inputs.length} pieces`);
      return out;
    }),
  ];
  return { order: [...alone, ...[...byKey.values()].flat()], works };
}
