import type { Job } from 'bullmq';
import { confirmBooking } from '@booking/db';
import { parsePayload, runBookingCommand, type ProcessorDeps } from './shared.js';

export function processConfirm(job: Job, deps: ProcessorDeps) {
  const cmd = parsePayload('confirm', job);
  return runBookingCommand(job, deps, () => confirmBooking(deps.sql, deps.payments, cmd));
}
