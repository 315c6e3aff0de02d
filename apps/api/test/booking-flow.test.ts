import t from 'tap';
import { startSystem } from './helpers/system.js';

t.test('booking flow', async (t) => {
  const sys = await startSystem(t, { workers: 1 });
  const show = await sys.createShow();

  await t.test('a GA request with Prefer: wait is decided in the same request', async (t) => {
    const res = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 2 }] }, { prefer: 'wait=10' });
    t.equal(res.status, 201);
    t.equal(res.body.status, 'HELD');
    t.equal(res.body.seats.length, 2);
    t.equal(res.body.totalCents, 6000);
    t.equal(res.headers.get('location'), `/v1/bookings/${res.body.id}`);
    t.equal(res.headers.get('preference-applied'), 'wait=10');
  });

  const report = await sys.invariants(show.id);
  t.same(report.violations, []);
});
