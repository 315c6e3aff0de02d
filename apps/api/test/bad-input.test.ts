import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import t from 'tap';
import type { Test } from 'tap';
import type { Booking, CreateShowBody, SeatList } from '@booking/contracts';
import { ADMIN_TOKEN, defaultShow, startSystem, type HttpResponse } from './helpers/system.js';

// DESIGN.md §4 and §6.5: bad input of any shape gets a 4xx application/problem+json with a stable
// `code` (and, for 400s, the offending fields in `errors`), never a 500 and never a partial write.

type Problem = { type: string; title: string; status: number; code: string; detail?: string; errors?: { path: string; message: string }[] };
type HttpOpts = { body?: unknown; raw?: string; headers?: Record<string, string>; admin?: boolean };

/** base64url of a JSON array: the shape of this API's cursors, with contents it never gave out. */
const forgedCursor = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');

t.test('bad input', async (t) => {
  const sys = await startSystem(t, { workers: 1 });
  const sql = postgres(sys.db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 5 }));

  /** Every response of this file, to check at the end that none was a 5xx. */
  const seen: { request: string; status: number; body: string }[] = [];
  const call = async (method: string, path: string, opts: HttpOpts = {}): Promise<HttpResponse<Problem>> => {
    const res = await sys.http<Problem>(method, path, opts);
    seen.push({ request: `${method} ${path}`, status: res.status, body: res.text.slice(0, 300) });
    return res;
  };

  /** Checks status, content type and code of a problem document, and that `errors` names each given path. */
  const expectProblem = (t: Test, res: HttpResponse<Problem>, status: number, code: string | string[], paths: string[] = []) => {
    t.equal(res.status, status, `status ${status}`, { body: res.text });
    t.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, 'content-type is application/problem+json');
    const codes = Array.isArray(code) ? code : [code];
    t.ok(codes.includes(res.body?.code), `code is ${codes.join(' or ')}`, { found: res.body?.code });
    t.equal(res.body?.status, status, 'the document repeats the status');
    t.type(res.body?.title, 'string', 'the document has a title');
    t.type(res.body?.type, 'string', 'the document has a type');
    for (const path of paths) {
      t.ok(res.body?.errors?.some((e) => e.path === path), `errors names ${path}`, { errors: res.body?.errors });
    }
  };

  const showBody = (overrides: Partial<CreateShowBody> = {}): CreateShowBody => ({ ...defaultShow(), ...overrides });
  const showA = await sys.createShow({ name: 'Show A', maxSeatsPerBooking: 4 });
  const showB = await sys.createShow({ name: 'Show B' });
  // Show C is where bookings are made on purpose (to confirm/cancel them with bad bodies).
  const showC = await sys.createShow({ name: 'Show C' });
  const onPurpose = new Set<string>();

  const seatsOf = async (showId: string, query: string) => {
    const res = await sys.http<SeatList>('GET', `/v1/shows/${showId}/seats?${query}`);
    if (res.status !== 200) throw new Error(`seats of ${showId}: ${res.status} ${res.text}`);
    return res.body.items.map((s) => s.id);
  };
  const vipA = await seatsOf(showA.id, 'tier=VIP&limit=12');
  const vipB = await seatsOf(showB.id, 'tier=VIP&limit=2');
  const bookA = (body: unknown, headers: Record<string, string> = {}) => call('POST', `/v1/shows/${showA.id}/bookings`, { body, headers });
  const ga = (quantity: number) => ({ items: [{ tier: 'GA', quantity }] });

  await t.test('values of the wrong JSON type are 400, not coerced', async (t) => {
    expectProblem(t, await bookA({ items: [{ tier: 'GA', quantity: '2' }] }), 400, 'VALIDATION_FAILED', ['/body/items/0/quantity']);
    expectProblem(t, await bookA({ seatIds: vipA[0] }), 400, 'VALIDATION_FAILED', ['/body/seatIds']);
    expectProblem(t, await bookA({ ...ga(1), customerRef: 42 }), 400, 'VALIDATION_FAILED', ['/body/customerRef']);
    expectProblem(t, await bookA({ items: { tier: 'GA', quantity: 1 } }), 400, 'VALIDATION_FAILED', ['/body/items']);
    expectProblem(t, await bookA({ items: [{ tier: 'GA', quantity: 1.5 }] }), 400, 'VALIDATION_FAILED', ['/body/items/0/quantity']);
    expectProblem(t, await bookA({ items: [{ tier: 7, quantity: 1 }] }), 400, 'VALIDATION_FAILED', ['/body/items/0/tier']);
    expectProblem(t, await bookA({ seatIds: [1, 2] }), 400, 'VALIDATION_FAILED', ['/body/seatIds/0']);
  });

  await t.test('a JSON body that is not an object is 400', async (t) => {
    for (const raw of ['[]', 'null', '"GA"', '42', 'true']) {
      const res = await call('POST', `/v1/shows/${showA.id}/bookings`, { raw, headers: { 'content-type': 'application/json' } });
      t.not(res.status, 201, raw);
      expectProblem(t, res, 400, ['VALIDATION_FAILED', 'MALFORMED_JSON']);
    }
  });

  await t.test('missing fields are 400 naming the field', async (t) => {
    expectProblem(t, await bookA({ items: [{ tier: 'GA' }] }), 400, 'VALIDATION_FAILED', ['/body/items/0/quantity']);
    expectProblem(t, await bookA({ items: [{ quantity: 1 }] }), 400, 'VALIDATION_FAILED', ['/body/items/0/tier']);
    expectProblem(t, await bookA({ customerRef: 'only a ref' }), 400, 'VALIDATION_FAILED', ['/body']);
  });

  await t.test('unknown fields are 400, at the top level and inside items', async (t) => {
    expectProblem(t, await bookA({ ...ga(1), coupon: 'FREE' }), 400, 'VALIDATION_FAILED', ['/body/coupon']);
    expectProblem(t, await bookA({ items: [{ tier: 'GA', quantity: 1, discount: 50 }] }), 400, 'VALIDATION_FAILED', ['/body/items/0/discount']);
    const res = await bookA({ ...ga(1), priceCents: 1 });
    expectProblem(t, res, 400, 'VALIDATION_FAILED', ['/body/priceCents']);
    t.match(res.body.errors?.find((e) => e.path === '/body/priceCents')?.message, /known field/, 'the message says the field is unknown');
  });

  await t.test('malformed JSON is 400 MALFORMED_JSON', async (t) => {
    for (const raw of ['{"items": [', "{'items': []}", '{"items": [{"tier": "GA", "quantity": 1}]} trailing', '{"items":']) {
      const res = await call('POST', `/v1/shows/${showA.id}/bookings`, { raw, headers: { 'content-type': 'application/json' } });
      expectProblem(t, res, 400, 'MALFORMED_JSON');
    }
  });

  await t.test('a JSON body that tries prototype poisoning is 400', async (t) => {
    const raw = '{"items": [{"tier": "GA", "quantity": 1}], "__proto__": {"admin": true}}';
    const res = await call('POST', `/v1/shows/${showA.id}/bookings`, { raw, headers: { 'content-type': 'application/json' } });
    expectProblem(t, res, 400, ['MALFORMED_JSON', 'VALIDATION_FAILED']);
  });

  await t.test('an empty body with a JSON content type is 400', async (t) => {
    const res = await call('POST', `/v1/shows/${showA.id}/bookings`, { raw: '', headers: { 'content-type': 'application/json' } });
    expectProblem(t, res, 400, 'MALFORMED_JSON');
  });

  await t.test('a body over 64 KiB is 413 PAYLOAD_TOO_LARGE', async (t) => {
    const big = { ...ga(1), customerRef: 'x'.repeat(70 * 1024) };
    expectProblem(t, await bookA(big), 413, 'PAYLOAD_TOO_LARGE');
    const bigShow = showBody({ name: 'y'.repeat(70 * 1024) });
    expectProblem(t, await call('POST', '/v1/shows', { body: bigShow, admin: true }), 413, 'PAYLOAD_TOO_LARGE');
  });

  await t.test('an unsupported content type is 415 UNSUPPORTED_MEDIA_TYPE', async (t) => {
    const json = JSON.stringify(ga(1));
    for (const type of ['application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain']) {
      const raw = type === 'application/x-www-form-urlencoded' ? 'items=GA' : json;
      await t.test(type, async (t) => {
        const res = await call('POST', `/v1/shows/${showA.id}/bookings`, { raw, headers: { 'content-type': type } });
        expectProblem(t, res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      });
    }
  });

  await t.test('a non-UUID show or booking id in the path is 400', async (t) => {
    expectProblem(t, await call('GET', '/v1/shows/not-a-uuid'), 400, 'VALIDATION_FAILED', ['/params/showId']);
    expectProblem(t, await call('GET', '/v1/shows/123/seats'), 400, 'VALIDATION_FAILED', ['/params/showId']);
    expectProblem(t, await call('POST', '/v1/shows/xyz/bookings', { body: ga(1) }), 400, 'VALIDATION_FAILED', ['/params/showId']);
    expectProblem(t, await call('PATCH', '/v1/shows/xyz', { body: { name: 'x' }, admin: true }), 400, 'VALIDATION_FAILED', ['/params/showId']);
    expectProblem(t, await call('GET', '/v1/shows/xyz/bookings', { admin: true }), 400, 'VALIDATION_FAILED', ['/params/showId']);
    expectProblem(t, await call('GET', `/v1/shows/${showA.id}x`), 400, 'VALIDATION_FAILED', ['/params/showId']);
    expectProblem(t, await call('GET', '/v1/bookings/abc'), 400, 'VALIDATION_FAILED', ['/params/bookingId']);
    expectProblem(t, await call('POST', '/v1/bookings/abc/confirm', { body: { paymentToken: 'tok_visa' } }), 400, 'VALIDATION_FAILED', ['/params/bookingId']);
    expectProblem(t, await call('POST', '/v1/bookings/abc/cancel', { body: {} }), 400, 'VALIDATION_FAILED', ['/params/bookingId']);
    expectProblem(t, await call('GET', "/v1/bookings/1'%20or%20'1'='1"), 400, 'VALIDATION_FAILED', ['/params/bookingId']);
  });

  await t.test('an unknown show is 404 SHOW_NOT_FOUND', async (t) => {
    const id = randomUUID();
    expectProblem(t, await call('GET', `/v1/shows/${id}`), 404, 'SHOW_NOT_FOUND');
    expectProblem(t, await call('GET', `/v1/shows/${id}/seats`), 404, 'SHOW_NOT_FOUND');
    expectProblem(t, await call('POST', `/v1/shows/${id}/bookings`, { body: ga(1) }), 404, 'SHOW_NOT_FOUND');
    expectProblem(t, await call('PATCH', `/v1/shows/${id}`, { body: { name: 'x' }, admin: true }), 404, 'SHOW_NOT_FOUND');
    expectProblem(t, await call('GET', `/v1/shows/${id}/bookings`, { admin: true }), 404, 'SHOW_NOT_FOUND');
    expectProblem(t, await call('GET', '/v1/shows/00000000-0000-0000-0000-000000000000'), 404, 'SHOW_NOT_FOUND');
  });

  await t.test('an unknown booking id is 404 BOOKING_NOT_FOUND', async (t) => {
    const id = randomUUID();
    expectProblem(t, await call('GET', `/v1/bookings/${id}`), 404, 'BOOKING_NOT_FOUND');
    expectProblem(t, await call('GET', `/v1/bookings/${id}`, { headers: { prefer: 'wait=1', 'if-none-match': '"1"' } }), 404, 'BOOKING_NOT_FOUND');
    expectProblem(t, await call('POST', `/v1/bookings/${id}/confirm`, { body: { paymentToken: 'tok_visa' } }), 404, 'BOOKING_NOT_FOUND');
    expectProblem(t, await call('POST', `/v1/bookings/${id}/cancel`, { body: {} }), 404, 'BOOKING_NOT_FOUND');
  });

  await t.test('an unknown route is 404 problem+json', async (t) => {
    expectProblem(t, await call('GET', '/v1/nothing-here'), 404, 'NOT_FOUND');
  });

  await t.test('empty seatIds or items arrays are 400', async (t) => {
    expectProblem(t, await bookA({ seatIds: [] }), 400, 'VALIDATION_FAILED', ['/body/seatIds']);
    expectProblem(t, await bookA({ items: [] }), 400, 'VALIDATION_FAILED', ['/body/items']);
  });

  await t.test('a quantity of 0 or below is 400', async (t) => {
    expectProblem(t, await bookA(ga(0)), 400, 'VALIDATION_FAILED', ['/body/items/0/quantity']);
    expectProblem(t, await bookA(ga(-1)), 400, 'VALIDATION_FAILED', ['/body/items/0/quantity']);
  });

  await t.test("asking for more than the show's maxSeatsPerBooking is 400", async (t) => {
    t.equal(showA.maxSeatsPerBooking, 4);
    expectProblem(t, await bookA(ga(5)), 400, 'VALIDATION_FAILED', ['/body/items']);
    expectProblem(t, await bookA({ items: [{ tier: 'GA', quantity: 3 }, { tier: 'VIP', quantity: 2 }] }), 400, 'VALIDATION_FAILED', ['/body/items']);
    expectProblem(t, await bookA({ seatIds: vipA.slice(0, 5) }), 400, 'VALIDATION_FAILED', ['/body/seatIds']);
    expectProblem(t, await bookA(ga(1000)), 400, 'VALIDATION_FAILED', ['/body/items/0/quantity']);
  });

  await t.test('both seatIds and items is 400', async (t) => {
    expectProblem(t, await bookA({ seatIds: [vipA[0]], ...ga(1) }), 400, 'VALIDATION_FAILED', ['/body']);
  });

  await t.test('neither seatIds nor items is 400', async (t) => {
    expectProblem(t, await bookA({}), 400, 'VALIDATION_FAILED', ['/body']);
  });

  await t.test('duplicate seat ids are 400', async (t) => {
    expectProblem(t, await bookA({ seatIds: [vipA[0], vipA[1], vipA[0]] }), 400, 'VALIDATION_FAILED', ['/body/seatIds']);
  });

  await t.test('the same tier twice in items is 400', async (t) => {
    expectProblem(t, await bookA({ items: [{ tier: 'GA', quantity: 1 }, { tier: 'GA', quantity: 1 }] }), 400, 'VALIDATION_FAILED', ['/body/items/1/tier']);
  });

  await t.test('an unknown tier code is 400', async (t) => {
    expectProblem(t, await bookA({ items: [{ tier: 'BALCONY', quantity: 1 }] }), 400, 'VALIDATION_FAILED', ['/body/items/0/tier']);
    expectProblem(t, await bookA({ items: [{ tier: 'GA', quantity: 1 }, { tier: 'NOPE', quantity: 1 }] }), 400, 'VALIDATION_FAILED', ['/body/items/1/tier']);
    expectProblem(t, await bookA({ items: [{ tier: 'vip', quantity: 1 }] }), 400, 'VALIDATION_FAILED', ['/body/items/0/tier']);
  });

  await t.test('seat ids that are not seats of this show are 400', async (t) => {
    t.equal(vipB.length, 2, 'show B has seats to borrow');
    expectProblem(t, await bookA({ seatIds: vipB }), 400, 'VALIDATION_FAILED', ['/body/seatIds/0', '/body/seatIds/1']);
    expectProblem(t, await bookA({ seatIds: [vipA[0], vipB[0]] }), 400, 'VALIDATION_FAILED', ['/body/seatIds/1']);
    expectProblem(t, await bookA({ seatIds: [randomUUID()] }), 400, 'VALIDATION_FAILED', ['/body/seatIds/0']);
    expectProblem(t, await bookA({ seatIds: ['A-1-1'] }), 400, 'VALIDATION_FAILED', ['/body/seatIds/0']);
  });

  await t.test('text Postgres cannot store (a NUL character) is 400, not accepted', async (t) => {
    expectProblem(t, await bookA({ ...ga(1), customerRef: 'nul\u0000here' }), 400, 'VALIDATION_FAILED', ['/body/customerRef']);
    expectProblem(t, await call('POST', '/v1/shows', { body: showBody({ name: 'nul\u0000here' }), admin: true }), 400, 'VALIDATION_FAILED', ['/body/name']);
    expectProblem(t, await call('PATCH', `/v1/shows/${showA.id}`, { body: { venue: 'nul\u0000here' }, admin: true }), 400, 'VALIDATION_FAILED', ['/body/venue']);
  });

  await t.test('text with a lone UTF-16 surrogate (no UTF-8 encodes it, Postgres refuses it) is 400, not accepted', async (t) => {
    const raw = (body: string) => ({ raw: body, headers: { 'content-type': 'application/json' } });
    expectProblem(t, await call('POST', `/v1/shows/${showA.id}/bookings`, raw('{"items":[{"tier":"GA","quantity":1}],"customerRef":"\\ud800"}')), 400, 'VALIDATION_FAILED', ['/body/customerRef']);
    expectProblem(t, await call('POST', `/v1/shows/${showA.id}/bookings`, raw('{"items":[{"tier":"GA","quantity":1}],"customerRef":"a\\udc00b"}')), 400, 'VALIDATION_FAILED', ['/body/customerRef']);
    expectProblem(t, await call('PATCH', `/v1/shows/${showA.id}`, { ...raw('{"name":"x\\ud83d"}'), admin: true }), 400, 'VALIDATION_FAILED', ['/body/name']);
    // A surrogate pair is one character (an emoji): accepted, on the show meant for bookings.
    const emoji = await call('POST', `/v1/shows/${showC.id}/bookings`, raw('{"items":[{"tier":"GA","quantity":1}],"customerRef":"fan \\ud83c\\udfab"}'));
    t.equal(emoji.status, 202, 'an emoji is fine');
    onPurpose.add((emoji.body as unknown as { id: string }).id);
  });

  await t.test('an Idempotency-Key that is too long or not printable ASCII is 400', async (t) => {
    expectProblem(t, await bookA(ga(1), { 'idempotency-key': 'k'.repeat(256) }), 400, 'VALIDATION_FAILED', ['/headers/idempotency-key']);
    expectProblem(t, await bookA(ga(1), { 'idempotency-key': 'has space' }), 400, 'VALIDATION_FAILED', ['/headers/idempotency-key']);
  });

  await t.test('bad query strings on GET /v1/shows are 400', async (t) => {
    const cases: [string, string][] = [
      ['limit=abc', '/querystring/limit'],
      ['limit=0', '/querystring/limit'],
      ['limit=-5', '/querystring/limit'],
      ['limit=501', '/querystring/limit'],
      ['limit=2.5', '/querystring/limit'],
      ['limit=1&limit=2', '/querystring/limit'],
      ['status=FOO', '/querystring/status'],
      ['sort=name', '/querystring/sort'],
      ['cursor=%25%25%25', '/querystring/cursor'],
      ['cursor=garbage', '/querystring/cursor'],
      [`cursor=${forgedCursor(['x'])}`, '/querystring/cursor'],
      [`cursor=${'a'.repeat(201)}`, '/querystring/cursor'],
    ];
    for (const [query, path] of cases) {
      await t.test(query, async (t) => expectProblem(t, await call('GET', `/v1/shows?${query}`), 400, 'VALIDATION_FAILED', [path]));
    }
  });

  await t.test('a cursor of the right shape but with contents this API never gave out is 400', async (t) => {
    const shows = forgedCursor(['not-a-timestamp', 'not-a-uuid']);
    expectProblem(t, await call('GET', `/v1/shows?cursor=${shows}`), 400, 'VALIDATION_FAILED', ['/querystring/cursor']);
    const seats = forgedCursor(['9999999999999999999']);
    expectProblem(t, await call('GET', `/v1/shows/${showA.id}/seats?cursor=${seats}`), 400, 'VALIDATION_FAILED', ['/querystring/cursor']);
    const bookings = forgedCursor(['yesterday', 'someone']);
    expectProblem(t, await call('GET', `/v1/shows/${showA.id}/bookings?cursor=${bookings}`, { admin: true }), 400, 'VALIDATION_FAILED', ['/querystring/cursor']);
  });

  await t.test('bad query strings on GET /v1/shows/:id/seats are 400', async (t) => {
    const cases: [string, string][] = [
      ['limit=abc', '/querystring/limit'],
      ['limit=0', '/querystring/limit'],
      ['limit=100000', '/querystring/limit'],
      ['status=FOO', '/querystring/status'],
      ['status=held', '/querystring/status'],
      ['tier=vip', '/querystring/tier'],
      ['section=A', '/querystring/section'],
      ['cursor=%25%25%25', '/querystring/cursor'],
      ['cursor=garbage', '/querystring/cursor'],
      [`cursor=${forgedCursor(['abc'])}`, '/querystring/cursor'],
      [`cursor=${forgedCursor(['1', '2'])}`, '/querystring/cursor'],
    ];
    for (const [query, path] of cases) {
      await t.test(query, async (t) => expectProblem(t, await call('GET', `/v1/shows/${showA.id}/seats?${query}`), 400, 'VALIDATION_FAILED', [path]));
    }
  });

  await t.test('bad query strings on the admin bookings list are 400', async (t) => {
    const cases: [string, string][] = [
      ['limit=abc', '/querystring/limit'],
      ['status=FOO', '/querystring/status'],
      ['who=me', '/querystring/who'],
      ['cursor=garbage', '/querystring/cursor'],
    ];
    for (const [query, path] of cases) {
      await t.test(query, async (t) =>
        expectProblem(t, await call('GET', `/v1/shows/${showA.id}/bookings?${query}`, { admin: true }), 400, 'VALIDATION_FAILED', [path]));
    }
  });

  await t.test('admin routes without or with a wrong bearer token are 401, even when the body is bad too', async (t) => {
    const wrong = { authorization: 'Bearer not-the-token' };
    const cases: [string, string, string, HttpOpts][] = [
      ['create a show, no token', 'POST', '/v1/shows', { body: showBody() }],
      ['create a show, wrong token', 'POST', '/v1/shows', { body: showBody(), headers: wrong }],
      ['create a show, no token, bad body', 'POST', '/v1/shows', { body: { name: 1 } }],
      ['create a show, wrong token, malformed JSON', 'POST', '/v1/shows', { raw: '{"name":', headers: { ...wrong, 'content-type': 'application/json' } }],
      ['create a show, Basic auth', 'POST', '/v1/shows', { body: showBody(), headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}` } }],
      ['create a show, token without Bearer', 'POST', '/v1/shows', { body: showBody(), headers: { authorization: ADMIN_TOKEN } }],
      ['create a show, token with a suffix', 'POST', '/v1/shows', { body: showBody(), headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } }],
      ['edit a show, no token', 'PATCH', `/v1/shows/${showA.id}`, { body: { name: 'hijacked' } }],
      ['edit a show, wrong token', 'PATCH', `/v1/shows/${showA.id}`, { body: { salesOpen: false }, headers: wrong }],
      ['edit a show, wrong token, empty body', 'PATCH', `/v1/shows/${showA.id}`, { body: {}, headers: wrong }],
      ['edit a show, no token, bad id', 'PATCH', '/v1/shows/not-a-uuid', { body: { name: 'x' } }],
      ['list bookings, no token', 'GET', `/v1/shows/${showA.id}/bookings`, {}],
      ['list bookings, wrong token', 'GET', `/v1/shows/${showA.id}/bookings`, { headers: wrong }],
      ['list bookings, wrong token, bad query', 'GET', `/v1/shows/${showA.id}/bookings?limit=abc`, { headers: wrong }],
      ['list bookings, empty Bearer', 'GET', `/v1/shows/${showA.id}/bookings`, { headers: { authorization: 'Bearer ' } }],
    ];
    for (const [name, method, path, opts] of cases) {
      await t.test(name, async (t) => {
        const res = await call(method, path, opts);
        expectProblem(t, res, 401, 'UNAUTHORIZED');
        t.match(res.headers.get('www-authenticate') ?? '', /^Bearer/i, 'WWW-Authenticate names the Bearer scheme');
      });
    }
  });

  await t.test('confirm and cancel with a bad body are 400 and leave the booking as it was', async (t) => {
    const held = await sys.book(showC.id, ga(2), { prefer: 'wait=10' });
    t.equal(held.status, 201, 'the booking made on purpose was decided', { body: held.text });
    t.equal(held.body.status, 'HELD');
    onPurpose.add(held.body.id);
    const id = held.body.id;
    const confirm = (opts: HttpOpts) => call('POST', `/v1/bookings/${id}/confirm`, opts);
    expectProblem(t, await confirm({ body: {} }), 400, 'VALIDATION_FAILED', ['/body/paymentToken']);
    expectProblem(t, await confirm({ body: { paymentToken: '' } }), 400, 'VALIDATION_FAILED', ['/body/paymentToken']);
    expectProblem(t, await confirm({ body: { paymentToken: 42 } }), 400, 'VALIDATION_FAILED', ['/body/paymentToken']);
    expectProblem(t, await confirm({ body: { paymentToken: null } }), 400, 'VALIDATION_FAILED', ['/body/paymentToken']);
    expectProblem(t, await confirm({ body: { paymentToken: 'tok_visa', amountCents: 1 } }), 400, 'VALIDATION_FAILED', ['/body/amountCents']);
    expectProblem(t, await confirm({ raw: '{"paymentToken":', headers: { 'content-type': 'application/json' } }), 400, 'MALFORMED_JSON');
    expectProblem(t, await confirm({ raw: 'paymentToken=tok_visa', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    const cancel = (opts: HttpOpts) => call('POST', `/v1/bookings/${id}/cancel`, opts);
    expectProblem(t, await cancel({ body: { reason: 'no', refund: true } }), 400, 'VALIDATION_FAILED', ['/body/refund']);
    expectProblem(t, await cancel({ body: { reason: 7 } }), 400, 'VALIDATION_FAILED', ['/body/reason']);
    expectProblem(t, await cancel({ body: { reason: 'r'.repeat(501) } }), 400, 'VALIDATION_FAILED', ['/body/reason']);

    const after = await sys.http<Booking>('GET', `/v1/bookings/${id}`);
    t.equal(after.status, 200);
    t.equal(after.body.status, 'HELD', 'still HELD');
    t.equal(after.body.payment, null, 'nothing was charged');
    t.equal(after.body.version, held.body.version, 'no transition happened');
    const [payments] = await sql<{ n: number }[]>`select count(*)::int as n from payments where booking_id = ${id}`;
    t.equal(payments!.n, 0, 'no payment rows');
  });

  await t.test('POST /v1/shows with an inconsistent layout is 400 naming the field', async (t) => {
    const eur = (code: string) => ({ code, name: code, priceCents: 1000, currency: 'EUR' });
    const cases: [string, CreateShowBody | Record<string, unknown>, string][] = [
      ['seating references an unknown tier', showBody({ seating: [{ section: 'A', tier: 'BALCONY', rows: 2, seatsPerRow: 2 }] }), '/body/seating/0/tier'],
      ['GA references an unknown tier', showBody({ generalAdmission: [{ tier: 'PIT', capacity: 10 }] }), '/body/generalAdmission/0/tier'],
      ['duplicate tier codes', showBody({ tiers: [eur('VIP'), eur('GA'), eur('VIP')] }), '/body/tiers/2/code'],
      ['duplicate sections', showBody({ seating: [{ section: 'A', tier: 'VIP', rows: 1, seatsPerRow: 2 }, { section: 'A', tier: 'GA', rows: 1, seatsPerRow: 2 }] }), '/body/seating/1/section'],
      ['mixed currencies', showBody({ tiers: [eur('VIP'), { ...eur('GA'), currency: 'USD' }] }), '/body/tiers/1/currency'],
      ['no seats at all', showBody({ seating: [], generalAdmission: [] }), '/body'],
      ['no seating and no GA given', { ...showBody(), seating: undefined, generalAdmission: undefined }, '/body'],
      ['more than 100,000 seats', showBody({ seating: [1, 2, 3].map((n) => ({ section: `S${n}`, tier: 'VIP', rows: 500, seatsPerRow: 500 })), generalAdmission: [] }), '/body'],
      ['100,001 seats exactly', showBody({ seating: [{ section: 'A', tier: 'VIP', rows: 200, seatsPerRow: 500 }], generalAdmission: [{ tier: 'GA', capacity: 1 }] }), '/body'],
      ['GA capacity over the limit', showBody({ generalAdmission: [{ tier: 'GA', capacity: 100_001 }] }), '/body/generalAdmission/0/capacity'],
      ['no tiers', showBody({ tiers: [], seating: [], generalAdmission: [] }), '/body/tiers'],
      ['a lower-case tier code', showBody({ tiers: [eur('vip')] }), '/body/tiers/0/code'],
      ['a negative price', showBody({ tiers: [{ ...eur('VIP'), priceCents: -1 }, eur('GA')] }), '/body/tiers/0/priceCents'],
      ['a price as a string', showBody({ tiers: [{ ...eur('VIP'), priceCents: '1000' as never }, eur('GA')] }), '/body/tiers/0/priceCents'],
      ['zero rows', showBody({ seating: [{ section: 'A', tier: 'VIP', rows: 0, seatsPerRow: 4 }] }), '/body/seating/0/rows'],
      ['a section name with a dash', showBody({ seating: [{ section: 'A-1', tier: 'VIP', rows: 1, seatsPerRow: 4 }] }), '/body/seating/0/section'],
      ['startsAt that is not a timestamp', showBody({ startsAt: 'next friday' }), '/body/startsAt'],
      ['an unknown field', { ...showBody(), organiser: 'me' }, '/body/organiser'],
      ['an unknown field in a tier', showBody({ tiers: [{ ...eur('VIP'), vat: 20 } as never, eur('GA')] }), '/body/tiers/0/vat'],
      ['a missing name', { ...showBody(), name: undefined }, '/body/name'],
      ['holdTtlSeconds of 0', showBody({ holdTtlSeconds: 0 }), '/body/holdTtlSeconds'],
      ['maxSeatsPerBooking as a string', showBody({ maxSeatsPerBooking: '4' as never }), '/body/maxSeatsPerBooking'],
    ];
    for (const [name, body, path] of cases) {
      await t.test(name, async (t) => expectProblem(t, await call('POST', '/v1/shows', { body, admin: true }), 400, 'VALIDATION_FAILED', [path]));
    }
  });

  await t.test('PATCH with an empty object or bad fields is 400', async (t) => {
    const patch = (body: unknown) => call('PATCH', `/v1/shows/${showA.id}`, { body, admin: true });
    expectProblem(t, await patch({}), 400, 'VALIDATION_FAILED', ['/body']);
    expectProblem(t, await patch({ salesOpen: 'false' }), 400, 'VALIDATION_FAILED', ['/body/salesOpen']);
    expectProblem(t, await patch({ name: '' }), 400, 'VALIDATION_FAILED', ['/body/name']);
    expectProblem(t, await patch({ holdTtlSeconds: 0 }), 400, 'VALIDATION_FAILED', ['/body/holdTtlSeconds']);
    expectProblem(t, await patch({ maxSeatsPerBooking: 101 }), 400, 'VALIDATION_FAILED', ['/body/maxSeatsPerBooking']);
    expectProblem(t, await patch({ startsAt: 'soon' }), 400, 'VALIDATION_FAILED', ['/body/startsAt']);
    expectProblem(t, await patch({ name: 'Renamed', tiers: [] }), 400, 'VALIDATION_FAILED', ['/body/tiers']);
    expectProblem(t, await patch({ id: randomUUID() }), 400, 'VALIDATION_FAILED', ['/body/id']);
    expectProblem(t, await call('PATCH', `/v1/shows/${showA.id}`, { raw: '{"name":', admin: true, headers: { 'content-type': 'application/json' } }), 400, 'MALFORMED_JSON');
  });

  await t.test('no rejected request wrote anything', async (t) => {
    const shows = await sql<{ id: string; name: string; salesOpen: boolean; maxSeatsPerBooking: number }[]>`
      select id, name, sales_open as "salesOpen", max_seats_per_booking as "maxSeatsPerBooking" from shows order by created_at, id`;
    t.same(shows.map((s) => s.id).sort(), [showA.id, showB.id, showC.id].sort(), 'only the three shows made on purpose exist');
    const a = shows.find((s) => s.id === showA.id);
    t.same(a && { name: a.name, salesOpen: a.salesOpen, maxSeatsPerBooking: a.maxSeatsPerBooking }, { name: 'Show A', salesOpen: true, maxSeatsPerBooking: 4 }, 'show A is unchanged');
    for (const show of [showA, showB]) {
      const [counts] = await sql<{ bookings: number; taken: number; seats: number; events: number }[]>`
        select (select count(*) from bookings where show_id = ${show.id})::int as bookings,
               (select count(*) from booking_events e join bookings b on b.id = e.booking_id where b.show_id = ${show.id})::int as events,
               (select count(*) from seats where show_id = ${show.id} and (status <> 'AVAILABLE' or booking_id is not null))::int as taken,
               (select count(*) from seats where show_id = ${show.id})::int as seats`;
      t.same(counts, { bookings: 0, events: 0, taken: 0, seats: 32 }, `${show.name}: no bookings, every seat AVAILABLE`);
    }
    const [other] = await sql<{ n: number }[]>`select count(*)::int as n from bookings where show_id <> ${showC.id}`;
    t.equal(other!.n, 0, 'no booking anywhere but on show C');

    const scan = async (pattern: string) => {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await sys.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      return keys;
    };
    const docs = await scan(`${sys.prefix}:booking:*`);
    t.same(docs.sort(), [...onPurpose].map((id) => `${sys.prefix}:booking:${id}`).sort(), 'the only booking documents are the ones made on purpose');
    t.same(await scan(`${sys.prefix}:idem:*`), [], 'no idempotency key was claimed');
  });

  await t.test('no response in this file was a 5xx', async (t) => {
    t.ok(seen.length > 100, `checked ${seen.length} responses`);
    t.same(seen.filter((r) => r.status >= 500), [], 'no 5xx');
  });

  for (const show of [showA, showB, showC]) {
    const report = await sys.invariants(show.id);
    t.same(report.violations, [], `${show.name}: invariants hold`);
  }
});
