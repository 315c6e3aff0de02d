import { Compile } from 'typebox/compile';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { JobSchemas, jobId, waitingStateByName, type Booking, type JobName, type JobPayloads, type PaymentProvider, type ShowQueues } from '@booking/contracts';
import { InvalidCommand, inTransaction, isDbUnreachable, type Decision, type Sql } from '@booking/db';
import type { Transact } from '../group-commit.js';
import type { WorkerMetrics } from '../metrics.js';
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
   * How many consecutive commands of one kind (holds, expiries) one job may decide in a single
   * transaction. 1 turns batching off; it is only safe with one job of a show in flight at a time.
   */
  batchSize: number;
  /** Removes jobs a batch has decided from their show's queue (oldest first). */
  retireJobs: RetireJobs;
  /** Decisions and releases are recorded here when given (metrics off: absent). */
  metrics?: WorkerMetrics;
}

const validators = Object.fromEntries(Object.entries(JobSchemas).map(([name, schema]) => [name, Compile(schema)])) as {
  [K in JobName]: ReturnType<typeof Compile<(typeof JobSchemas)[K]>>;
};

/** The deps' transaction runner, or one transaction per call. */
export const transactOf = (deps: ProcessorDeps): Transact => deps.transact ?? ((_showId, work) => inTransaction(deps.sql, work));

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

export interface Peeked<P> {
  jobId: string;
  payload: P;
}

/**
 * The commands of the same kind waiting right behind `job` in its show's queue, oldest first,
 * up to the batch size (holds wait in the prioritized set, other commands in the wait list; see
 * jobOptionsByName). The batch stops at the first command of another kind, so commands are
 * still decided strictly in acceptance order. Safe only while the show runs one job at a time
 * (global concurrency 1): then no other worker can take these jobs while we decide them.
 */
export async function peekBatch<N extends JobName>(job: Job, name: N, deps: ProcessorDeps): Promise<Peeked<JobPayloads[N]>[]> {
  if (deps.batchSize <= 1) return [];
  const showId = (job.data as { showId: string }).showId;
  const waiting = await deps.queues.get(showId).getJobs([waitingStateByName[name]], 0, deps.batchSize - 2, true);
  const batch: Peeked<JobPayloads[N]>[] = [];
  // A batch names each booking once (two confirms of one booking are decided one after the other).
  const bookings = new Set([(job.data as { bookingId: string }).bookingId]);
  for (const next of waiting) {
    if (!next?.id || next.name !== name || !validators[name].Check(next.data)) break;
    const { bookingId } = next.data as { bookingId: string };
    if (bookings.has(bookingId)) break;
    bookings.add(bookingId);
    batch.push({ jobId: next.id, payload: next.data as JobPayloads[N] });
  }
  return batch;
}

/**
 * Takes the peeked jobs out of the queue once their decisions are committed and published: each
 * command was decided and its client told, one by one. Running them as jobs too would cost a
 * full fetch/finish cycle each, one after another, for nothing. If the worker dies before this,
 * they stay queued and simply find their booking decided (every command is idempotent).
 */
export async function retirePeeked(job: Job, peeked: readonly Peeked<unknown>[], deps: ProcessorDeps): Promise<void> {
  if (peeked.length === 0) return;
  const name = job.name as JobName;
  await deps.retireJobs((job.data as { showId: string }).showId, waitingStateByName[name], peeked.map((p) => p.jobId)).catch((err: unknown) => {
    deps.log.warn({ err, jobId: job.id }, 'could not retire batched jobs; they will run as no-ops');
  });
}

/**
 * A confirm or cancel, decided together with the same commands queued right behind it (one
 * transaction), then the usual after-commit work, then each command's result — what the
 * waiting API request listens for (kept a while, for a repeated request) — then the peeked
 * jobs are retired.
 */
export async function runBookingCommands<C>(
  job: Job,
  head: C,
  peeked: Peeked<C>[],
  deps: ProcessorDeps,
  decide: (cmds: C[]) => Promise<Decision[]>,
) {
  let decisions: Decision[];
  try {
    decisions = await decide([head, ...peeked.map((p) => p.payload)]);
  } catch (err) {
    if (peeked.length === 0 || isDbUnreachable(err)) throw err;
    deps.log.warn({ err, jobId: job.id, batch: peeked.length + 1 }, 'batch failed; deciding the command alone');
    peeked = [];
    decisions = await decide([head]);
  }
  await afterCommit(decisions.map((d) => d.booking), deps);
  const ids = [job.id!, ...peeked.map((p) => p.jobId)];
  await Promise.all(
    decisions.map((d, i) => deps.status.publishResult({ commandId: ids[i]!, outcome: d.outcome, booking: d.booking, ...(d.detail ? { detail: d.detail } : {}) })),
  );
  await retirePeeked(job, peeked, deps);
  await dropExpiries(decisions, deps);
  return { outcome: decisions[0]!.outcome, changed: decisions[0]!.changed, batch: decisions.length };
}

/**
 * Holds that were just confirmed or cancelled no longer need their expiry job: dropping it now
 * is one call for the batch, where letting it fire costs a whole job cycle per hold later, in
 * the show's queue, ahead of its next holds. Best effort: a job left behind is a no-op.
 */
async function dropExpiries(decisions: readonly Decision[], deps: ProcessorDeps): Promise<void> {
  const byShow = new Map<string, string[]>();
  for (const d of decisions) {
    if (!d.changed || !d.booking || d.booking.status === 'HELD') continue;
    byShow.set(d.booking.showId, [...(byShow.get(d.booking.showId) ?? []), jobId.expire({ bookingId: d.booking.id })]);
  }
  await Promise.all(
    [...byShow].map(([showId, ids]) =>
      deps.retireJobs(showId, 'delayed', ids).catch((err: unknown) => {
        deps.log.warn({ err, showId }, 'could not drop expiry jobs of decided holds; they will run as no-ops');
      }),
    ),
  );
}
