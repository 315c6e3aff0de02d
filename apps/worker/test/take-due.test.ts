import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import t from 'tap';
import { ShowQueues, showQueueName } from '@booking/contracts';
import { deleteRedisPrefix, holdCommand } from '@booking/db/testing';
import { createTakeDue } from '../src/peek.js';

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
