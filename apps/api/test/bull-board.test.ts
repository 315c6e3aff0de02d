import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import t from 'tap';
import { jobId, redisKeys } from '@booking/contracts';
import { ADMIN_TOKEN, startSystem } from './helpers/system.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

interface BoardQueue {
  name: string;
  description?: string;
  isPaused: boolean;
  counts: Record<string, number>;
}

t.test('queue board', async (t) => {
  // No worker: the booking stays queued in its show's queue, where the board counts it.
  const sys = await startSystem(t, { workers: 0 });
  const show = await sys.createShow({ name: 'Board show' });
  const idle = await sys.createShow({ name: 'Idle show' });
  const booked = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 2 }] });
  t.equal(booked.status, 202, 'the booking is accepted and waits in the queue');
  const queueName = `show-${show.id}`;
  const login = { authorization: basic('ops', ADMIN_TOKEN) };
  const boardQueues = async () => {
    const res = await sys.http<{ queues: BoardQueue[] }>('GET', '/admin/queues/api/queues', { headers: login });
    if (res.status !== 200) throw new Error(`GET /admin/queues/api/queues: ${res.status} ${res.text}`);
    return res.body.queues;
  };

  await t.test('without credentials every board path answers 401 with a Basic challenge', async (t) => {
    const paths: [string, string][] = [
      ['GET', '/admin/queues'],
      ['GET', '/admin/queues/'],
      ['GET', `/admin/queues/queue/${queueName}`],
      ['GET', '/admin/queues/static/images/logo.svg'],
      ['GET', '/admin/queues/api/queues'],
      ['PUT', `/admin/queues/api/queues/${queueName}/pause`],
    ];
    for (const [method, path] of paths) {
      const res = await sys.http(method, path);
      t.equal(res.status, 401, `${method} ${path}`);
      t.equal(res.headers.get('www-authenticate'), 'Basic realm="booking-admin"', 'the browser is asked to log in');
      t.match(res.headers.get('content-type'), /^application\/problem\+json/);
      t.same(Object.keys(res.body ?? {}).sort(), ['code', 'detail', 'instance', 'status', 'title', 'type'], 'a problem document, nothing of the board');
      t.equal(res.body?.code, 'UNAUTHORIZED');
    }
    const queues = await boardQueues();
    t.notOk(queues.find((q) => q.name === queueName)?.isPaused, 'the unauthenticated pause did nothing');
  });

  await t.test('a wrong token is refused, as Bearer or as the Basic password', async (t) => {
    for (const authorization of [
      'Bearer not-the-admin-token',
      basic('ops', 'not-the-admin-token'),
      basic(ADMIN_TOKEN, ''),
      `Basic ${Buffer.from(ADMIN_TOKEN).toString('base64')}`,
      'Basic !!!',
      ADMIN_TOKEN,
    ]) {
      const res = await sys.http('GET', '/admin/queues/api/queues', { headers: { authorization } });
      t.equal(res.status, 401, authorization);
      t.equal(res.headers.get('www-authenticate'), 'Basic realm="booking-admin"');
    }
  });

  await t.test('the admin token opens the page, as Bearer or as the Basic password with any user name', async (t) => {
    for (const authorization of [`Bearer ${ADMIN_TOKEN}`, basic('ops', ADMIN_TOKEN), basic('', ADMIN_TOKEN)]) {
      const res = await sys.http('GET', '/admin/queues', { headers: { authorization } });
      t.equal(res.status, 200, authorization);
      t.match(res.headers.get('content-type'), /^text\/html/);
      t.match(res.text, '<base href="/admin/queues/"', 'assets resolve under /admin/queues/');
      t.match(res.text, '<title>Booking queues</title>');
    }
    const logo = await sys.http('GET', '/admin/queues/static/images/logo.svg', { headers: login });
    t.equal(logo.status, 200, 'static assets are served to a logged-in browser');
    t.match(logo.headers.get('content-type'), /^image\/svg\+xml/);
  });

  await t.test('the other admin routes still take the Bearer token only', async (t) => {
    const path = `/v1/shows/${show.id}/bookings`;
    const viaBasic = await sys.http('GET', path, { headers: login });
    t.equal(viaBasic.status, 401);
    t.equal(viaBasic.headers.get('www-authenticate'), 'Bearer realm="booking-admin"');
    t.equal((await sys.http('GET', path, { admin: true })).status, 200);
  });

  await t.test("the board's API lists the queue of the booked show with its job counts, and the newest shows", async (t) => {
    const queues = await boardQueues();
    const booked = queues.find((q) => q.name === queueName);
    t.ok(booked, `${queueName} is listed`);
    t.equal(booked?.description, 'Board show', "described by the show's name");
    const counts = booked?.counts ?? {};
    t.equal((counts.prioritized ?? 0) + (counts.waiting ?? 0), 1, 'one hold waits to be decided');
    t.equal(counts.failed, 0);
    const other = queues.find((q) => q.name === `show-${idle.id}`);
    t.ok(other, 'a show without work is listed too (from Postgres)');
    t.equal(Object.values(other?.counts ?? { x: 1 }).reduce((a, b) => a + b, 0), 0, 'with no jobs');
  });

  await t.test('a show created after the page was opened is listed on the next call', async (t) => {
    const later = await sys.createShow({ name: 'Later show' });
    t.ok((await boardQueues()).some((q) => q.name === `show-${later.id}`));
  });

  await t.test('writes that would reorder commands or strand bookings are refused; pause and resume work', async (t) => {
    const base = `/admin/queues/api/queues/${queueName}`;
    const holdJob = jobId.hold({ bookingId: booked.body.id });
    const refused: [string, string, unknown?][] = [
      ['PUT', `${base}/concurrency`, { concurrency: 5 }],
      ['PUT', `${base}/empty`],
      ['PUT', `${base}/obliterate`],
      ['PUT', `${base}/clean/wait`],
      ['PUT', `${base}/${holdJob}/clean`],
      ['PATCH', `${base}/${holdJob}/priority`, { priority: 1 }],
      ['POST', `${base}/add`, { name: 'hold', data: {} }],
    ];
    for (const [method, path, body] of refused) {
      const res = await sys.http(method, path, { headers: login, body });
      t.equal(res.status, 403, `${method} ${path.slice(base.length) || path}`);
    }
    const job = await sys.http('GET', `${base}/${holdJob}`, { headers: login });
    t.equal(job.status, 200, 'the undecided hold is still queued');
    t.equal(await sys.app.showQueues.get(show.id).getGlobalConcurrency(), null, 'concurrency untouched');

    t.ok([200, 204].includes((await sys.http('PUT', `${base}/pause`, { headers: login })).status), 'pause');
    t.equal((await boardQueues()).find((q) => q.name === queueName)?.isPaused, true);
    t.ok([200, 204].includes((await sys.http('PUT', `${base}/resume`, { headers: login })).status), 'resume');
    t.equal((await boardQueues()).find((q) => q.name === queueName)?.isPaused, false);
  });

  await t.test('nothing under /admin/queues is in the OpenAPI document', async (t) => {
    const doc = await sys.http('GET', '/docs/json');
    t.equal(doc.status, 200);
    t.same(Object.keys(doc.body.paths).filter((p) => p.startsWith('/admin')), []);
    t.notMatch(doc.text, 'admin/queues');
  });

  await t.test('in a browser, Basic auth opens the board and it shows the queue of the show', async (t) => {
    if (!existsSync(CHROMIUM)) return t.plan(0, `no Chromium at ${CHROMIUM}`);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    t.teardown(() => browser.close());
    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN_TOKEN } });
    const page = await context.newPage();
    // The page links a web font: keep the browser off the network.
    await page.route((url) => url.origin !== sys.url, (route) => route.abort());
    const res = await page.goto(`${sys.url}/admin/queues`);
    t.equal(res?.status(), 200);
    await page.getByText(queueName).first().waitFor({ timeout: 20_000 });
    t.pass(`the page shows ${queueName}`);
  });

  await t.test('at most 200 queues are listed, shows with work first', async (t) => {
    const keys = redisKeys(sys.prefix);
    const busy = Array.from({ length: 250 }, () => randomUUID());
    await sys.redis.zadd(keys.activeShows, ...busy.flatMap((id) => [Date.now(), id]));
    t.teardown(async () => {
      await sys.redis.zrem(keys.activeShows, ...busy);
    });
    const queues = await boardQueues();
    t.equal(queues.length, 200);
    t.ok(queues.some((q) => q.name === queueName), 'the booked show has been due longest, so it is kept');
    t.notOk(queues.some((q) => q.name === `show-${idle.id}`), 'an idle show is what gives way');
  });
});
