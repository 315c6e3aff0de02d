import type { Job } from 'bullmq';
import { holdSeats } from '@booking/db';
import { afterCommit, parsePayload, unlessInvalid, type ProcessorDeps } from './shared.js';

export async function processHold(job: Job, deps: ProcessorDeps) {
  const cmd = parsePayload('hold', job);
  const decision = await unlessInvalid(() => holdSeats(deps.sql, cmd));
  await afterCommit(decision.booking, deps);
  return { status: decision.booking?.status, changed: decision.changed };
}
