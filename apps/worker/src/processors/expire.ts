import { DelayedError, type Job } from 'bullmq';
import { expireHold } from '@booking/db';
import { parsePayload, type ProcessorDeps } from './shared.js';

/**
 * Fires at the hold's expiresAt. If it fired early by the database's clock (clocks differ a
 * little), the job goes back to delayed for the rest of the time instead of releasing early.
 */
export async function processExpire(job: Job, deps: ProcessorDeps, token?: string) {
  const cmd = parsePayload('expire', job);
  const d = await expireHold(deps.sql, cmd.bookingId);
  if (d.retryInMs !== undefined && token) {
    await job.moveToDelayed(Date.now() + d.retryInMs, token);
    throw new DelayedError();
  }
  // Also on a replay: a worker killed after the commit left the document unwritten.
  if (d.booking && d.booking.status !== 'HELD') await deps.status.publishBooking(d.booking);
  return { status: d.booking?.status, changed: d.changed };
}
