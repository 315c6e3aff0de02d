import { createServer } from 'node:net';
import t from 'tap';
import { ShowQueues, jobId, redisKeys, type Booking } from '@booking/contracts';
import { startSystem } from './helpers/system.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The value of one sample of a Prometheus text exposition, or undefined when it is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v) && Object.keys(got).length === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}

/** Every value the label takes in the samples of `name`. */
const labelValues = (text: string, name: string, label: string) =>
  new Set([...text.matchAll(new RegExp(`^${name}\\{[^}]*\\b${label}="([^"]*)"`, 'gm'))].map((m) => m[1]));

t.test('metrics', async (t) => {
  const sys = await startSystem(t, { workers: 0, workerEnv: { SWEEP_INTERVAL_MS: '100', SWEEP_GRACE_MS: '1000' } });
  const metricsPort = await freePort();
  // Idle shows stay attached, so "shows attached" does not depend on how fast this test runs.
  await sys.startWorker({ WORKER_METRICS_PORT: String(metricsPort), WORKER_IDLE_MS: '60000' });
  const keys = redisKeys(sys.prefix);
  const apiMetrics = async () => {
    const res = await sys.http('GET', '/metrics');
    if (res.status !== 200) throw new Error(`GET /metrics: ${res.status} ${res.text}`);
    return res;
  };
  const workerMetrics = async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };

  // Three GA units: two holds win, the third request is rejected SOLD_OUT.
  const show = await sys.createShow({ generalAdmission: [{ tier: 'GA', capacity: 3 }] });
  const first = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 2 }] }, { prefer: 'wait=10' });
  const keyed = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 1 }] }, { prefer: 'wait=10', 'idempotency-key': 'metrics-1' });
  const repeat = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 1 }] }, { prefer: 'wait=10', 'idempotency-key': 'metrics-1' });
  const rejected = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 1 }] }, { prefer: 'wait=10' });
  t.same([first, keyed, repeat, rejected].map((r) => [r.status, r.body.status]), [[201, 'HELD'], [201, 'HELD'], [201, 'HELD'], [201, 'REJECTED']]);
  t.equal(repeat.body.id, keyed.body.id, 'the repeat is the same booking');

  await t.test('the API serves Prometheus text with HTTP durations by route pattern and status', async (t) => {
    await sys.http('GET', `/v1/bookings/${first.body.id}`);
    await sys.http('GET', '/v1/bookings/00000000-0000-4000-8000-000000000000');
    await sys.http('GET', `/no/such/route/${first.body.id}`);
    const res = await apiMetrics();
    t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const count = (method: string, route: string, status: string) =>
      sample(res.text, 'booking_api_http_request_duration_seconds_count', { method, route, status_code: status });
    t.equal(count('POST', '/v1/shows/:showId/bookings', '201'), 4, 'four booking requests answered 201');
    t.equal(count('POST', '/v1/shows', '201'), 1);
    t.equal(count('GET', '/v1/bookings/:bookingId', '200'), 1);
    t.equal(count('GET', '/v1/bookings/:bookingId', '404'), 1);
    t.equal(count('GET', 'unmatched', '404'), 1, 'a request that matched no route gets a fixed label');
    t.ok(sample(res.text, 'booking_api_http_request_duration_seconds_bucket', { method: 'GET', route: '/v1/bookings/:bookingId', status_code: '200', le: '+Inf' }));
    const routes = labelValues(res.text, 'booking_api_http_request_duration_seconds_count', 'route');
    for (const route of routes) t.notMatch(route, /[0-9a-f]{8}-[0-9a-f]{4}/, `route label ${route} is a pattern, never a raw URL`);
    t.ok(sample(res.text, 'process_cpu_user_seconds_total') !== undefined, 'default process metrics');
    t.ok(sample(res.text, 'nodejs_eventloop_lag_seconds') !== undefined, 'default Node.js metrics');
  });

  await t.test('bookings accepted counts new bookings, not idempotent repeats', async (t) => {
    const res = await apiMetrics();
    t.equal(sample(res.text, 'booking_api_bookings_accepted_total'), 3);
  });

  await t.test('status reads say whether Redis or Postgres answered', async (t) => {
    const before = (await apiMetrics()).text;
    const reads = (text: string, source: string) => sample(text, 'booking_api_status_reads_total', { source }) ?? NaN;
    t.equal((await sys.http('GET', `/v1/bookings/${keyed.body.id}`)).status, 200);
    const afterHot = (await apiMetrics()).text;
    t.equal(reads(afterHot, 'redis') - reads(before, 'redis'), 1, 'a live booking is read from Redis');
    t.equal(reads(afterHot, 'postgres'), reads(before, 'postgres'), 'and not from Postgres');
    await sys.redis.del(keys.booking(keyed.body.id));
    t.equal((await sys.http('GET', `/v1/bookings/${keyed.body.id}`)).status, 200);
    const afterCold = (await apiMetrics()).text;
    t.equal(reads(afterCold, 'postgres') - reads(afterHot, 'postgres'), 1, 'a booking missing from Redis is read from Postgres');
  });

  await t.test('long-poll waiters are counted while they wait', async (t) => {
    const etag = (await sys.http('GET', `/v1/bookings/${first.body.id}`)).headers.get('etag')!;
    const polling = sys.http('GET', `/v1/bookings/${first.body.id}`, { headers: { 'if-none-match': etag, prefer: 'wait=2' } });
    let waiters: number | undefined;
    for (let i = 0; i < 40 && !waiters; i++) {
      waiters = sample((await apiMetrics()).text, 'booking_api_longpoll_waiters', { kind: 'booking' });
      if (!waiters) await sleep(25);
    }
    t.equal(waiters, 1, 'one request waits on a booking');
    t.equal((await polling).status, 304);
    t.equal(sample((await apiMetrics()).text, 'booking_api_longpoll_waiters', { kind: 'booking' }), 0, 'and none once it was answered');
  });

  await t.test('GET /metrics is in the OpenAPI document, tagged ops', async (t) => {
    const doc = (await sys.http('GET', '/docs/json')).body;
    const op = doc.paths?.['/metrics']?.get;
    t.ok(op, 'documented');
    t.same(op?.tags, ['ops']);
    t.ok(op?.responses?.['200']?.content?.['text/plain'], 'answers text/plain');
  });

  await t.test("the worker's /metrics has decisions by outcome, their latency, shows attached, queue depth", async (t) => {
    const res = await workerMetrics();
    t.equal(res.status, 200);
    t.match(res.type, /^text\/plain; version=0\.0\.4/);
    const m = (name: string, labels?: Record<string, string>) => sample(res.text, name, labels);
    t.equal(m('booking_worker_decisions_total', { outcome: 'HELD' }), 2);
    t.equal(m('booking_worker_decisions_total', { outcome: 'SOLD_OUT' }), 1);
    t.equal(m('booking_worker_decision_latency_seconds_count'), 3, 'one latency per decision');
    t.equal(m('booking_worker_decision_latency_seconds_bucket', { le: '+Inf' }), 3);
    t.ok(m('booking_worker_decision_latency_seconds_sum')! > 0);
    t.equal(m('booking_worker_shows_attached'), 1);
    // The two holds wait for their expiry as delayed jobs in the show's queue.
    t.equal(m('booking_worker_queue_depth', { show: show.id, state: 'delayed' }), 2);
    t.equal(m('booking_worker_queue_depth', { show: show.id, state: 'waiting' }), 0);
    t.equal(m('booking_worker_queue_depth', { show: '_other', state: 'delayed' }), 0, 'the aggregate of shows outside the top N');
    t.equal(m('booking_worker_sweep_releases_total'), 0);
    t.ok(m('process_cpu_user_seconds_total') !== undefined, 'default process metrics');
    t.ok(m('nodejs_heap_size_used_bytes') !== undefined, 'default Node.js metrics');
    t.equal((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404);
  });

  await t.test('hold releases are timed from expiresAt, by delayed job or by the sweep', async (t) => {
    const quick = await sys.createShow({ holdTtlSeconds: 1 });
    const byJob = await sys.book(quick.id, { items: [{ tier: 'GA', quantity: 1 }] }, { prefer: 'wait=10' });
    const bySweep = await sys.book(quick.id, { items: [{ tier: 'GA', quantity: 1 }] }, { prefer: 'wait=10' });
    t.same([byJob.body.status, bySweep.body.status], ['HELD', 'HELD']);
    // Lose one hold's delayed job: only the sweep can release it now.
    const queues = new ShowQueues(sys.redis, sys.prefix);
    t.teardown(() => queues.close());
    t.equal(await queues.get(quick.id).remove(jobId.expire({ bookingId: bySweep.body.id })), 1, 'the expiry job was removed');
    for (const b of [byJob.body, bySweep.body]) {
      let status = b.status;
      for (let i = 0; i < 100 && status !== 'EXPIRED'; i++) {
        await sleep(100);
        status = (await sys.http<Booking>('GET', `/v1/bookings/${b.id}`)).body.status;
      }
      t.equal(status, 'EXPIRED');
    }
    const res = await workerMetrics();
    const m = (name: string, labels?: Record<string, string>) => sample(res.text, name, labels);
    t.equal(m('booking_worker_hold_release_lag_seconds_count', { by: 'expiry' }), 1);
    t.ok(m('booking_worker_hold_release_lag_seconds_sum', { by: 'expiry' })! < 5, 'the delayed job released it soon after expiresAt');
    t.equal(m('booking_worker_hold_release_lag_seconds_count', { by: 'sweep' }), 1);
    t.ok(m('booking_worker_hold_release_lag_seconds_sum', { by: 'sweep' })! >= 1, 'the sweep released it after its grace');
    t.equal(m('booking_worker_sweep_releases_total'), 1);
  });
});
