import type { Job } from 'bullmq';
import type { HoldJob } from '@booking/contracts';
import { decideHolds, decideHoldsOfShows, type Decision } from '@booking/db';
import type { QueuedState } from '../retire.js';
import { afterCommit, decide, decideBatch, parsePayload, peekBatch, retirePeeked, type Decider, type Peeked, type ProcessorDeps } from './shared.js';

const HOLDS: Decider<HoldJob, Decision> = { key: 'holds', one: decideHolds, many: decideHoldsOfShows };

/**
 * Decides this hold together with the holds queued right behind it, in one transaction, then
 * retires those jobs. A hold already decided (a replay, or a batch whose worker died before
 * retiring it) is found decided in that transaction and written again to Redis, unchanged.
 * Replays are rare, so they are not screened with a Redis read first: that read cost every
 * hold a round trip.
 */
export async function processHold(job: Job, deps: ProcessorDeps) {
  const cmd = parsePayload('hold', job);
  const { decisions, peeked } = await decideBatch(job, deps, { head: cmd, peeked: await peekBatch(job, ['hold'], deps), of: (p) => p.payload }, HOLDS);
  await settleHolds(decisions, deps);
  await retirePeeked(job, peeked, deps);
  return { status: decisions[0]!.booking?.status, changed: decisions[0]!.changed, batch: decisions.length };
}

/** Drain mode (see DrainShows): the batch's holds decided in one transaction, then their jobs retired. */
export async function drainHolds(showId: string, state: QueuedState, batch: Peeked<'hold'>[], deps: ProcessorDeps): Promise<'done'> {
  const decisions = await decide(deps, showId, HOLDS, batch.map((p) => p.payload));
  await settleHolds(decisions, deps);
  await deps.retireJobs(showId, state, batch.map((p) => p.jobId));
  return 'done';
}

/** After commit: metrics, then each live hold's expiry job and every document (afterCommit), and the show's availability. */
async function settleHolds(decisions: readonly Decision[], deps: ProcessorDeps): Promise<void> {
  deps.metrics?.holdsDecided(decisions);
  await Promise.all([afterCommit(decisions.map((d) => d.booking), deps), deps.status.publishShows(decisions)]);
}
