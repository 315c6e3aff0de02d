import { randomUUID } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { ShowQueues, redisKeys, showQueueName, type Booking } from '@booking/contracts';
import { bookingCommands, createSql, holdSeats } from '@booking/db';
import { checkInvariants, createGaShow, createTestDatabase, deleteRedisPrefix, holdCommand } from '@booking/db/testing';
import { MockPaymentProvider } from '../src/payments.js';
import { createProcessor, drainShow, runSweep, type ProcessorDeps } from '../src/processors/index.js';
import { createPeekJobs, createTakeDue } from '../src/peek.js';
import { createRetireJobs } from '../src/retire.js';
import { createStatusPublisher } from '../src/status.js';
import { ShowLeases } from '../src/leases.js';
import { ShowWorkers, type ShowWorkersOptions } from '../src/workers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

// Every behaviour holds in both modes: a BullMQ worker per attached show, and drained shows
// (DrainShows, what the worker runs with strict FIFO) that hand a show to a BullMQ worker only
// for what needs one.
for (const drained of [false, true]) t.test(drained ? 'drained shows' : 'a BullMQ worker per show', async (t) => {
  const db = await createTestDatabase();
  const prefix = `tw${randomUUID().slice(0, 8)}`;
  const keys = redisKeys(prefix);
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  const subscriber = redis.duplicate();
  const sql = createSql(db.url, { max: 5 });
  const queues = new ShowQueues(redis, prefix);
  const log = pino({ level: 'silent' });
  const deps: ProcessorDeps = {
    sql,
    payments: new MockPaymentProvider(),
    status: createStatusPublisher(redis, keys, { sql, log }),
    queues,
    log,
    batchSize: 20,
    peekJobs: createPeekJobs(redis, queues),
    retireJobs: createRetireJobs(redis, queues),
  };
  const drainOf = (redis: Redis, deps: ProcessorDeps): ShowWorkersOptions['drain'] =>
    drained
      ? { takeDue: createTakeDue(redis, deps.queues.prefix), drainShow: (showId, due) => drainShow(showId, due, deps), report: () => false, batchSize: deps.batchSize }
      : undefined;
  const workers = new ShowWorkers({
    redis, subscriber, queues, keys, prefix, log,
    processor: createProcessor(deps),
    drain: drainOf(redis, deps),
    showConcurrency: 1,
    idleMs: 300,
    lockMs: 2000,
    pollMs: 50,
  });
  await workers.start();
  t.teardown(async () => {
    await workers.close();
    await queues.close();
    await sql.end({ timeout: 5 });
    await deleteRedisPrefix(redis, prefix);
    subscriber.disconnect();
    await redis.quit();
    await db.drop(!t.passing());
  });

  const newShow = (holdTtlSeconds: number) => createGaShow(sql, { capacity: 10, holdTtlSeconds });
  const doc = async (bookingId: string) => {
    const raw = await redis.get(keys.booking(bookingId));
    return raw ? (JSON.parse(raw) as Booking) : null;
  };
  const holdCmd = (showId: string) => holdCommand(showId);
  /**
   * Another worker "process": its own connections, queues and leases, the same prefix and
   * database; it keeps idle shows attached. Closed (again, harmlessly) at the subtest's end.
   */
  const anotherProcess = async (t: Test, o: { lockMs: number }) => {
    const redis2 = redis.duplicate();
    const subscriber2 = redis.duplicate();
    const queues2 = new ShowQueues(redis2, prefix);
    const deps2 = { ...deps, queues: queues2, peekJobs: createPeekJobs(redis2, queues2), retireJobs: createRetireJobs(redis2, queues2) };
    const other = new ShowWorkers({
      redis: redis2, subscriber: subscriber2, queues: queues2, keys, prefix, log,
      processor: createProcessor(deps2),
      drain: drainOf(redis2, deps2),
      showConcurrency: 1,
      idleMs: 60_000,
      lockMs: o.lockMs,
      pollMs: 50,
    });
    await other.start();
    t.teardown(async () => {
      await other.close();
      await queues2.close();
      subscriber2.disconnect();
      await redis2.quit();
    });
    return other;
  };


  await t.test('a show with work gets a worker, which lets it go when idle and remembers the next expiry', async (t) => {
    const show = await newShow(60);
    const cmd = holdCmd(show.id);
    await queues.add('hold', cmd);
    await redis.zadd(keys.activeShows, Date.now(), show.id);
    const held = await until('HELD document', async () => ((await doc(cmd.bookingId))?.status === 'HELD' ? doc(cmd.bookingId) : null));
    t.equal(workers.attachedCount, 1);
    await until('detach', async () => workers.attachedCount === 0);
    // The detach records the next due time just after it lets the worker go: wait for it.
    const due = await until('due again at the expiry', async () => {
      const score = Number(await redis.zscore(keys.activeShows, show.id));
      return Math.abs(score - Date.parse(held!.expiresAt!)) < 1000 ? score : null;
    }, 5000);
    t.ok(due, 'the show is due again at the hold expiry');
    const delayed = await queues.get(show.id).getJobCounts('delayed');
    t.equal(delayed.delayed, 1, "the expiry job waits in the show's queue");
  });

  await t.test('holds queued back to back are decided in one transaction, in acceptance order', async (t) => {
    const show = await newShow(60); // 10 GA seats
    const queue = queues.get(show.id);
    await queue.pause();
    const cmds = Array.from({ length: 14 }, () => holdCmd(show.id));
    for (const cmd of cmds) await queues.add('hold', cmd);
    await redis.zadd(keys.activeShows, Date.now(), show.id);
    await queue.resume();
    const docs = await until('all decided', async () => {
      const all = await Promise.all(cmds.map((c) => doc(c.bookingId)));
      return all.every((d) => d && d.status !== 'PENDING') ? (all as Booking[]) : null;
    });
    t.same(docs.map((d) => d.status), [...Array(10).fill('HELD'), ...Array(4).fill('REJECTED')], 'the first ten accepted won');
    const decidedAt = await sql<{ at: Date }[]>`
      select distinct at from booking_events where booking_id = any(${cmds.map((c) => c.bookingId)}::uuid[]) and from_status = 'PENDING'`;
    t.equal(decidedAt.length, 1, 'one transaction (one now()) decided all fourteen');
    await until('queue drained', async () => {
      const counts = await queue.getJobCounts('wait', 'prioritized', 'active', 'completed');
      return counts.prioritized === 0 && counts.wait === 0 && counts.active === 0;
    });
  });

  await t.test('a confirm queued behind many holds is decided before them', async (t) => {
    const show = await newShow(60);
    const held = holdCmd(show.id);
    await holdSeats(sql, held);
    const queue = queues.get(show.id);
    await queue.pause();
    const holds = Array.from({ length: 45 }, () => holdCmd(show.id));
    for (const cmd of holds) await queues.add('hold', cmd);
    await queues.add('confirm', { bookingId: held.bookingId, showId: show.id, paymentToken: 'tok_visa' });
    await redis.zadd(keys.activeShows, Date.now(), show.id);
    await queue.resume();
    await until('all decided', async () => {
      const all = await Promise.all([held, ...holds].map((c) => doc(c.bookingId)));
      return all.every((d) => d && d.status !== 'PENDING' && d.status !== 'HELD') || all.slice(1).every((d) => d && d.status !== 'PENDING');
    });
    const [order] = await sql<{ confirmedFirst: boolean }[]>`
      select (select confirmed_at from bookings where id = ${held.bookingId}) <
             (select min(coalesce(held_at, rejected_at)) from bookings where id = any(${holds.map((c) => c.bookingId)}::uuid[])) as confirmed_first`;
    t.equal(order?.confirmedFirst, true, 'the confirm did not wait for the 45 holds queued before it');
  });

  await t.test('confirms queued back to back are decided in one transaction, each answered on its own', async (t) => {
    const show = await newShow(60);
    const held = Array.from({ length: 6 }, () => holdCmd(show.id));
    for (const cmd of held) await holdSeats(sql, cmd);
    const queue = queues.get(show.id);
    for (const cmd of held) await queues.add('expire', { bookingId: cmd.bookingId, showId: show.id }, { delay: 60_000 });
    await queue.pause();
    const jobs: Job[] = [];
    for (const [i, cmd] of held.entries()) {
      jobs.push(await queues.add('confirm', { bookingId: cmd.bookingId, showId: show.id, paymentToken: i === 3 ? 'tok_declined' : 'tok_visa' }));
    }
    await redis.zadd(keys.activeShows, Date.now(), show.id);
    await queue.resume();
    const results = await until('every confirm answered', async () => {
      const raw = await Promise.all(jobs.map((j) => redis.get(keys.commandResult(j.id!))));
      return raw.every(Boolean) ? raw.map((r) => JSON.parse(r!) as { outcome: string }) : null;
    });
    t.same(results.map((r) => r.outcome), ['OK', 'OK', 'OK', 'PAYMENT_DECLINED', 'OK', 'OK']);
    const confirmedAt = await sql<{ at: Date }[]>`
      select distinct confirmed_at as at from bookings where id = any(${held.map((c) => c.bookingId)}::uuid[]) and status = 'CONFIRMED'`;
    t.equal(confirmedAt.length, 1, 'one transaction confirmed all five');
    const [charges] = await sql<{ n: number }[]>`select count(*)::int as n from payments where booking_id = any(${held.map((c) => c.bookingId)}::uuid[])`;
    t.equal(charges?.n, 5, 'five charges, none for the declined card');
    const expiries = await queue.getJobs(['delayed']);
    t.same(expiries.map((j) => j.data.bookingId), [held[3]!.bookingId], 'the confirmed holds no longer have an expiry job; the declined one keeps its own');
  });

  await t.test('confirms, cancels and expiries queued back to back are decided together, each as it would be alone', async (t) => {
    const show = await newShow(60);
    const h = Array.from({ length: 8 }, () => holdCmd(show.id));
    for (const cmd of h) await holdSeats(sql, cmd);
    // h7 is already confirmed: its cancel is refunded.
    await bookingCommands(sql, deps.payments, [{ kind: 'confirm', bookingId: h[7]!.bookingId, paymentToken: 'tok_visa' }]);
    // h4 and h5 are past their expiry; h6 is live (its expiry job fires early).
    await sql`update bookings set expires_at = now() - interval '1 second' where id = any(${[h[4]!.bookingId, h[5]!.bookingId]}::uuid[])`;
    const queue = queues.get(show.id);
    await queue.pause();
    const ref = (i: number) => ({ bookingId: h[i]!.bookingId, showId: show.id });
    const commands = [
      await queues.add('confirm', { ...ref(0), paymentToken: 'tok_visa' }),
      await queues.add('cancel', { ...ref(1), reason: null }),
      await queues.add('expire', ref(4)),
      await queues.add('confirm', { ...ref(2), paymentToken: 'tok_declined' }),
      await queues.add('expire', ref(5)),
      await queues.add('cancel', { ...ref(3), reason: 'changed my mind' }),
      await queues.add('cancel', { ...ref(7), reason: null }),
    ];
    const early = await queues.add('expire', ref(6));
    await redis.zadd(keys.activeShows, Date.now(), show.id);
    await queue.resume();
    await until('the early expiry is delayed again', async () => (await early.getState()) === 'delayed');
    const statuses = await Promise.all(h.map(async (c) => (await sql<{ status: string }[]>`select status from bookings where id = ${c.bookingId}`)[0]?.status));
    t.same(statuses, ['CONFIRMED', 'CANCELLED', 'HELD', 'CANCELLED', 'EXPIRED', 'EXPIRED', 'HELD', 'CANCELLED'], 'each command had the effect it has alone');
    const published = await Promise.all([0, 1, 2, 3, 4, 5, 7].map(async (i) => (await doc(h[i]!.bookingId))?.status));
    t.same(published, [0, 1, 2, 3, 4, 5, 7].map((i) => statuses[i]), 'and every decided booking has its document in Redis');
    const money = await sql<{ kind: string; n: number }[]>`
      select kind, count(*)::int as n from payments where booking_id = ${h[7]!.bookingId} group by kind order by kind`;
    t.same(money.map((m) => [m.kind, m.n]), [['CHARGE', 1], ['REFUND', 1]], 'the confirmed booking was refunded once');
    const results = await Promise.all(
      [0, 1, 3, 5, 6].map(async (i) => (JSON.parse((await redis.get(keys.commandResult(commands[i]!.id!)))!) as { outcome: string }).outcome),
    );
    t.same(results, ['OK', 'OK', 'PAYMENT_DECLINED', 'OK', 'OK'], 'every confirm and cancel got its own result');
    const decidedAt = await sql<{ at: Date }[]>`
      select distinct at from booking_events
       where booking_id = any(${h.map((c) => c.bookingId)}::uuid[]) and to_status in ('CONFIRMED', 'CANCELLED', 'EXPIRED')`;
    t.equal(decidedAt.length, 2, "one transaction (one now()) decided all seven (the other time is h7's confirmation)");
    const counts = await queue.getJobCounts('wait', 'active', 'delayed');
    t.same(counts, { wait: 0, active: 0, delayed: 1 }, 'only the early expiry is left, delayed');
    t.same((await checkInvariants(db.url, show.id)).violations, []);
  });

  await t.test('peekJobs reads the jobs next due in the order BullMQ takes them', async (t) => {
    const show = await newShow(60);
    const queue = queues.get(show.id);
    await queue.pause();
    const waits = [];
    for (let i = 0; i < 4; i++) waits.push(await queues.add('cancel', { bookingId: randomUUID(), showId: show.id, reason: `r${i}` }));
    const holds = [];
    for (let i = 0; i < 3; i++) holds.push(await queues.add('hold', holdCmd(show.id)));
    const peek = createPeekJobs(redis, queues);
    const fromWait = await peek(show.id, 'wait', 3);
    t.same(fromWait.map((j) => j.id), (await queue.getJobs(['wait'], 0, 2, true)).map((j) => j.id), 'the wait list, oldest first, as getJobs gives it');
    t.same(fromWait.map((j) => j.id), waits.slice(0, 3).map((j) => j.id));
    t.same(fromWait.map((j) => JSON.parse(j.data!).reason), ['r0', 'r1', 'r2'], 'with their data');
    const fromSet = await peek(show.id, 'prioritized', 10);
    t.same(fromSet.map((j) => [j.id, j.name]), holds.map((j) => [j.id, 'hold']), 'the prioritized set, lowest score first');
    await redis.del(queue.toKey(holds[1]!.id!));
    t.same((await peek(show.id, 'prioritized', 10)).map((j) => j.name), ['hold', null, 'hold'], 'a job whose hash is gone has no name');
    await queue.obliterate({ force: true });
  });

  await t.test('a malformed job fails once, loudly, without retries', async (t) => {
    const show = await newShow(60);
    const job = await queues.get(show.id).add('hold', { nonsense: true }, { attempts: 5, jobId: `${randomUUID()}.hold` });
    await redis.zadd(keys.activeShows, Date.now(), show.id);
    await until('failed', async () => (await job.getState()) === 'failed');
    const failed = await queues.get(show.id).getJob(job.id!);
    t.equal(failed?.attemptsMade, 1);
    t.match(failed?.failedReason, /malformed hold job/);
  });

  await t.test('a hold no transaction can decide (its show does not exist) is decided REJECTED as INVALID_REQUEST at once, not retried', async (t) => {
    const showId = randomUUID();
    const cmd = holdCmd(showId);
    const job = await queues.add('hold', cmd);
    await redis.zadd(keys.activeShows, Date.now(), showId);
    const decided = await until('decided', async () => doc(cmd.bookingId));
    t.equal(decided.status, 'REJECTED');
    t.equal(decided.rejection?.code, 'INVALID_REQUEST');
    t.notOk(await queues.get(showId).getJob(job.id!), 'the job completed (and was removed) on its first attempt');
  });

  await t.test('an expiry job that fires before expiresAt (by database time) goes back to delayed', async (t) => {
    const show = await newShow(60);
    const cmd = holdCmd(show.id);
    await holdSeats(sql, cmd);
    const job = await queues.add('expire', { bookingId: cmd.bookingId, showId: show.id });
    await redis.zadd(keys.activeShows, Date.now(), show.id);
    await until('delayed again', async () => (await job.getState()) === 'delayed');
    const [row] = await sql`select status from bookings where id = ${cmd.bookingId}`;
    t.equal(row?.status, 'HELD');
  });

  await t.test('the sweep releases a hold whose delayed job was lost, and publishes it', async (t) => {
    const show = await newShow(1);
    const cmd = holdCmd(show.id);
    await holdSeats(sql, cmd); // no expiry job scheduled: as if it was lost
    await sleep(1200);
    const released = await runSweep(deps, { graceMs: 0 });
    t.ok(released >= 1);
    t.equal((await doc(cmd.bookingId))?.status, 'EXPIRED');
    const [seats] = await sql`select count(*)::int as n from seats where show_id = ${show.id} and status = 'AVAILABLE'`;
    t.equal(seats?.n, 10, 'its seats are available again');
  });

  await t.test('a show lease is held by one process at a time, and released at once when asked', async (t) => {
    const showId = randomUUID();
    const redis2 = redis.duplicate();
    t.teardown(() => redis2.quit());
    const a = new ShowLeases(redis, keys, 2000);
    const b = new ShowLeases(redis2, keys, 2000);
    t.same(await a.claim([showId]), [0], 'the first claim gets it');
    const [left] = await b.claim([showId]);
    t.ok(left! > 0 && left! <= 2000, `another process is told how long it is still held (${left} ms)`);
    t.same(await a.claim([showId]), [0], 'the owner renews it');
    await b.release([showId]);
    t.equal(await redis.get(keys.showLease(showId)) !== null, true, "a process cannot release another's lease");
    await a.release([showId]);
    t.same(await b.claim([showId]), [0], 'once released, another process gets it at once');
    await b.release([showId]);
  });

  await t.test('two worker processes: each show is attached by one of them at a time, and the other takes over', async (t) => {
    const other = await anotherProcess(t, { lockMs: 2000 });

    const shows = await Promise.all(Array.from({ length: 6 }, () => newShow(60)));
    const enqueue = async (n: number) => {
      const cmds = shows.flatMap((s) => Array.from({ length: n }, () => holdCmd(s.id)));
      for (const cmd of cmds) await queues.add('hold', cmd);
      for (const s of shows) {
        await redis.zadd(keys.activeShows, Date.now(), s.id);
        await redis.publish(keys.wakeChannel, s.id);
      }
      return cmds;
    };
    const allDecided = (cmds: { bookingId: string }[]) =>
      until('all decided', async () => (await Promise.all(cmds.map((c) => doc(c.bookingId)))).every((d) => d && d.status !== 'PENDING'));

    const first = await enqueue(3);
    let most = 0;
    let mostWorkers = 0;
    for (let i = 0; i < 20; i++) {
      const counts = await Promise.all(shows.map((s) => queues.get(s.id).getWorkersCount()));
      mostWorkers = Math.max(mostWorkers, ...counts);
      most = Math.max(most, ...shows.map((s) => Number(workers.isAttached(s.id)) + Number(other.isAttached(s.id))));
      await sleep(25);
    }
    await allDecided(first);
    t.equal(most, 1, 'no show was ever attached by both processes');
    t.ok(mostWorkers <= 1, 'no show ever had two BullMQ workers');
    t.ok(workers.attachedCount + other.attachedCount >= 1, 'the shows were taken');

    // The second process stops (a scale-down): the first takes its shows over.
    await other.close();
    const second = await enqueue(1);
    await allDecided(second);
    const docs = await Promise.all([...first, ...second].map((c) => doc(c.bookingId)));
    t.same(docs.filter((d) => d?.status === 'HELD').length, 24, 'every hold decided (4 per show, 10 seats each)');
    for (const s of shows) t.same((await checkInvariants(db.url, s.id)).violations, [], `show ${s.id.slice(0, 8)}: invariants hold`);
  });

  await t.test('two processes, many shows filling up at once: every show decides its holds first come, first served', async (t) => {
    await anotherProcess(t, { lockMs: 2000 });
    const shows = await Promise.all(Array.from({ length: 8 }, () => createGaShow(sql, { capacity: 5, holdTtlSeconds: 60 })));
    // Each show's holds are accepted one after another, the shows all at once.
    const perShow = await Promise.all(
      shows.map(async (s) => {
        const cmds = [];
        for (let i = 0; i < 12; i++) {
          const cmd = holdCmd(s.id);
          await queues.add('hold', cmd);
          cmds.push(cmd);
          if (i % 4 === 0) {
            await redis.zadd(keys.activeShows, Date.now(), s.id);
            await redis.publish(keys.wakeChannel, s.id);
          }
        }
        return cmds;
      }),
    );
    for (const [i, cmds] of perShow.entries()) {
      const docs = await until('all decided', async () => {
        const all = await Promise.all(cmds.map((c) => doc(c.bookingId)));
        return all.every((d) => d && d.status !== 'PENDING') ? (all as Booking[]) : null;
      });
      t.same(docs.map((d) => d.status), [...Array(5).fill('HELD'), ...Array(7).fill('REJECTED')], `show ${i}: the first five accepted won`);
      t.same((await checkInvariants(db.url, shows[i]!.id)).violations, [], `show ${i}: invariants hold`);
    }
  });

  if (drained) {
    await t.test('drained commands never go through active: no BullMQ job cycle', async (t) => {
      const show = await newShow(60);
      const cmds = Array.from({ length: 5 }, () => holdCmd(show.id));
      for (const cmd of cmds) await queues.add('hold', cmd);
      await redis.zadd(keys.activeShows, Date.now(), show.id);
      await until('all held', async () => (await Promise.all(cmds.map((c) => doc(c.bookingId)))).every((d) => d?.status === 'HELD'));
      const queue = queues.get(show.id);
      const events = await redis.xrange(queue.keys.events!, '-', '+');
      t.same(events.filter(([, f]) => f[1] === 'active'), [], 'no job was moved to active');
      t.equal(await queue.getWorkersCount(), 0, 'and no BullMQ worker was started');
      // Jobs are retired once everything of their batch is published, the show's availability
      // too (here first rebuilt: the show was made without the API), a moment after the documents.
      const counts = () => queue.getJobCounts('wait', 'prioritized', 'active');
      await until('retired', async () => Object.values(await counts()).every((n) => n === 0), 5000).catch(() => null);
      t.same(await counts(), { wait: 0, prioritized: 0, active: 0 }, 'every decided job was retired');
    });

    await t.test('a job left active by a dead worker sends its show to a BullMQ worker, which recovers it', async (t) => {
      const show = await newShow(60);
      const cmd = holdCmd(show.id);
      await queues.add('hold', cmd);
      const behind = holdCmd(show.id);
      await queues.add('hold', behind);
      // A worker takes the job into active and dies with it (its lock is never renewed).
      const conn = redis.duplicate();
      const dead = new Worker(showQueueName(show.id), null, { connection: conn, prefix, lockDuration: 500, autorun: false });
      t.ok(await dead.getNextJob(randomUUID()), 'the job is active');
      await dead.close();
      await conn.quit();
      await redis.zadd(keys.activeShows, Date.now(), show.id);
      await until('both held', async () => (await doc(cmd.bookingId))?.status === 'HELD' && (await doc(behind.bookingId))?.status === 'HELD', 15_000);
      t.ok((await queues.get(show.id).getWorkersCount()) >= 1, 'a BullMQ worker took the show over');
      t.same((await checkInvariants(db.url, show.id)).violations, []);
    });
  }

  await t.test('a paused process (Postgres away) lets its leases run out, and on resume lets go of shows taken over', async (t) => {
    // A process of its own that keeps idle shows attached; the shared one stays out of the way.
    await workers.pause();
    t.teardown(() => workers.resume());
    const solo = await anotherProcess(t, { lockMs: 1000 });
    const show = await newShow(60);
    const hold = async () => {
      const cmd = holdCmd(show.id);
      await queues.add('hold', cmd);
      await redis.zadd(keys.activeShows, Date.now(), show.id);
      await redis.publish(keys.wakeChannel, show.id);
      await until('decided', async () => (await doc(cmd.bookingId))?.status === 'HELD');
    };
    await hold();
    t.ok(await redis.get(keys.showLease(show.id)), 'the attached show is leased');

    await solo.pause();
    await until('lease run out', async () => (await redis.exists(keys.showLease(show.id))) === 0, 5000);
    const taker = new ShowLeases(redis, keys, 60_000);
    t.same(await taker.claim([show.id]), [0], 'another process can take the show over');
    await solo.resume();
    await until('our worker let go', async () => !solo.isAttached(show.id) && (await queues.get(show.id).getWorkersCount()) === 0, 5000);
    t.pass('on resume, the show taken over is let go');

    await taker.release([show.id]);
    await hold();
    t.same((await checkInvariants(db.url, show.id)).violations, []);
  });
});
