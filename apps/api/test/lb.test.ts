import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Booking } from '@booking/contracts';
import { freePort, installed, sleep, startSystem } from './helpers/system.js';

const CONFIG = fileURLToPath(new URL('../../../infra/lb/haproxy.cfg', import.meta.url));

// The compose `lb` service's HAProxy, run as a plain process with infra/lb/haproxy.cfg as is, in
// front of the real API: what the compose stack would do, minus Docker (no engine runs here).
t.test('the load balancer in front of the API', async (t) => {
  if (!(await installed('haproxy'))) {
    t.plan(0, 'haproxy is not installed (apt-get install haproxy to run the load balancer)');
    return;
  }
  // No worker yet: the first subtest starts it while a long-poll waits, so the poll is held.
  const sys = await startSystem(t, { workers: 0 });
  const apiPort = new URL(sys.url).port;
  const [lbPort, metricsPort] = [await freePort(), await freePort()];
  // The resolvers section needs a nameserver (Docker's 127.0.0.11 does not exist outside a
  // container). An IP backend never asks it: this one only counts the queries, to prove that.
  const dns = createSocket('udp4');
  let dnsQueries = 0;
  dns.on('message', () => dnsQueries++);
  dns.bind(0, '127.0.0.1');
  await once(dns, 'listening');
  t.teardown(() => new Promise<void>((resolve) => dns.close(() => resolve())));
  const lbUrl = `http://127.0.0.1:${lbPort}`;

  const haproxy = spawn('haproxy', ['-f', CONFIG], {
    env: {
      ...process.env,
      API_BACKEND: `127.0.0.1:${apiPort}`,
      API_SLOTS: '1',
      LB_BIND: `127.0.0.1:${lbPort}`,
      LB_METRICS_BIND: `127.0.0.1:${metricsPort}`,
      LB_DNS: `127.0.0.1:${dns.address().port}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  haproxy.stdout.on('data', (d) => (output += d));
  haproxy.stderr.on('data', (d) => (output += d));
  // 'close' rather than 'exit': by then every line haproxy wrote has been read.
  const closed = once(haproxy, 'close');
  t.teardown(async () => {
    if (haproxy.exitCode === null && haproxy.signalCode === null) {
      haproxy.kill('SIGTERM');
      const timer = setTimeout(() => haproxy.kill('SIGKILL'), 3000);
      await closed;
      clearTimeout(timer);
    }
    // Whatever went wrong, haproxy's own words are in the failure.
    if (!t.passing()) t.comment(`haproxy output:\n${output || '(none)'}`);
    let alive = true;
    try {
      process.kill(haproxy.pid!, 0);
    } catch {
      alive = false;
    }
    if (alive) throw new Error(`haproxy (pid ${haproxy.pid}) is still running`);
  });

  // Servers start UP, with the IP literal as their address despite `init-addr none`: the LB
  // answers at once, but allow for the health checks (every 2 s, rise 2) all the same.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (haproxy.exitCode !== null) throw new Error(`haproxy exited with ${haproxy.exitCode}:\n${output}`);
    const ok = await fetch(`${lbUrl}/health/live`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`the load balancer did not answer within 10 s:\n${output}`);
    await sleep(100);
  }

  await t.test('a booking made through the load balancer is accepted, and its long-poll is answered with the decision', async (t) => {
    const show = await sys.createShow();
    const res = await fetch(`${lbUrl}/v1/shows/${show.id}/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ tier: 'GA', quantity: 2 }] }),
    });
    const accepted = (await res.json()) as Booking;
    t.equal(res.status, 202, 'accepted (no worker runs yet, so it is PENDING)');
    t.equal(res.headers.get('location'), `/v1/bookings/${accepted.id}`);
    const etag = res.headers.get('etag');
    t.ok(etag, 'with the ETag of the PENDING version');

    // The long-poll is in flight (held by the API, through HAProxy) before the worker exists,
    // so what answers it is the change, not a booking that was already decided.
    const started = Date.now();
    const poll = fetch(`${lbUrl}/v1/bookings/${accepted.id}`, { headers: { prefer: 'wait=5', 'if-none-match': etag! } });
    await sys.startWorker();
    let reply = await poll;
    t.equal(reply.headers.get('preference-applied'), 'wait=5', 'the API held the request');
    // A slow worker start may outlast the 5 s wait (304): then poll again, as a client would.
    let decided: Booking | undefined;
    for (let i = 0; i < 6; i++) {
      if (reply.status === 200) {
        decided = (await reply.json()) as Booking;
        if (decided.status !== 'PENDING') break;
      } else {
        t.equal(reply.status, 304, 'not modified while it waits');
        await reply.arrayBuffer();
      }
      reply = await fetch(`${lbUrl}/v1/bookings/${accepted.id}`, { headers: { prefer: 'wait=5', 'if-none-match': reply.headers.get('etag') ?? etag! } });
    }
    t.equal(decided?.status, 'HELD', 'decided through the load balancer');
    t.equal(decided?.seats.length, 2);
    t.ok(Date.now() - started < 30_000, 'within the long-poll waits, not a timeout');
  });

  await t.test('GET /metrics through the load balancer is 404, while the API still serves it on its own port', async (t) => {
    const hidden = await fetch(`${lbUrl}/metrics`);
    t.equal(hidden.status, 404);
    t.match(hidden.headers.get('content-type'), /^application\/problem\+json/);
    await hidden.arrayBuffer();
    const direct = await fetch(`${sys.url}/metrics`);
    t.equal(direct.status, 200);
    t.match(await direct.text(), /^# HELP /m);
  });

  await t.test("HAProxy's own Prometheus exporter answers on the metrics bind", async (t) => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    t.equal(res.status, 200);
    const text = await res.text();
    t.match(text, /^haproxy_/m);
    t.match(text, /^haproxy_backend_active_servers\{proxy="api_live"\} 1$/m, 'the API is an active server');
  });

  t.equal(dnsQueries, 0, 'the IP backend was never looked up in DNS');

  // Last: it stops the API for good (startSystem's teardown closes it again, harmlessly).
  await t.test('with the API stopped, the load balancer answers 503 problem+json with Retry-After', async (t) => {
    await sys.app.close();
    // Until the health checks (every 2 s, fall 2) mark the server down, HAProxy retries each
    // refused connection (retries 2, one second apart) before answering 503: ~2 s. After
    // that it answers at once. Poll for an answer that is both the problem document and fast.
    const isProblem = (r: Response) => r.status === 503 && /^application\/problem\+json/.test(r.headers.get('content-type') ?? '');
    let res: Response | undefined;
    let elapsed = Infinity;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const started = Date.now();
      res = await fetch(`${lbUrl}/v1/shows`, { signal: AbortSignal.timeout(5000) });
      elapsed = Date.now() - started;
      if (isProblem(res) && elapsed < 1000) break;
      await res.arrayBuffer();
      await sleep(100);
    }
    t.equal(res?.status, 503);
    t.match(res?.headers.get('content-type'), /^application\/problem\+json/);
    t.equal(res?.headers.get('retry-after'), '1');
    t.match(await res?.json(), { status: 503, code: 'SERVICE_UNAVAILABLE' });
    t.ok(elapsed < 1000, `answered within 1 s (${elapsed} ms)`);
  });
});
