import { sweepExpiredHolds } from '@booking/db';
import type { ProcessorDeps } from './shared.js';

/**
 * Safety net: releases holds whose delayed job was lost (Redis restarted without its data, a job
 * removed by hand). Returns how many it released; loops while a full batch came back.
 */
export async function runSweep(deps: ProcessorDeps, opts: { graceMs: number; batch?: number }): Promise<number> {
  const batch = opts.batch ?? 500;
  let released = 0;
  for (;;) {
    const { bookings: docs, showVersions } = await sweepExpiredHolds(deps.sql, { graceMs: opts.graceMs, limit: batch });
    deps.metrics?.holdsReleased(docs, 'sweep');
    // The shows first: their documents follow each commit in order, and up to 500 booking
    // documents written one by one would let the show's next commit overtake this one.
    await deps.status.publishShows(docs.map((booking) => ({ outcome: 'OK', booking, changed: true, showVersion: showVersions.get(booking.showId)! })));
    for (const doc of docs) await deps.status.publishBooking(doc);
    released += docs.length;
    if (docs.length < batch) break;
  }
  if (released > 0) deps.log.warn({ released, graceMs: opts.graceMs }, 'sweep released holds still HELD past expiry + grace (their expiry job was lost or is running late)');
  return released;
}
