import type { Job } from 'bullmq';
import { cancelBooking } from '@booking/db';
import { afterCommit, parsePayload, type ProcessorDeps } from './shared.js';

export async function processCancel(job: Job, deps: ProcessorDeps) {
  const cmd = parsePayload('cancel', job);
  const d = await cancelBooking(deps.sql, deps.payments, cmd);
  await afterCommit(d.booking, deps);
  await deps.status.publishResult({ commandId: job.id!, outcome: d.outcome, booking: d.booking, ...(d.detail ? { detail: d.detail } : {}) });
  return { outcome: d.outcome, changed: d.changed };
}
