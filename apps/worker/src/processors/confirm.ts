import type { Job } from 'bullmq';
import { confirmBookings } from '@booking/db';
import { parsePayload, peekBatch, runBookingCommands, type ProcessorDeps } from './shared.js';

export async function processConfirm(job: Job, deps: ProcessorDeps) {
  const cmd = parsePayload('confirm', job);
  const peeked = await peekBatch(job, 'confirm', deps);
  return runBookingCommands(job, cmd, peeked, deps, (cmds) => confirmBookings(deps.sql, deps.payments, cmds));
}
