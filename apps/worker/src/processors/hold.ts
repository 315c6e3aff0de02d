import type { Job } from 'bullmq';
import { decideHolds } from '@booking/db';
import { afterCommit, decideBatch, parsePayload, peekBatch, retirePeeked, type ProcessorDeps } from './shared.js';

/**
 * Decides this hold together with the holds queued right behind it, in one transaction, then
 * retires those jobs. A hold already decided (a replay, or a batch whose worker died before
 * retiring it) is found decided in that transaction and written again to Redis, unchanged.
 * Replays are rare, so they are not screened with a Redis read first: that read cost every
 * hold a round trip.
 */
export async function processHold(job: Job, deps: ProcessorDeps) {
  const cmd = parsePayload('hold', job);
  const { decisions, peeked } = await decideBatch(job, deps, { head: cmd, peeked: await peekBatch(job, ['hold'], deps), of: (p) => p.payload }, decideHolds);
  deps.metrics?.holdsDecided(decisions);
  await afterCommit(decisions.map((d) => d.booking), deps);
  await retirePeeked(job, peeked, deps);
  return { status: decisions[0]!.booking?.status, changed: decisions[0]!.changed, batch: decisions.length };
}
