import { DelayedError, type Job } from 'bullmq';
import { releaseDueHolds } from '@booking/db';
import { parsePayload, peekBatch, retirePeeked, transactOf, type ProcessorDeps } from './shared.js';

/**
 * Fires at the hold's expiresAt and releases it, together with the expiries queued right behind
 * it (one transaction). If it fired early by the database's clock (clocks differ a little), the
 * job goes back to delayed for the rest of the time instead of releasing early.
 */
export async function processExpire(job: Job, deps: ProcessorDeps, token?: string) {
  const cmd = parsePayload('expire', job);
  // No Redis read to screen out holds already released, confirmed or cancelled: confirms and
  // cancels drop their hold's expiry job, so nearly every expiry that runs is due, and
  // releaseDueHolds finds the rest decided (changed: false) in the same transaction.
  const peeked = await peekBatch(job, 'expire', deps);
  const ids = [cmd.bookingId, ...peeked.map((p) => p.payload.bookingId)];
  const results = await transactOf(deps)(cmd.showId, (tx) => releaseDueHolds(tx, ids));
  deps.metrics?.holdsReleased(results.flatMap((r) => (r.changed && r.booking ? [r.booking] : [])), 'expiry');
  // Also on a replay: a worker killed after the commit left the documents unwritten.
  await Promise.all(results.map((r) => (r.booking && r.booking.status !== 'HELD' ? deps.status.publishBooking(r.booking) : undefined)));
  // A peeked expiry whose hold is still live by the database's clock keeps its job (it re-delays).
  await retirePeeked(job, peeked.filter((_, i) => results[i + 1]?.retryInMs === undefined), deps);
  const own = results[0]!;
  if (own.retryInMs !== undefined && token) {
    await job.moveToDelayed(Date.now() + own.retryInMs, token);
    throw new DelayedError();
  }
  return { status: own.booking?.status, changed: own.changed, batch: results.length };
}
