import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import t from 'tap';
import type { Booking } from '@booking/contracts';
import { ADMIN_TOKEN, freePort, sleep, startSystem } from './helpers/system.js';


// Issue 4's scaling check without Docker: two API processes and three worker processes on
// loopback; a flash sale spread over both APIs; one worker stopped with SIGTERM mid-sale and a
// new one started. Small batches (BATCH_SIZE=5) keep the sale going long enough for that.
t.test('two APIs and three workers, one worker replaced with SIGTERM mid-sale', async (t) => {
  const sys = await startSystem(t, { workers: 3, workerEnv: { BATCH_SIZE: '5' } });
  const port = await freePort();
  const api2 = spawn(process.execPath, ['--conditions=@booking/source', '--import', 'tsx', 'src/server.ts'], {
    cwd: fileURLToPath(new URL('../', import.meta.url)),
    env: { ...process.env, DATABASE_URL: sys.db.url, QUEUE_PREFIX: sys.prefix, ADMIN_TOKEN, LOG_LEVEL: 'warn', PORT: String(port) },
    stdio: 'ignore',
  });
  const api2Exit = once(api2, 'exit');
  t.teardown(async () => {
    if (api2.exitCode === null) api2.kill('SIGTERM');
    await api2Exit;
  });
  const url2 = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${url2}/health/ready`).then((r) => r.ok, () => false)) break;
    if (i > 300) throw new Error('the second API did not start');
    await sleep(100);
  }
  const sql = postgres(sys.db.url, { max: 2, onnotice: () => {} });
  t.teardown(() => sql.end());

  const show = await sys.createShow({ tiers: [{ code: 'GA', name: 'GA', priceCents: 1000, currency: 'EUR' }], seating: [], generalAdmission: [{ tier: 'GA', capacity: 300 }] });
  const book = (i: number) =>
    fetch(`${i % 2 ? url2 : sys.url}/v1/shows/${show.id}/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `scale-${i}` },
      body: JSON.stringify({ items: [{ tier: 'GA', quantity: 1 }] }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Booking }));

  const sale = Promise.all(Array.from({ length: 1500 }, (_, i) => book(i)));
  const decided = async () => (await sql`select count(*)::int as n from bookings where show_id = ${show.id}`)[0]!.n as number;
  const deadline = Date.now() + 60_000;
  while ((await decided()) < 100 && Date.now() < deadline) await sleep(10);
  const victim = sys.workers[0]!;
  const code = await victim.stop('SIGTERM');
  const at = await decided();
  await sys.startWorker();
  const answers = await sale;
  t.comment(`stopped a worker with ${at} of 1,500 decided`);
  t.equal(code, 0, 'the stopped worker exited 0 within its grace period');
  t.match(victim.output(), /worker stopped/);
  t.notMatch(victim.output(), /job failed for good/);
  t.same([...new Set(answers.map((a) => a.status))], [202], 'every request accepted by one API or the other');

  const ids = answers.map((a) => a.body.id);
  for (let i = 0; i < ids.length; i += 100) {
    await Promise.all(ids.slice(i, i + 100).map((id) => sys.decided(id, 120_000)));
  }
  const rows = await sql`select status, count(*)::int as n from bookings where show_id = ${show.id} group by status order by status`;
  t.same(rows.map((r) => [r.status, r.n]), [['HELD', 300], ['REJECTED', 1200]], 'every booking decided exactly once, 300 held');
  const [events] = await sql`
    select count(*)::int as n from booking_events e join bookings b on b.id = e.booking_id
     where b.show_id = ${show.id} and e.from_status = 'PENDING'`;
  t.equal(events!.n, 1500, 'one decision event per booking');
  t.same((await sys.invariants(show.id)).violations, []);

  api2.kill('SIGTERM');
  const [api2Code] = await api2Exit;
  t.equal(api2Code, 0, 'the second API exits 0 on SIGTERM');
});
