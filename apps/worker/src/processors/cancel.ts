import type { Job } from 'bullmq';
import { decideCancels } from '@booking/db';
import { parsePayload, peekBatch, runBookingCommands, transactOf, type ProcessorDeps } from './shared.js';

export async function processCancel(job: Job, deps: ProcessorDeps) {
  const cmd = parsePayload('cancel', job);
  const peeked = await peekBatch(job, 'cancel', deps);
  return runBookingCommands(job, cmd, peeked, deps, (cmds) => transactOf(deps)(cmd.showId, (tx) => decideCancels(tx, deps.payments, cmds)));
}
