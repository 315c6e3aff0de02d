import type { Job } from 'bullmq';
import { cancelBooking } from '@booking/db';
import { parsePayload, runBookingCommand, type ProcessorDeps } from './shared.js';

export function processCancel(job: Job, deps: ProcessorDeps) {
  const cmd = parsePayload('cancel', job);
  return runBookingCommand(job, deps, () => cancelBooking(deps.sql, deps.payments, cmd));
}
