import { Compile } from 'typebox/compile';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { JobSchemas, type Booking, type JobName, type JobPayloads, type PaymentProvider, type ShowQueues } from '@booking/contracts';
import { InvalidCommand, type Decision, type Sql } from '@booking/db';
import type { StatusPublisher } from '../status.js';

/** What processors need; passed in so tests call processors directly with real clients. */
export interface ProcessorDeps {
  sql: Sql;
  payments: PaymentProvider;
  status: StatusPublisher;
  queues: ShowQueues;
  log: Logger;
}

const validators = Object.fromEntries(Object.entries(JobSchemas).map(([name, schema]) => [name, Compile(schema)])) as {
  [K in JobName]: ReturnType<typeof Compile<(typeof JobSchemas)[K]>>;
};

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
 * After commit: the status document to Redis (and its publish), and for a live hold the delayed
 * job that releases it at expiresAt. Runs on replays too — a worker killed between commit and
 * here left both undone, and both are idempotent (version guard, job id).
 */
export async function afterCommit(booking: Booking | null, deps: ProcessorDeps): Promise<void> {
  if (!booking) return;
  await deps.status.publishBooking(booking);
  if (booking.status === 'HELD' && booking.expiresAt) {
    const delay = Math.max(0, Date.parse(booking.expiresAt) - Date.now());
    await deps.queues.add('expire', { bookingId: booking.id, showId: booking.showId }, { delay });
  }
}

/**
 * A confirm or cancel: decide it, then the usual after-commit work, then the result the waiting
 * API request is listening for (kept a while, for a repeated request).
 */
export async function runBookingCommand(job: Job, deps: ProcessorDeps, decide: () => Promise<Decision>) {
  const d = await decide();
  await afterCommit(d.booking, deps);
  await deps.status.publishResult({ commandId: job.id!, outcome: d.outcome, booking: d.booking, ...(d.detail ? { detail: d.detail } : {}) });
  return { outcome: d.outcome, changed: d.changed };
}
