import t, { type Test } from 'tap';
import { ShowQueues } from '@booking/contracts';
import { freePort, sleep, startSystem, type System, type WorkerProcess } from './helpers/system.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

// The worker reaches Postgres through a proxy the test can cut, so the outage is real for the
// worker (reset connections, then refused ones) while the API and the checks use Postgres
// directly, and other test files running beside this one are not disturbed.
async function outageSystem(t: Test, workerEnv: Record<string, string> = {}) {
  const sys = await startSystem(t, { workers: 0 });
  const target = new URL(sys.db.url);
  const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  await proxy.start();
  t.teardown(() => proxy.close());
  const viaProxy = new URL(sys.db.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const metricsPort = await freePort();
  const env = { DATABASE_URL: viaProxy.toString(), WORKER_METRICS_PORT: String(metricsPort), WORKER_IDLE_MS: '60000', ...workerEnv };
  const worker = await sys.startWorker(env);
  const queues = new ShowQueues(sys.redis, sys.prefix);
  t.teardown(() => queues.close());
  const postgresUp = async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return Number(/^booking_worker_postgres_up (\S+)$/m.exec(text)?.[1]);
  };
  return { sys, proxy, worker, queues, env, postgresUp };
}

async function bookMany(sys: System, showId: string, n: number) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await sys.book(showId, { items: [{ tier: 'GA', quantity: 1 }] });
    if (res.status !== 202) throw new Error(`booking: ${res.status} ${res.text}`);
    ids.push(res.body.id);
  }
  return ids;
}

/** Every job of the show's queue that is not finished: its state and the attempts it has spent. */
async function unfinishedJobs(queues: ShowQueues, showId: string) {
  const queue = queues.get(showId);
  const jobs = await queue.getJobs(['wait', 'prioritized', 'active', 'delayed', 'failed']);
  return Promise.all(jobs.map(async (j) => ({ id: j.id, name: j.name, state: await j.getState(), attemptsMade: j.attemptsMade })));
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test('Postgres outage while jobs run: the worker holds them, spends no attempt, and resumes', async (t) => {
  // The sweep is off so the outage is first met by a job, in the middle of its work.
  const { sys, proxy, worker, queues, postgresUp } = await outageSystem(t, { SWEEP_INTERVAL_MS: '3600000' });
  const show = await sys.createShow();
  const [first] = await bookMany(sys, show.id, 1);
  t.equal((await sys.decided(first!)).status, 'HELD', 'decided while Postgres is up');
  t.equal(await postgresUp(), 1, 'booking_worker_postgres_up is 1');

  await proxy.cut();
  const during = await bookMany(sys, show.id, 6);
  await waitFor('the worker to notice', async () => (await postgresUp()) === 0);
  // Long enough for a failing job to have spent several retries (they start at 100 ms, doubling).
  await sleep(3000);
  const held = await unfinishedJobs(queues, show.id);
  const holds = held.filter((j) => j.name === 'hold');
  t.equal(holds.length, 6, 'every hold accepted during the outage is still queued or active');
  t.same(holds.filter((j) => j.state === 'failed' || j.state === 'delayed'), [], 'none failed or was put back for a retry');
  t.same(holds.filter((j) => j.attemptsMade > 0), [], 'none spent an attempt');
  t.ok(holds.filter((j) => j.state === 'active').length <= 1, 'at most the job that met the outage is active: the queue is paused');
  for (const id of during) t.equal((await sys.http('GET', `/v1/bookings/${id}`)).body.status, 'PENDING', 'still PENDING, not failed');
  t.match(worker.output(), /postgres is unreachable: pausing the queues/, 'the worker says why it stopped');

  await proxy.start();
  for (const id of during) t.equal((await sys.decided(id, 30_000)).status, 'HELD', 'decided once Postgres is back');
  await waitFor('the gauge to say up', async () => (await postgresUp()) === 1);
  t.match(worker.output(), /postgres answers again: resuming the queues/);
  t.equal((await queues.get(show.id).getJobCounts('failed')).failed, 0, 'no job failed');
  const more = await bookMany(sys, show.id, 2);
  for (const id of more) t.equal((await sys.decided(id)).status, 'HELD', 'new bookings are decided as usual');
  const report = await sys.invariants(show.id);
  t.same(report.violations, [], 'invariants hold');
});

t.test('a worker stopped during a Postgres outage exits 0 and leaves its jobs queued for the next', async (t) => {
  const { sys, proxy, worker, queues, env } = await outageSystem(t, { SWEEP_INTERVAL_MS: '3600000' });
  const show = await sys.createShow();
  await proxy.cut();
  const ids = await bookMany(sys, show.id, 4);
  await waitFor('a job to meet the outage', async () => /postgres is unreachable/.test(worker.output()));
  t.equal(await worker.stop('SIGTERM'), 0, 'exits 0 without waiting for Postgres');
  const jobs = (await unfinishedJobs(queues, show.id)).filter((j) => j.name === 'hold');
  t.equal(jobs.length, 4, 'all four holds are still in the queue');
  t.same(jobs.filter((j) => j.state === 'active' || j.state === 'failed' || j.state === 'delayed'), [], 'none is left active, failed or delayed');
  t.same(jobs.filter((j) => j.attemptsMade > 0), [], 'none spent an attempt');

  await proxy.start();
  await sys.startWorker(env);
  const decided = await Promise.all(ids.map((id) => sys.decided(id, 30_000)));
  t.same(decided.map((b) => b.status), ['HELD', 'HELD', 'HELD', 'HELD'], 'the next worker decides them all');
  t.same(decided.map((b) => b.id), ids);
  const report = await sys.invariants(show.id);
  t.same(report.violations, [], 'invariants hold');
});

t.test('an outage met by the sweep pauses the queues before any job runs', async (t) => {
  const { sys, proxy, worker, queues, postgresUp } = await outageSystem(t, { SWEEP_INTERVAL_MS: '200' });
  const show = await sys.createShow();
  await proxy.cut();
  await waitFor('the worker to notice', async () => (await postgresUp()) === 0);
  const ids = await bookMany(sys, show.id, 3);
  await sleep(1000);
  const jobs = (await unfinishedJobs(queues, show.id)).filter((j) => j.name === 'hold');
  t.same(jobs.map((j) => j.state), ['prioritized', 'prioritized', 'prioritized'], 'the jobs wait in the queue, none taken');
  await proxy.start();
  for (const id of ids) t.equal((await sys.decided(id, 30_000)).status, 'HELD');
  t.match(worker.output(), /postgres answers again/);
  t.same((await sys.invariants(show.id)).violations, []);
});
