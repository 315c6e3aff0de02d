import type { DueJobs } from '../peek.js';
import { KINDS, drainBookingCommands } from './booking.js';
import { drainHolds } from './hold.js';
import { leadingRun, type ProcessorDeps } from './shared.js';

/**
 * What a show needs after a round: `done`, or `handOver` to a BullMQ worker, which has what a
 * rare case needs (retries with backoff, failing a job for good, stalled-job recovery, moving
 * an early expiry back to delayed).
 */
export type DrainOutcome = 'done' | 'handOver';

/**
 * Drain mode: decides the commands due at the front of a show's queue, as many as can go
 * together (one kind, each booking once, up to the batch size), without a BullMQ job cycle: their
 * jobs are never moved to active, they are retired once decided and published. If the process
 * dies first they stay queued where they were and are decided again, as no-ops. Only safe while
 * this process alone takes the show's commands (a show lease; see DrainShows).
 *
 * Anything that is not the plain path — a job whose payload does not parse, one already active,
 * an early expiry, a transaction that fails for a reason other than Postgres being away — goes to
 * a BullMQ worker: the caller hands the show over, with every job not decided still queued (a
 * failed batch retires nothing; of an early expiry's batch, the others are retired).
 */
export async function drainShow(showId: string, due: DueJobs, deps: ProcessorDeps): Promise<DrainOutcome> {
  const { state, jobs } = due;
  if (state === 'active') return 'handOver';
  if (state !== 'wait' && state !== 'prioritized' && state !== 'delayed') return 'done';
  const head = jobs[0]?.name;
  if (head === 'hold') {
    const batch = leadingRun(jobs, ['hold'], new Set());
    return batch.length === 0 ? 'handOver' : drainHolds(showId, state, batch, deps);
  }
  const batch = leadingRun(jobs, KINDS, new Set());
  return batch.length === 0 ? 'handOver' : drainBookingCommands(showId, state, batch, deps);
}
