import { UnrecoverableError, type Job } from 'bullmq';
import type { JobName } from '@booking/contracts';
import { invalidHoldDoc, rejectUndecidableHold, type UndecidableHold } from '@booking/db';
import type { DbGate } from '../db-gate.js';
import { processBookingCommands } from './booking.js';
import { processHold } from './hold.js';
import type { ProcessorDeps } from './shared.js';

export type { ProcessorDeps } from './shared.js';
export { drainShow, type DrainOutcome } from './drain.js';
export { runSweep } from './sweep.js';

const byName: { [K in JobName]: (job: Job, deps: ProcessorDeps, token?: string) => Promise<unknown> } = {
  hold: processHold,
  confirm: processBookingCommands,
  cancel: processBookingCommands,
  expire: processBookingCommands,
};

/**
 * The one BullMQ processor for every show queue: dispatches on the catalog job name. With a
 * gate, a job that finds Postgres unreachable waits for it instead of failing (see DbGate).
 */
export function createProcessor(deps: ProcessorDeps, gate?: DbGate) {
  return (job: Job, token?: string) => {
    const run = byName[job.name as JobName];
    if (!run) throw new UnrecoverableError(`unknown job name ${job.name}`);
    const attempt = () =>
      run(job, deps, token).catch(async (e: { code?: string; message?: string }) => {
        // SQLSTATE class 22 (data exception): the payload holds a value Postgres refuses; retrying
        // the same payload cannot help, so fail once, loudly.
        const err = typeof e?.code === 'string' && e.code.startsWith('22') ? new UnrecoverableError(`data exception ${e.code}: ${e.message}`) : e;
        // Only what no retry can fix (a data exception, a command that cannot be, a payload that
        // does not parse): anything else — Redis away, a timeout — may pass, and must not reject
        // a valid booking; it retries, and fails for good only after every attempt.
        const hold = job.name === 'hold' && err instanceof UnrecoverableError ? undecidable(job.data) : null;
        if (!hold) throw err;
        // An accepted booking always gets a decision: one that cannot be applied is rejected.
        deps.log.error({ err, jobId: job.id, bookingId: hold.bookingId }, 'hold cannot be applied; rejected as INVALID_REQUEST');
        const booking = (await rejectUndecidableHold(deps.sql, hold)) ?? invalidHoldDoc(hold);
        deps.metrics?.holdsDecided([{ outcome: 'OK', booking, changed: true }]);
        await deps.status.publishBooking(booking);
        return { status: booking.status, rejected: booking.rejection?.code ?? null };
      });
    return gate ? gate.run(job, token, attempt) : attempt();
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Of a hold's payload, whatever a rejection needs, if it is there (the rest may be what failed). */
function undecidable(data: unknown): UndecidableHold | null {
  const d = (data ?? {}) as Record<string, unknown>;
  const { bookingId, showId, acceptedAt, idempotencyKey } = d;
  if (typeof bookingId !== 'string' || !UUID.test(bookingId) || typeof showId !== 'string' || !UUID.test(showId)) return null;
  const at = typeof acceptedAt === 'string' && !Number.isNaN(Date.parse(acceptedAt)) ? new Date(acceptedAt).toISOString() : new Date().toISOString();
  return { bookingId, showId, acceptedAt: at, idempotencyKey: typeof idempotencyKey === 'string' && /^[\x21-\x7E]{1,255}$/.test(idempotencyKey) ? idempotencyKey : null };
}
