import type { Job } from 'bullmq';
import { decideConfirms } from '@booking/db';
import { parsePayload, peekBatch, runBookingCommands, transactOf, type ProcessorDeps } from './shared.js';

export async function processConfirm(job: Job, deps: ProcessorDeps) {
  const cmd = parsePayload('confirm', job);
  const peeked = await peekBatch(job, 'confirm', deps);
  return runBookingCommands(job, cmd, peeked, deps, (cmds) => transactOf(deps)(cmd.showId, (tx) => decideConfirms(tx, deps.payments, cmds)));
}
