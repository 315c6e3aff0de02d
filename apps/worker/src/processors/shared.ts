import { Compile } from 'typebox/compile';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { JobSchemas, waitingStateByName, type Booking, type JobName, type JobPayloads, type PaymentProvider, type ShowQueues } from '@booking/contracts';
import { InvalidCommand, inTransaction, isDbUnreachable, type Executor, type Sql } from '@booking/db';
import type { Mergeable, Transact } from '../group-commit.js';
import type { WorkerMetrics } from '../metrics.js';
import type { PeekedJob, PeekJobs } from '../peek.js';
import type { RetireJobs } from '../retire.js';
import type { StatusPublisher } from '../status.js';

/** What processors need; passed in so tests call processors directly with real clients. */
export interface ProcessorDeps {
  sql: Sql;
  /**
   * Runs a command's transaction work: grouped with other shows' work (GroupCommit) in the
   * worker; absent, every job gets a transaction of its own.
   */
  transact?: Transact;
  payments: PaymentProvider;
  status: StatusPublisher;
  queues: ShowQueues;
  log: Logger;
  /**
   * How many consecutive commands one job may decide in a single transaction (holds; or
   * confirms, cancels and expiries). 1 turns batching off; it is only safe with one job of a show in flight at a time.
   */
  batchSize: number;
  /** The jobs next due in a show's queue, without BullMQ's full read of each. */
  peekJobs: PeekJobs;
  /** Removes jobs a batch has decided from their show's queue (oldest first). */
  retireJobs: RetireJobs;
  /** Decisions and releases are recorded here when given (metrics off: absent). */
  metrics?: WorkerMetrics;
}

const validators = Object.fromEntries(Object.entries(JobSchemas).map(([name, schema]) => [name, Compile(schema)])) as {
  [K in JobName]: ReturnType<typeof Compile<(typeof JobSchemas)[K]>>;
};

/** The deps' transaction runner, or one transaction per call. */
const transactOf = (deps: ProcessorDeps): Transact => deps.transact ?? ((_showId, work) => inTransaction(deps.sql, work));

/**
 * How a kind of command is decided: one show's batch alone (`one`), or several shows' batches at
 * once (`many`, what GroupCommit merges pieces of the same `key` with).
 */
export interface Decider<C, D> extends Omit<Mergeable<C[], D[]>, 'input'> {
  one: (tx: Executor, cmds: C[]) => Promise<D[]>;
}

/** A show's batch decided in a transaction: its own, or merged with other shows' of its kind. */
export const decide = <C, D>(deps: ProcessorDeps, showId: string, decider: Decider<C, D>, cmds: C[]): Promise<D[]> =>
  transactOf(deps)(showId, (tx) => decider.one(tx, cmds), { key: decider.key, input: cmds, many: decider.many });

/** A payload that does not match the catalog can never succeed: fail it once, loudly. */
export function parsePayload<N extends JobName>(name: N, job: Job): JobPayloads[N] {
  const check = validators[name];
  if (!check.Check(job.data)) {
    const errors = [...check.Errors(job.data)].slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}`);
    throw new UnrecoverableError(`malformed ${name} job ${job.id}: ${errors.join('; ')}`);
  }
  return job.data as JobPayloads[N];
}

/** Maps errors that no retry can fix to UnrecoverableError; the rest retry with backoff. */
export async function unlessInvalid<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof InvalidCommand) throw new UnrecoverableError(err.message);
    throw err;
  }
}

/**
 * After commit: for each live hold the delayed job that releases it at expiresAt, and the status
 * documents (and their publish), sent together: one round trip, not two. Nothing reads the
 * document as proof that the expiry is scheduled; if the worker dies between commit and here,
 * the command's job runs again (it is not retired) and redoes this, all of it idempotent
 * (version guard, job id), and the sweep releases a hold whose expiry job was lost.
 */
export async function afterCommit(bookings: readonly (Booking | null)[], deps: ProcessorDeps): Promise<void> {
  const live = bookings.filter((b): b is Booking => b !== null);
  await Promise.all([
    ...live
      .filter((b) => b.status === 'HELD' && b.expiresAt)
      .map((b) => deps.queues.add('expire', { bookingId: b.id, showId: b.showId }, { delay: Math.max(0, Date.parse(b.expiresAt!) - Date.now()) })),
    ...live.map((b) => deps.status.publishBooking(b)),
  ]);
}

export interface Peeked<N extends JobName = JobName> {
  jobId: string;
  name: N;
  payload: JobPayloads[N];
}

/**
 * The commands of the given kinds waiting right behind `job` in its show's queue, oldest first,
 * up to the batch size (holds wait in the prioritized set, other commands in the wait list; see
 * jobOptionsByName). The batch stops at the first command of another kind or at a booking it
 * already names, so no command is decided ahead of one it must follow. Safe only while the show
 * runs one job at a time (global concurrency 1): then no other worker can take these jobs while
 * we decide them.
 */
export async function peekBatch<N extends JobName>(job: Job, names: readonly N[], deps: ProcessorDeps): Promise<Peeked<N>[]> {
  if (deps.batchSize <= 1) return [];
  const showId = (job.data as { showId: string }).showId;
  const waiting = await deps.peekJobs(showId, waitingStateByName[job.name as JobName], deps.batchSize - 1);
  // A batch names each booking once (two confirms of one booking are decided one after the other).
  return leadingRun(waiting, names, new Set([(job.data as { bookingId: string }).bookingId]));
}

/**
 * The commands at the front of `waiting` that can be decided together: of the given kinds, with
 * a payload that matches the catalog, each naming a booking not in `bookings` (which collects
 * them). Stops at the first that fails any of these; it is decided later, in order.
 */
export function leadingRun<N extends JobName>(waiting: readonly PeekedJob[], names: readonly N[], bookings: Set<string>): Peeked<N>[] {
  const batch: Peeked<N>[] = [];
  for (const next of waiting) {
    const name = next.name as N;
    if (!names.includes(name) || next.data === null) break;
    let payload: unknown;
    try {
      payload = JSON.parse(next.data);
    } catch {
      break;
    }
    if (!validators[name].Check(payload)) break;
    const { bookingId } = payload as { bookingId: string };
    if (bookings.has(bookingId)) break;
    bookings.add(bookingId);
    batch.push({ jobId: next.id, name, payload: payload as JobPayloads[N] });
  }
  return batch;
}

/**
 * Decides the job's command together with the peeked ones behind it, in one transaction (shared
 * with other shows' work when deps.transact groups them). If the batch fails for a reason other
 * than Postgres being away, decides the job's own command alone, so a bad neighbour cannot hold
 * it back (the neighbour then fails on its own job). Returns the decisions and the peeked jobs
 * they cover.
 */
export async function decideBatch<C, N extends JobName, D>(
  job: Job,
  deps: ProcessorDeps,
  commands: { head: C; peeked: Peeked<N>[]; of: (p: Peeked<N>) => C },
  decider: Decider<C, D>,
): Promise<{ decisions: D[]; peeked: Peeked<N>[] }> {
  const { head, peeked, of } = commands;
  const showId = (job.data as { showId: string }).showId;
  const run = (cmds: C[]) => unlessInvalid(() => decide(deps, showId, decider, cmds));
  try {
    return { decisions: await run([head, ...peeked.map(of)]), peeked };
  } catch (err) {
    if (peeked.length === 0 || isDbUnreachable(err)) throw err;
    deps.log.warn({ err, jobId: job.id, batch: peeked.length + 1 }, 'batch failed; deciding the command alone');
    return { decisions: await run([head]), peeked: [] };
  }
}

/**
 * Takes the peeked jobs out of the queue once their decisions are committed and published: each
 * command was decided and its client told, one by one. Running them as jobs too would cost a
 * full fetch/finish cycle each, one after another, for nothing. If the worker dies before this,
 * they stay queued and simply find their booking decided (every command is idempotent).
 */
export async function retirePeeked(job: Job, peeked: readonly Peeked[], deps: ProcessorDeps): Promise<void> {
  if (peeked.length === 0) return;
  await deps.retireJobs((job.data as { showId: string }).showId, waitingStateByName[job.name as JobName], peeked.map((p) => p.jobId)).catch((err: unknown) => {
    deps.log.warn({ err, jobId: job.id }, 'could not retire batched jobs; they will run as no-ops');
  });
}
