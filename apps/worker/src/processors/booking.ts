import { DelayedError, type Job } from 'bullmq';
import { jobId, type JobPayloads, type PaymentProvider } from '@booking/contracts';
import { decideBookingCommands, type BookingCommand, type BookingDecision } from '@booking/db';
import type { QueuedState } from '../retire.js';
import { decide, decideBatch, parsePayload, peekBatch, retirePeeked, type Decider, type Peeked, type ProcessorDeps } from './shared.js';

/** The commands that act on an existing booking; they share the show's wait list. */
export const KINDS = ['confirm', 'cancel', 'expire'] as const;
export type Kind = (typeof KINDS)[number];

const asCommand = (name: Kind, payload: JobPayloads[Kind]): BookingCommand => {
  if (name === 'confirm') {
    const p = payload as JobPayloads['confirm'];
    return { kind: 'confirm', bookingId: p.bookingId, paymentToken: p.paymentToken };
  }
  if (name === 'cancel') {
    const p = payload as JobPayloads['cancel'];
    return { kind: 'cancel', bookingId: p.bookingId, reason: p.reason };
  }
  return { kind: 'expire', bookingId: payload.bookingId };
};

/**
 * Confirms, cancels and expiries name distinct bookings whatever their shows, so several shows'
 * batches are decided as one list and the answers split back.
 */
export const bookingCommandsDecider = (payments: PaymentProvider): Decider<BookingCommand, BookingDecision> => ({
  key: 'booking-commands',
  one: (tx, cmds) => decideBookingCommands(tx, payments, cmds),
  async many(tx, batches) {
    const all = await decideBookingCommands(tx, payments, batches.flat());
    let from = 0;
    return batches.map((cmds) => all.slice(from, (from += cmds.length)));
  },
});

/**
 * A confirm, cancel or expiry, decided together with the confirms, cancels and expiries queued
 * right behind it, in one transaction. They act on distinct existing bookings (the batch stops at
 * a repeated one), so deciding them together gives each the outcome it would get alone; an
 * on-sale's trickle of confirms and cancels between batches of holds then costs one job cycle per
 * batch, not one per command. After the commit: every document is written and published, each
 * confirm's and cancel's result is published (what its API request waits for), the peeked jobs
 * are retired — except an expiry that is early by the database's clock, which keeps its job —
 * and holds just confirmed or cancelled drop their expiry job. This job's own expiry, if early,
 * goes back to delayed for the rest of the time.
 */
export async function processBookingCommands(job: Job, deps: ProcessorDeps, token?: string) {
  const name = job.name as Kind;
  const head = parsePayload(name, job);
  const { decisions, peeked } = await decideBatch(
    job,
    deps,
    { head: asCommand(name, head), peeked: await peekBatch(job, KINDS, deps), of: (p) => asCommand(p.name, p.payload) },
    bookingCommandsDecider(deps.payments),
  );
  await settleBookingCommands([{ jobId: job.id!, name }, ...peeked], decisions, deps);
  await retirePeeked(job, peeked.filter((_, i) => decisions[i + 1]?.retryInMs === undefined), deps);
  const own = decisions[0]!;
  if (own.retryInMs !== undefined && token) {
    await job.moveToDelayed(Date.now() + own.retryInMs, token);
    throw new DelayedError();
  }
  return { outcome: own.outcome, status: own.booking?.status, changed: own.changed, batch: decisions.length };
}

/**
 * Drain mode (see DrainShows): the batch decided in one transaction, then its jobs retired. An
 * expiry early by the database's clock keeps its job, and the show goes to a BullMQ worker,
 * which puts it back in the delayed set for the rest of the time.
 */
export async function drainBookingCommands(showId: string, state: QueuedState, batch: Peeked<Kind>[], deps: ProcessorDeps): Promise<'done' | 'handOver'> {
  const decisions = await decide(deps, showId, bookingCommandsDecider(deps.payments), batch.map((p) => asCommand(p.name, p.payload)));
  await settleBookingCommands(batch, decisions, deps);
  const settled = batch.filter((_, i) => decisions[i]!.retryInMs === undefined);
  await deps.retireJobs(showId, state, settled.map((p) => p.jobId));
  return settled.length === batch.length ? 'done' : 'handOver';
}

/**
 * After commit: released holds counted, every document written and published (and the shows'
 * availability), each confirm's
 * and cancel's result published (what its API request waits for), and the expiry jobs of holds
 * just confirmed or cancelled dropped. Also on a replay: a worker killed after the commit left
 * the documents unwritten. An early expiry changed nothing and the hold's document is already there.
 */
async function settleBookingCommands(jobs: readonly { jobId: string; name: Kind }[], decisions: readonly BookingDecision[], deps: ProcessorDeps): Promise<void> {
  deps.metrics?.holdsReleased(
    decisions.flatMap((d, i) => (jobs[i]!.name === 'expire' && d.changed && d.booking ? [d.booking] : [])),
    'expiry',
  );
  await Promise.all([
    deps.status.publishShows(decisions),
    ...decisions.map((d) => (d.booking && d.retryInMs === undefined ? deps.status.publishBooking(d.booking) : undefined)),
    ...decisions.map((d, i) =>
      jobs[i]!.name === 'expire'
        ? undefined
        : deps.status.publishResult({ commandId: jobs[i]!.jobId, outcome: d.outcome, booking: d.booking, ...(d.detail ? { detail: d.detail } : {}) }),
    ),
  ]);
  await dropExpiries(decisions.filter((_, i) => jobs[i]!.name !== 'expire'), deps);
}

/**
 * Holds that a confirm or cancel just decided no longer need their expiry job: dropping it now
 * is one call for the batch, where letting it fire costs a whole job cycle per hold later, in
 * the show's queue, ahead of its next holds. Best effort: a job left behind is a no-op.
 */
async function dropExpiries(decisions: readonly BookingDecision[], deps: ProcessorDeps): Promise<void> {
  const byShow = new Map<string, string[]>();
  for (const d of decisions) {
    if (!d.changed || !d.booking || d.booking.status === 'HELD') continue;
    byShow.set(d.booking.showId, [...(byShow.get(d.booking.showId) ?? []), jobId.expire({ bookingId: d.booking.id })]);
  }
  await Promise.all(
    [...byShow].map(([showId, ids]) =>
      deps.retireJobs(showId, 'delayed', ids).catch((err: unknown) => {
        deps.log.warn({ err, showId }, 'could not drop expiry jobs of decided holds; they will run as no-ops');
      }),
    ),
  );
}
