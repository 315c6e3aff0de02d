import type { Job } from 'bullmq';
import { cancelBookings } from '@booking/db';
import { parsePayload, peekBatch, runBookingCommands, type ProcessorDeps } from './shared.js';

export async function processCancel(job: Job, deps: ProcessorDeps) {
  const cmd = parsePayload('cancel', job);
  const peeked = await peekBatch(job, 'cancel', deps);
  return runBookingCommands(job, cmd, peeked, deps, (cmds) => cancelBookings(deps.sql, deps.payments, cmds));
}
