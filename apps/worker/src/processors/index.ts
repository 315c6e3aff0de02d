import { UnrecoverableError, type Job } from 'bullmq';
import type { JobName } from '@booking/contracts';
import type { DbGate } from '../db-gate.js';
import { processBookingCommands } from './booking.js';
import { processHold } from './hold.js';
import type { ProcessorDeps } from './shared.js';

export type { ProcessorDeps } from './shared.js';
export { drainShow, type DrainOutcome } from './drain.js';
export { runSweep } from './sweep.js';

const byName: { [K in JobName]: (job: Job, deps: ProcessorDeps, token?: string) => Promise<unknown> } = {
  hold: processHold,
  confirm: processBookingCommands,
  cancel: processBookingCommands,
  expire: processBookingCommands,
};

/**
 * The one BullMQ processor for every show queue: dispatches on the catalog job name. With a
 * gate, a job that finds Postgres unreachable waits for it instead of failing (see DbGate).
 */
export function createProcessor(deps: ProcessorDeps, gate?: DbGate) {
  return (job: Job, token?: string) => {
    const run = byName[job.name as JobName];
    if (!run) throw new UnrecoverableError(`unknown job name ${job.name}`);
    const attempt = () =>
      run(job, deps, token).catch((err: { code?: string; message?: string }) => {
        // SQLSTATE class 22 (data exception): the payload holds a value Postgres refuses; retrying
        // the same payload cannot help, so fail once, loudly.
        if (typeof err?.code === 'string' && err.code.startsWith('22')) throw new UnrecoverableError(`data exception ${err.code}: ${err.message}`);
        throw err;
      });
    return gate ? gate.run(job, token, attempt) : attempt();
  };
}
