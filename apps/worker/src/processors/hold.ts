import type { Job } from 'bullmq';
import { decideHolds, isDbUnreachable } from '@booking/db';
import type { HoldJob } from '@booking/contracts';
import { afterCommit, parsePayload, peekBatch, retirePeeked, transactOf, unlessInvalid, type ProcessorDeps } from './shared.js';

/**
 * Decides this hold together with the holds queued right behind it, in one transaction, then
 * retires those jobs. A hold already decided (a replay, or a batch whose worker died before
 * retiring it) is found decided in that transaction and written again to Redis, unchanged.
 * Replays are rare, so they are not screened with a Redis read first: that read cost every
 * hold a round trip.
 */
export async function processHold(job: Job, deps: ProcessorDeps) {
  const cmd = parsePayload('hold', job);
  let peeked = await peekBatch(job, ['hold'], deps);
  const transact = transactOf(deps);
  const decide = (cmds: HoldJob[]) => unlessInvalid(() => transact(cmd.showId, (tx) => decideHolds(tx, cmds)));
  let decisions;
  try {
    decisions = await decide([cmd, ...peeked.map((p) => p.payload)]);
  } catch (err) {
    if (peeked.length === 0 || isDbUnreachable(err)) throw err;
    // Something in the batch failed: decide this job's own command alone, so a bad neighbour
    // cannot hold it back (the neighbour then fails on its own job).
    deps.log.warn({ err, jobId: job.id, batch: peeked.length + 1 }, 'batch failed; deciding the command alone');
    peeked = [];
    decisions = await decide([cmd]);
  }
  deps.metrics?.holdsDecided(decisions);
  await afterCommit(decisions.map((d) => d.booking), deps);
  await retirePeeked(job, peeked, deps);
  return { status: decisions[0]!.booking?.status, changed: decisions[0]!.changed, batch: decisions.length };
}
