import type { Job } from 'bullmq';
import { confirmBooking } from '@booking/db';
import { afterCommit, parsePayload, type ProcessorDeps } from './shared.js';

export async function processConfirm(job: Job, deps: ProcessorDeps) {
  const cmd = parsePayload('confirm', job);
  const d = await confirmBooking(deps.sql, deps.payments, cmd);
  await afterCommit(d.booking, deps);
  await deps.status.publishResult({ commandId: job.id!, outcome: d.outcome, booking: d.booking, ...(d.detail ? { detail: d.detail } : {}) });
  return { outcome: d.outcome, changed: d.changed };
}
