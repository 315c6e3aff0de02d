import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import t from 'tap';
import { ShowQueues, showQueueName } from '@booking/contracts';
import { deleteRedisPrefix, holdCommand } from '@booking/db/testing';
import { DrainShows } from '../src/drain.js';
import { createTakeDue, type DueJobs } from '../src/peek.js';

// TakeDue reads a show's queue only while BullMQ's marker says a job was added (or when the
// caller asks), and clears the mark when it finds nothing due: these check that no job is ever
// left unread that way, against real Redis and BullMQ's own adds.
t.test('TakeDue reads a show only while something may be due', async (t) => {
  const prefix = `td${randomUUID().slice(0, 8)}`;
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  const queues = new ShowQueues(redis, prefix);
  t.teardown(async () => {
    await queues.close();
    await deleteRedisPrefix(redis, prefix);
    await redis.quit();
  });
  const takeDue = createTakeDue(redis, prefix);
  const show = randomUUID();
  const marker = `${prefix}:${showQueueName(show)}:marker`;
  const hold = holdCommand(show);
  await queues.add('hold', hold);
  t.equal(await redis.exists(marker), 1, 'BullMQ marks the queue when it adds a job');
  const [first] = await takeDue([show], 10);
  t.equal(first!.state, 'prioritized');
  t.same(first!.jobs.map((j) => j.name), ['hold']);
  t.equal(await redis.exists(marker), 1, 'a read that finds work keeps the mark (the job is still queued)');

  await redis.del(`${prefix}:${showQueueName(show)}:prioritized`);
  t.equal((await takeDue([show], 10))[0]!.state, 'none');
  t.equal(await redis.exists(marker), 0, 'a read that finds nothing due clears the mark');

  // A job added after the mark was cleared marks the show again: the next round reads it.
  await queues.add('confirm', { bookingId: hold.bookingId, showId: show, paymentToken: 'tok_visa' });
  const [next] = await takeDue([show], 10);
  t.equal(next!.state, 'wait');
  t.same(next!.jobs.map((j) => j.name), ['confirm']);
  await redis.del(`${prefix}:${showQueueName(show)}:wait`, marker);

  // A job in the queue without a mark (taken by a BullMQ worker the show had before) is read
  // only when asked to reread.
  await queues.add('cancel', { bookingId: hold.bookingId, showId: show, reason: null });
  await redis.del(marker);
  t.equal((await takeDue([show], 10))[0]!.state, 'unread', 'unmarked: not read');
  t.equal((await takeDue([show], 10, new Set([show])))[0]!.state, 'wait', 'reread: read');
  await redis.del(`${prefix}:${showQueueName(show)}:wait`);
  await takeDue([show], 10, new Set([show]));

  // A delayed job (a hold's expiry) marks the show too; the read that finds it not yet due gives
  // its due time and clears the mark; once due, the caller rereads the show.
  await queues.add('expire', { bookingId: hold.bookingId, showId: show }, { delay: 300 });
  const early = (await takeDue([show], 10))[0]!;
  t.equal(early.state, 'none', 'not yet due');
  t.ok(early.nextDelayedAt !== null && early.nextDelayedAt > Date.now(), 'but its due time is reported');
  t.equal(await redis.exists(marker), 0);
  await new Promise((r) => setTimeout(r, early.nextDelayedAt! - Date.now() + 20));
  t.equal((await takeDue([show], 10))[0]!.state, 'unread', 'nothing was added since');
  const due = (await takeDue([show], 10, new Set([show])))[0]!;
  t.equal(due.state, 'delayed');
  t.same(due.jobs.map((j) => j.name), ['expire']);
});

// DrainShows asks TakeDue to reread a show it has never read, one whose delayed job is due, and
// any show it has not read for a second (should a job ever come without BullMQ's marker).
t.test('DrainShows rereads a show it has not read for a second, marked or not', async (t) => {
  const show = randomUUID();
  const calls: { at: number; reread: boolean }[] = [];
  const drain = new DrainShows({
    takeDue: async (showIds, _count, reread) => {
      calls.push({ at: Date.now(), reread: reread?.has(show) ?? false });
      // As TakeDue answers an unmarked show it does not read; a reread finds it empty.
      return showIds.map(() => ({ state: reread?.has(show) ? 'none' : 'unread', jobs: [], nextDelayedAt: null }) as DueJobs);
    },
    drainShow: async () => 'done',
    onHandOver: () => {},
    report: () => false,
    log: pino({ level: 'silent' }),
    batchSize: 10,
    idlePollMs: 50,
  });
  t.teardown(() => drain.close());
  const started = Date.now();
  drain.add(show);
  const rereads = () => calls.filter((c) => c.reread).map((c) => c.at - started);
  for (const deadline = Date.now() + 3000; rereads().length < 2 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
  const [first, second] = rereads();
  t.ok(calls.length > 10, `polled in between without rereading (${calls.length} rounds)`);
  t.ok(first !== undefined && first < 200, `read when added (at ${first} ms)`);
  t.ok(second !== undefined && second - first! >= 1000 && second - first! < 2000, `read again a second later (at ${second} ms)`);
});
