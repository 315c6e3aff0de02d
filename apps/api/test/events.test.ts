import t from 'tap';
import type { Booking, Seat, SeatList, Show } from '@booking/contracts';
import { sleep, startSystem, type System } from './helpers/system.js';

interface SseEvent {
  event: string;
  id: string | null;
  data: string;
}

/** A real event-stream client over fetch: every event and comment, parsed as EventSource would. */
async function openStream(sys: System, path: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(sys.url + path, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let ended = false;
  const wakers = new Set<() => void>();
  const wake = () => {
    for (const w of [...wakers]) w();
  };
  const pump = (async () => {
    if (!res.body || !res.headers.get('content-type')?.startsWith('text/event-stream')) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const e: SseEvent = { event: 'message', id: null, data: '' };
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('event: ')) ((e.event = line.slice(7)), (isEvent = true));
            else if (line.startsWith('id: ')) e.id = line.slice(4);
            else if (line.startsWith('data: ')) ((e.data += (e.data ? '\n' : '') + line.slice(6)), (isEvent = true));
          }
          if (isEvent) events.push(e);
          wake();
        }
      }
    } catch {
      // aborted
    }
    ended = true;
    wake();
  })();
  return {
    res,
    events,
    comments,
    get ended() {
      return ended;
    },
    /** Waits until `pred` holds of what arrived (or the stream ends); fails after `ms`. */
    async until(pred: () => boolean, what: string, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (!pred()) {
        if (ended) throw new Error(`stream ended before ${what}: ${JSON.stringify(events)}`);
        if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms: ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          const w = () => {
            wakers.delete(w);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(w, 100);
          wakers.add(w);
        });
      }
    },
    async close() {
      abort.abort();
      await pump;
    },
  };
}

const ids = (events: SseEvent[]) => events.map((e) => Number(e.id));
const nonDecreasing = (xs: number[]) => xs.every((x, i) => i === 0 || xs[i - 1]! <= x);

t.test('event streams', async (t) => {
  const sys = await startSystem(t, { workers: 1, config: { MAX_WATCHERS: 4, SSE_HEARTBEAT_MS: 300 } });
  const show = await sys.createShow();
  const vip = ((await sys.http<SeatList>('GET', `/v1/shows/${show.id}/seats?tier=VIP&limit=6`)).body.items as Seat[]).map((s) => s.id);

  await t.test('a show stream opens with its availability, then sends seat changes and availability in version order', async (t) => {
    const s = await openStream(sys, `/v1/shows/${show.id}/events`);
    t.teardown(() => s.close());
    t.equal(s.res.status, 200);
    t.match(s.res.headers.get('content-type'), /^text\/event-stream/);
    await s.until(() => s.events.length >= 1, 'first event');
    const first = s.events[0]!;
    t.equal(first.event, 'availability', 'the first event is the availability');
    const doc = JSON.parse(first.data) as Show;
    t.equal(first.id, String(doc.version), 'its id is its version');
    t.equal(doc.totals.held, 0);

    const booked = await sys.book(show.id, { seatIds: vip.slice(0, 2) }, { prefer: 'wait=5' });
    t.equal(booked.body.status, 'HELD');
    await s.until(() => s.events.some((e) => e.event === 'seats'), 'seats event');
    const seats = s.events.find((e) => e.event === 'seats')!;
    const body = JSON.parse(seats.data) as { version: number; changes: { id: string; status: string; expiresAt: string | null }[] };
    t.same(body.changes.map((c) => [c.id, c.status, c.expiresAt]), vip.slice(0, 2).map((id) => [id, 'HELD', booked.body.expiresAt]), 'the two seats turned HELD, with the expiry');
    t.equal(seats.id, String(body.version));
    await s.until(() => s.events.some((e) => e.event === 'availability' && (JSON.parse(e.data) as Show).totals.held === 2), 'availability with 2 held');
    t.ok(nonDecreasing(ids(s.events)), `ids in version order: ${ids(s.events).join(',')}`);
    await s.until(() => s.comments.includes('heartbeat'), 'a heartbeat comment', 2000);
    t.pass('heartbeat comments arrive');
  });

  await t.test('Last-Event-ID resumes: the current availability, then every seat change after that version', async (t) => {
    const first = await openStream(sys, `/v1/shows/${show.id}/events`);
    await first.until(() => first.events.length >= 1, 'first event');
    const from = Number(first.events[0]!.id);
    await first.close();
    const a = await sys.book(show.id, { seatIds: [vip[2]!] }, { prefer: 'wait=5' });
    const b = await sys.book(show.id, { seatIds: [vip[3]!] }, { prefer: 'wait=5' });
    t.same([a.body.status, b.body.status], ['HELD', 'HELD']);
    const now = (await sys.http<Show>('GET', `/v1/shows/${show.id}`)).body;
    const s = await openStream(sys, `/v1/shows/${show.id}/events`, { 'last-event-id': String(from) });
    t.teardown(() => s.close());
    await s.until(() => s.events.filter((e) => e.event === 'seats').length >= 2, 'two seats events');
    t.equal(s.events[0]!.event, 'availability');
    t.equal(s.events[0]!.id, String(now.version), 'the current availability first');
    const changed = s.events.filter((e) => e.event === 'seats').flatMap((e) => (JSON.parse(e.data) as { changes: { id: string }[] }).changes.map((c) => c.id));
    t.same(changed, [vip[2], vip[3]], 'the seats changed since, in order');
    t.ok(s.events.filter((e) => e.event === 'seats').every((e) => Number(e.id) > from && Number(e.id) <= now.version), 'only versions after Last-Event-ID');
    t.notOk(s.events.some((e) => e.event === 'reload'), 'no reload needed');
  });

  await t.test('a resume from before the kept changes gets the availability and a reload event', async (t) => {
    const first = await openStream(sys, `/v1/shows/${show.id}/events`);
    await first.until(() => first.events.length >= 1, 'first event');
    const from = Number(first.events[0]!.id);
    await first.close();
    // An edit rebuilds the document from Postgres and starts its change log afresh.
    t.equal((await sys.http('PATCH', `/v1/shows/${show.id}`, { admin: true, body: { name: 'Renamed' } })).status, 200);
    await sys.book(show.id, { seatIds: [vip[4]!] }, { prefer: 'wait=5' });
    const s = await openStream(sys, `/v1/shows/${show.id}/events`, { 'last-event-id': String(from) });
    t.teardown(() => s.close());
    await s.until(() => s.events.length >= 2, 'reload and availability');
    t.equal(s.events[0]!.event, 'reload', 'word to reload the seat map first');
    t.equal(s.events[1]!.event, 'availability', 'then the current availability');
    t.equal((JSON.parse(s.events[1]!.data) as Show).name, 'Renamed');
    t.equal(s.events[0]!.id, s.events[1]!.id, 'both of the current version');
  });

  await t.test("a booking stream sends each change of the booking and ends after its final status", async (t) => {
    const created = await sys.book(show.id, { items: [{ tier: 'GA', quantity: 1 }] });
    t.equal(created.status, 202);
    const s = await openStream(sys, `/v1/bookings/${created.body.id}/events`);
    await s.until(() => s.events.some((e) => (JSON.parse(e.data) as Booking).status === 'HELD'), 'HELD');
    t.ok(s.events.every((e) => e.event === 'booking'), 'booking events');
    const held = s.events.find((e) => (JSON.parse(e.data) as Booking).status === 'HELD')!;
    const cancelled = await sys.http('POST', `/v1/bookings/${created.body.id}/cancel`);
    t.equal(cancelled.status, 200);
    await s.until(() => s.ended, 'the end of the stream');
    const last = JSON.parse(s.events.at(-1)!.data) as Booking;
    t.equal(last.status, 'CANCELLED', 'the last event is the final status');
    t.equal(s.events.at(-1)!.id, String(last.version));
    t.ok(Number(held.id) < last.version && nonDecreasing(ids(s.events)), 'in version order');
    await s.close();
    const again = await openStream(sys, `/v1/bookings/${created.body.id}/events`, { 'last-event-id': held.id! });
    await again.until(() => again.ended, 'the end of the stream');
    t.same(again.events.map((e) => (JSON.parse(e.data) as Booking).status), ['CANCELLED'], 'a resume gets only what came after, and ends');
    const done = await sys.http('GET', `/v1/bookings/${created.body.id}/events`, { headers: { accept: 'text/event-stream', 'last-event-id': String(last.version) } });
    t.equal(done.status, 204, 'a reconnect with the final version: 204, so an EventSource stops coming back');
  });

  await t.test('a client gone before its stream opened leaves no slot taken', async (t) => {
    // A booking stream whose read of the booking is slow: the client gives up first.
    const before = sys.app.watchers.open.stream;
    const aborts = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const abort = new AbortController();
        const req = fetch(`${sys.url}/v1/shows/${show.id}/events`, { headers: { accept: 'text/event-stream' }, signal: abort.signal }).catch(() => null);
        abort.abort();
        return req;
      }),
    );
    t.equal(aborts.length, 20);
    await sleep(300);
    t.equal(sys.app.watchers.open.stream, before, 'every slot released');
  });

  await t.test('unknown ids are 404 problem documents, not streams', async (t) => {
    for (const path of ['/v1/shows/00000000-0000-4000-8000-000000000000/events', '/v1/bookings/00000000-0000-4000-8000-000000000000/events']) {
      const res = await sys.http('GET', path, { headers: { accept: 'text/event-stream' } });
      t.equal(res.status, 404, path);
      t.match(res.headers.get('content-type'), /application\/problem\+json/);
    }
  });

  await t.test('past MAX_WATCHERS streams and long-polls, 503 SERVER_BUSY with Retry-After, and room again once one closes', async (t) => {
    const open = [];
    for (let i = 0; i < 4; i++) {
      const s = await openStream(sys, `/v1/shows/${show.id}/events`);
      await s.until(() => s.events.length >= 1, 'first event');
      open.push(s);
    }
    const busy = await sys.http('GET', `/v1/shows/${show.id}/events`, { headers: { accept: 'text/event-stream' } });
    t.equal(busy.status, 503);
    t.equal(busy.body.code, 'SERVER_BUSY');
    t.ok(busy.headers.get('retry-after'), 'Retry-After');
    const version = (await sys.http<Show>('GET', `/v1/shows/${show.id}`)).body.version;
    const poll = await sys.http('GET', `/v1/shows/${show.id}`, { headers: { 'if-none-match': `"${version}"`, prefer: 'wait=1' } });
    t.equal(poll.status, 503, 'a long-poll too');
    t.equal((await sys.http('GET', `/v1/shows/${show.id}`)).status, 200, 'a plain read is not capped');
    await open.pop()!.close();
    await sleep(100);
    const s = await openStream(sys, `/v1/shows/${show.id}/events`);
    await s.until(() => s.events.length >= 1, 'first event');
    t.pass('a stream opens again');
    await Promise.all([...open, s].map((x) => x.close()));
  });

  t.same((await sys.invariants(show.id)).violations, []);
});
