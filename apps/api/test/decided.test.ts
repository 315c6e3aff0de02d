import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import postgres from 'postgres';
import t from 'tap';
import { jobId, pendingBooking, showQueueName, type Booking } from '@booking/contracts';
import { sleep, startSystem } from './helpers/system.js';

const pendingDoc = (showId: string): Booking =>
  pendingBooking({ id: randomUUID(), showId, request: { items: [{ tier: 'GA', quantity: 1 }] }, customerRef: null, acceptedAt: new Date().toISOString() });

// Every accepted booking gets exactly one decision: one that can never be applied is rejected
// (INVALID_REQUEST) rather than left PENDING, and a retry of a booking whose job was lost
// queues it again.
t.test('every accepted booking is decided', async (t) => {
  const sys = await startSystem(t, { workers: 1 });
  const sql = postgres(sys.db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 5 }));
  const show = await sys.createShow();

  await t.test('a hold whose payload the worker cannot apply is REJECTED as INVALID_REQUEST, not left PENDING', async (t) => {
    // What the API now refuses (a lone surrogate) but a queued job from before, or a hand-made
    // one, may still carry.
    const doc = pendingDoc(show.id);
    t.same(await sys.app.status.accept(doc, null), { accepted: true });
    await sys.app.commands.enqueue('hold', { bookingId: doc.id, showId: show.id, request: doc.request, customerRef: 'bad \ud800 text', idempotencyKey: null, acceptedAt: doc.createdAt });
    const decided = await sys.decided(doc.id, 30_000);
    t.equal(decided.status, 'REJECTED');
    t.equal(decided.rejection?.code, 'INVALID_REQUEST');
    t.same(decided.seats, [], 'nothing held');
    const [row] = await sql<{ status: string; rejection_code: string; events: number }[]>`
      select status, rejection_code, (select count(*)::int from booking_events where booking_id = b.id) as events from bookings b where id = ${doc.id}`;
    t.same(row, { status: 'REJECTED', rejection_code: 'INVALID_REQUEST', events: 2 }, 'recorded in Postgres with its two transitions');
  });

  await t.test('a hold for a show that does not exist is REJECTED as INVALID_REQUEST too', async (t) => {
    const doc = pendingDoc(randomUUID());
    t.same(await sys.app.status.accept(doc, null), { accepted: true });
    await sys.app.commands.enqueue('hold', { bookingId: doc.id, showId: doc.showId, request: doc.request, customerRef: null, idempotencyKey: null, acceptedAt: doc.createdAt });
    const decided = await sys.decided(doc.id, 30_000);
    t.equal(decided.status, 'REJECTED');
    t.equal(decided.rejection?.code, 'INVALID_REQUEST');
  });

  await t.test('a retry of a booking whose hold job was lost queues it again, and it is decided', async (t) => {
    const queue = new Queue(showQueueName(show.id), { connection: sys.redis, prefix: sys.prefix });
    t.teardown(() => queue.close());
    await queue.pause(); // so the first job can be taken away before a worker runs it
    const body = { items: [{ tier: 'GA', quantity: 2 }] };
    const key = `retry-${randomUUID()}`;
    const first = await sys.book(show.id, body, { 'idempotency-key': key });
    t.equal(first.status, 202);
    // As if the API had died between writing the PENDING document and adding the job.
    t.equal(await queue.remove(jobId.hold({ bookingId: first.body.id })), 1, 'the job is gone');
    await queue.resume();
    await sleep(1500);
    t.equal((await sys.http<Booking>('GET', `/v1/bookings/${first.body.id}`)).body.status, 'PENDING', 'nothing decides it meanwhile');
    const retry = await sys.book(show.id, body, { 'idempotency-key': key });
    t.equal(retry.status, 202);
    t.equal(retry.body.id, first.body.id, 'the same booking');
    const decided = await sys.decided(first.body.id, 30_000);
    t.equal(decided.status, 'HELD', 'decided after the retry');
    t.equal(decided.seats.length, 2);
    const again = await sys.book(show.id, body, { 'idempotency-key': key });
    t.equal(again.body.status, 'HELD', 'a retry of a decided booking gets the decision, nothing queued');
  });

  t.same((await sys.invariants(show.id)).violations, []);
});
