import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Booking, BookingList, BookingRequest, CreateShowBody, Seat, SeatList, Show } from '@booking/contracts';
import { startAudience, type AudienceFigures } from './audience.js';
import { ApiClient, retryAfterMs, type HttpResult, type Op } from './client.js';
import type { LoadTestOptions } from './options.js';
import { RateWindow, histogram, perSecond, span, summarize, timeSeries, bump, type Histogram, type Series, type Summary } from './stats.js';
import type { Action, BuyerRecord, RetryKind } from './types.js';
import { judge, type Verdict, type VerdictFetcher } from './verdict.js';

/** A show the buyers go to, and what they can ask of it. */
export interface ShowPlan {
  id: string;
  name: string;
  created: boolean;
  capacity: number;
  holdTtlSeconds: number;
  maxSeatsPerBooking: number;
  /** Tiers asked for by quantity (best available), weighted by their size. */
  tiers: { code: string; total: number }[];
  /** Assigned seat ids per row (section + row), in seat order: exact-seat buyers pick adjacent ones. */
  rows: string[][];
  /** The best assigned seats (the hot block), when --hot-block is set. */
  hot: string[];
}

export type Phase = 'setup' | 'buyers' | 'releases' | 'verify' | 'done';

export interface ProgressSnapshot {
  phase: Phase;
  /** Since the buyer phase started (0 before). */
  elapsedMs: number;
  buyers: number;
  started: number;
  finished: number;
  /** Creation requests sent (retries included). */
  sent: number;
  /** Bookings accepted (one per buyer). */
  accepted: number;
  decided: number;
  held: number;
  rejected: number;
  /** Accepted creations per second over the last second. */
  rps: number;
  polls: number;
  errors: number;
  /** Abandoned holds still being watched for their release. */
  watching: number;
}

export interface RunHooks {
  onProgress?: (p: ProgressSnapshot) => void;
  progressIntervalMs?: number;
  /** Aborting stops new buyers; running ones stop after their current request. */
  signal?: AbortSignal;
}

export interface Figures {
  buyers: number;
  /** Bookings the API accepted (one per buyer). */
  bookings: number;
  /** 2xx answers to creations, retries included. */
  acceptedRequests: number;
  /** Accepted creation answers per second, first request sent → last accepted. */
  acceptedPerSec: number | null;
  decided: number;
  held: number;
  rejected: number;
  /** Decisions seen per second, first request sent → last decision seen. */
  decisionsPerSec: number | null;
  rejections: Record<string, number>;
  /** Per action, the answers it got ("200", "402 PAYMENT_DECLINED", "expired", …). */
  actions: Record<string, Record<string, number>>;
  /** Creations answered 202: send → answer. */
  acceptLatencyMs: Summary;
  /** The buyer's view: 202 received → decision seen (long-poll or polling included). */
  decisionLatencyMs: Summary;
  /** The server's view: acceptance time → decision time in the booking's own trail. */
  serverDecisionLatencyMs: Summary;
  /** Every answered request, per kind. */
  latencyMs: Record<Op, Summary>;
  polls: number;
  pollsPerSec: number | null;
  /** From the first acceptance to the first SOLD_OUT decision (server times); slowest show when several. */
  timeToSellOutMs: number | null;
  soldOutShows: number;
  /** expiresAt → EXPIRED in the booking's trail (the release transaction). */
  releaseLagMs: Summary;
  /** expiresAt → the client saw EXPIRED (a GET at expiresAt, then long-poll or polling). */
  releaseObservedLagMs: Summary;
  /** Abandoned holds not seen released within --release-timeout. */
  releasesMissed: number;
  httpStatus: Record<Op, Record<string, number>>;
  problemCodes: Record<Op, Record<string, number>>;
  serverErrors: Record<string, number>;
  timeouts: number;
  networkErrors: number;
  /** Why buyers stopped early. */
  buyerFailures: Record<string, number>;
  /** Open loop: how late buyers started against their schedule (the load generator keeping up). */
  scheduleLagMs: Summary | null;
  durationsMs: { setup: number; buyers: number; releases: number; verify: number; total: number };
  /** The crowd watching during the sale (--watchers, --show-pollers); null without one. */
  audience: AudienceFigures | null;
}

export interface LoadTestResult {
  version: 1;
  runId: string;
  startedAt: string;
  finishedAt: string;
  transport: string;
  aborted: boolean;
  options: Omit<LoadTestOptions, 'adminToken'> & { adminToken: string };
  shows: Pick<ShowPlan, 'id' | 'name' | 'created' | 'capacity' | 'holdTtlSeconds' | 'maxSeatsPerBooking'>[];
  figures: Figures;
  /** Events per time bucket from the start of the buyer phase. */
  series: Series;
  histograms: Record<'acceptLatencyMs' | 'decisionLatencyMs' | 'releaseLagMs' | 'releaseObservedLagMs', Histogram>;
  verdict: Verdict;
  /** The first few errors (5xx, timeouts, refused connections), verbatim. */
  errors: string[];
}

export class LoadTestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadTestError';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const RETRYABLE = (r: HttpResult) => r.status === 0 || r.status === 429 || r.status === 502 || r.status === 503 || r.status === 504;
const describe = (r: HttpResult) => (r.error ? r.error : `${r.status}${r.code ? ` ${r.code}` : ''}`);

/** Seeded PRNG (mulberry32): the same seed gives the same buyers. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const newRunId = () => `lt${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

/** The admin API body of a show built from --ga-capacity/--tiers/--seats. */
export function showBody(options: LoadTestOptions, name: string): CreateShowBody {
  const { layout } = options;
  const tiers = layout.ga.map((t) => ({ code: t.code, name: t.code, priceCents: t.priceCents, currency: 'EUR' }));
  const body: CreateShowBody = {
    name,
    venue: 'Load test hall',
    startsAt: new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString(),
    salesOpen: true,
    holdTtlSeconds: layout.holdTtlSeconds,
    maxSeatsPerBooking: layout.maxSeatsPerBooking,
    tiers,
  };
  if (layout.ga.length) body.generalAdmission = layout.ga.map((t) => ({ tier: t.code, capacity: t.capacity }));
  const s = layout.seating;
  if (s) {
    tiers.push({ code: s.tier, name: s.tier, priceCents: s.priceCents, currency: 'EUR' });
    body.seating = Array.from({ length: s.sections }, (_, i) => ({ section: String.fromCharCode(65 + i), tier: s.tier, rows: s.rows, seatsPerRow: s.seatsPerRow }));
  }
  return body;
}

async function must<T>(res: Promise<HttpResult<T>>, what: string, ok = 200): Promise<T> {
  const r = await res;
  if (r.status !== ok || r.body === null) {
    throw new LoadTestError(`${what}: ${r.error ? `${r.error} (${r.message})` : `answered ${r.status}${r.code ? ` ${r.code}` : ''}${r.body && typeof r.body === 'object' && 'detail' in r.body ? ` — ${String((r.body as { detail: unknown }).detail)}` : ''}`}`);
  }
  return r.body;
}

/** The whole seat map of a show, best seats first. */
export async function fetchSeats(client: ApiClient, showId: string, op: Op = 'setup'): Promise<Seat[]> {
  const seats: Seat[] = [];
  let cursor: string | null = null;
  do {
    const path = `/v1/shows/${showId}/seats?limit=500${cursor ? `&cursor=${cursor}` : ''}`;
    const page: SeatList = await must(client.request<SeatList>(op, { method: 'GET', path }), `GET ${path}`);
    seats.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return seats;
}

/** The admin list of a show's decided bookings, all pages. */
export async function fetchBookings(client: ApiClient, showId: string, op: Op = 'verify'): Promise<Booking[]> {
  const out: Booking[] = [];
  let cursor: string | null = null;
  do {
    const path = `/v1/shows/${showId}/bookings?limit=500${cursor ? `&cursor=${cursor}` : ''}`;
    const page: BookingList = await must(client.request<BookingList>(op, { method: 'GET', path, admin: true }), `GET ${path}`);
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

function planFromSeats(show: Show, seats: Seat[] | null, created: boolean, options: LoadTestOptions): ShowPlan {
  const rows = new Map<string, Seat[]>();
  const assigned: Seat[] = [];
  const gaTotals = new Map<string, number>();
  for (const s of seats ?? []) {
    if (s.label === null) {
      gaTotals.set(s.tier, (gaTotals.get(s.tier) ?? 0) + 1);
      continue;
    }
    assigned.push(s);
    const key = `${s.section}/${s.row}`;
    const row = rows.get(key) ?? [];
    row.push(s);
    rows.set(key, row);
  }
  // Without a seat map (a created GA-only show), the layout says which tiers are GA.
  const gaCodes = seats ? [...gaTotals.keys()] : options.layout.ga.map((t) => t.code);
  let tiers = show.tiers.filter((t) => gaCodes.includes(t.code)).map((t) => ({ code: t.code, total: t.total }));
  if (tiers.length === 0) tiers = show.tiers.map((t) => ({ code: t.code, total: t.total }));
  return {
    id: show.id,
    name: show.name,
    created,
    capacity: show.totals.total,
    holdTtlSeconds: show.holdTtlSeconds,
    maxSeatsPerBooking: show.maxSeatsPerBooking,
    tiers,
    rows: [...rows.values()].map((r) => r.sort((a, b) => (a.number ?? 0) - (b.number ?? 0)).map((s) => s.id)),
    hot: options.hotBlock > 0 ? assigned.slice(0, options.hotBlock).map((s) => s.id) : [],
  };
}

/** Checks the API answers, then creates the shows (or reads the existing ones) and plans what buyers can ask for. */
export async function prepareShows(client: ApiClient, options: LoadTestOptions, runId: string): Promise<ShowPlan[]> {
  const ready = await client.request('setup', { method: 'GET', path: '/health/ready' });
  if (ready.status !== 200) {
    throw new LoadTestError(`the API at ${options.url} is not ready: GET /health/ready ${ready.error ? `failed (${ready.message})` : `answered ${ready.status}`}`);
  }
  const plans: ShowPlan[] = [];
  if (options.showIds.length) {
    for (const id of options.showIds) {
      const show = await must(client.request<Show>('setup', { method: 'GET', path: `/v1/shows/${id}` }), `GET /v1/shows/${id}`);
      if (!show.salesOpen) throw new LoadTestError(`show ${id} has sales closed: every booking would be REJECTED`);
      plans.push(planFromSeats(show, await fetchSeats(client, id), false, options));
    }
    return plans;
  }
  const needSeats = options.exactSeatsShare > 0 && options.layout.seating !== null;
  let next = 0;
  const createOne = async () => {
    while (next < options.shows) {
      const i = next++;
      const name = `Load test ${runId}${options.shows > 1 ? ` #${i + 1}` : ''}`;
      const show = await must(client.request<Show>('setup', { method: 'POST', path: '/v1/shows', admin: true, json: showBody(options, name) }), 'POST /v1/shows', 201);
      plans[i] = planFromSeats(show, needSeats ? await fetchSeats(client, show.id) : null, true, options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, options.shows) }, createOne));
  return plans;
}

function pickDistinct(rng: () => number, from: readonly string[], n: number): string[] {
  const pool = [...from];
  const out: string[] = [];
  for (let i = 0; i < n && pool.length; i++) out.push(pool.splice(Math.floor(rng() * pool.length), 1)[0]!);
  return out;
}

/** Every buyer's plan: show, request, retry and action, drawn from the seeded PRNG. */
export function planBuyers(options: LoadTestOptions, shows: readonly ShowPlan[], runId: string): BuyerRecord[] {
  const rng = makeRng(options.seed);
  const { confirmShare: c, declineShare: d, cancelShare: x, abandonShare: a } = options;
  const buyers: BuyerRecord[] = [];
  for (let i = 0; i < options.buyers; i++) {
    const show = shows[i % shows.length]!;
    const max = Math.min(options.quantity.max, show.maxSeatsPerBooking);
    const min = Math.min(options.quantity.min, max);
    let quantity = min + Math.floor(rng() * (max - min + 1));
    let request: BookingRequest | null = null;
    if (rng() < options.exactSeatsShare && show.rows.length) {
      if (show.hot.length) {
        request = { seatIds: pickDistinct(rng, show.hot, quantity) };
      } else {
        const rows = show.rows.filter((r) => r.length >= quantity);
        const row = rows.length ? rows[Math.floor(rng() * rows.length)]! : show.rows[Math.floor(rng() * show.rows.length)]!;
        const start = Math.floor(rng() * Math.max(1, row.length - quantity + 1));
        request = { seatIds: row.slice(start, start + quantity) };
      }
      quantity = request.seatIds!.length;
    }
    if (!request) {
      let r = rng() * show.tiers.reduce((n, t) => n + t.total, 0);
      const tier = show.tiers.find((t) => (r -= t.total) < 0) ?? show.tiers[show.tiers.length - 1]!;
      request = { items: [{ tier: tier.code, quantity }] };
    }
    const retry: RetryKind = rng() < options.retryShare ? (rng() < 0.5 ? 'concurrent' : 'sequential') : 'none';
    const roll = rng();
    const action: Action = roll < c ? 'confirm' : roll < c + d ? 'decline' : roll < c + d + x ? 'cancel' : roll < c + d + x + a ? 'abandon' : 'keep';
    buyers.push({
      index: i,
      showId: show.id,
      idempotencyKey: `${runId}-${i}`,
      customerRef: `${runId}:${i}`,
      request,
      quantity,
      retry,
      action,
      createdIds: [],
      bookingId: null,
      retryRefused: null,
      acceptedAt: null,
      decision: null,
      expiresAt: null,
      lastStatus: null,
      actionResult: null,
      release: null,
      failure: null,
    });
  }
  return buyers;
}

/** The state of one buyer phase, shared by its buyers. */
export interface RunContext {
  client: ApiClient;
  options: LoadTestOptions;
  signal: AbortSignal | undefined;
  counters: { started: number; finished: number; accepted: number; decided: number; held: number; rejected: number; watching: number };
  acceptRate: RateWindow;
  rejections: Record<string, number>;
  actions: Record<string, Record<string, number>>;
  /** Per show: earliest acceptance and earliest SOLD_OUT decision, server times (epoch ms). */
  firstAccept: Map<string, number>;
  firstSoldOut: Map<string, number>;
  watchers: Promise<void>[];
}

const aborted = (ctx: RunContext) => ctx.signal?.aborted === true;

async function createBooking(ctx: RunContext, b: BuyerRecord): Promise<{ doc: Booking; etag: string | undefined } | null> {
  const send = () =>
    ctx.client.request<Booking>('create', {
      method: 'POST',
      path: `/v1/shows/${b.showId}/bookings`,
      headers: { 'idempotency-key': b.idempotencyKey },
      json: { ...b.request, customerRef: b.customerRef },
    });
  const ok2xx = (r: HttpResult<Booking>) => (r.status === 201 || r.status === 202) && r.body !== null && typeof r.body.id === 'string';
  for (let attempt = 1; attempt <= ctx.options.attempts; attempt++) {
    // The concurrent retry: the same creation twice at once, as a double-clicking client does.
    const results = b.retry === 'concurrent' && attempt === 1 ? await Promise.all([send(), send()]) : [await send()];
    for (const r of results) if (ok2xx(r)) b.createdIds.push(r.body!.id);
    const ok = results.find(ok2xx);
    // Overload answers to a retry are fair; a refusal (a 4xx) of the same key and body is not.
    const refused = (r: HttpResult<Booking>, how: string) => {
      if (!ok2xx(r) && !RETRYABLE(r)) b.retryRefused ??= `${how} retry answered ${describe(r)}`;
    };
    if (ok) {
      if (results.length === 2) for (const r of results) refused(r, 'a concurrent');
      if (b.retry === 'sequential') {
        // The retry after the answer, as a client does whose first answer was lost.
        const again = await send();
        if (ok2xx(again)) b.createdIds.push(again.body!.id);
        refused(again, 'a sequential');
      }
      b.bookingId = ok.body!.id;
      b.acceptedAt = ctx.client.recorder.now();
      b.lastStatus = ok.body!.status;
      ctx.counters.accepted++;
      ctx.acceptRate.add(b.acceptedAt);
      const at = Date.parse(ok.body!.createdAt);
      if (!(at >= (ctx.firstAccept.get(b.showId) ?? Infinity))) ctx.firstAccept.set(b.showId, at);
      return { doc: ok.body!, etag: ok.headers.etag };
    }
    const r = results[0]!;
    if (!RETRYABLE(r) || attempt === ctx.options.attempts || aborted(ctx)) {
      b.failure = `create ${describe(r)}`;
      return null;
    }
    await sleep(retryAfterMs(r.headers, 100 * attempt));
  }
  return null;
}

function observeDecision(ctx: RunContext, b: BuyerRecord, doc: Booking): void {
  const decided = doc.transitions[1];
  const serverMs = decided ? Date.parse(decided.at) - Date.parse(doc.transitions[0]!.at) : null;
  const status = doc.transitions[1]?.status === 'REJECTED' || doc.status === 'REJECTED' ? 'REJECTED' : 'HELD';
  const at = ctx.client.recorder.now();
  b.decision = { status, code: doc.rejection?.code ?? null, at, serverMs };
  b.lastStatus = doc.status;
  b.expiresAt = doc.expiresAt;
  ctx.counters.decided++;
  if (status === 'HELD') {
    ctx.counters.held++;
    ctx.client.recorder.event('held', at);
  } else {
    ctx.counters.rejected++;
    ctx.client.recorder.event('rejected', at);
    const code = doc.rejection?.code ?? 'UNKNOWN';
    bump(ctx.rejections, code);
    if (code === 'SOLD_OUT' && decided) {
      const t = Date.parse(decided.at);
      if (!(t >= (ctx.firstSoldOut.get(b.showId) ?? Infinity))) ctx.firstSoldOut.set(b.showId, t);
    }
  }
}

/**
 * Follows a booking the way a client does until `done(doc)` or the deadline: long-poll
 * (If-None-Match + Prefer: wait) or polling at an interval. Returns the last document seen.
 */
async function follow(
  ctx: RunContext,
  b: BuyerRecord,
  etag: string | undefined,
  deadline: number,
  done: (doc: Booking) => boolean,
  firstImmediately: boolean,
): Promise<Booking | null> {
  const { options } = ctx;
  const longpoll = options.follow === 'longpoll';
  let notFound = 0;
  let first = firstImmediately;
  while (Date.now() < deadline && !aborted(ctx)) {
    // A long-poll needs the ETag it waits on; without one it degrades to polling.
    const canWait = longpoll && !first && etag !== undefined;
    if (!first && !canWait) await sleep(Math.min(options.pollIntervalMs, deadline - Date.now()));
    const headers: Record<string, string> = {};
    const wait = Math.max(1, Math.min(options.waitSeconds, Math.ceil((deadline - Date.now()) / 1000)));
    if (etag && (canWait || (!longpoll && options.pollEtag))) headers['if-none-match'] = etag;
    if (canWait) headers.prefer = `wait=${wait}`;
    first = false;
    const r = await ctx.client.request<Booking>('poll', {
      method: 'GET',
      path: `/v1/bookings/${b.bookingId}`,
      headers,
      timeoutMs: headers.prefer ? wait * 1000 + options.timeoutMs : options.timeoutMs,
    });
    if (r.status === 200 && r.body) {
      etag = r.headers.etag ?? etag;
      b.lastStatus = r.body.status;
      if (done(r.body)) return r.body;
      continue;
    }
    if (r.status === 304) continue;
    if (r.status === 404 && ++notFound >= 5) {
      b.failure = 'booking not found';
      return null;
    }
    if (canWait) await sleep(r.status === 0 ? 100 : retryAfterMs(r.headers, 100));
  }
  return null;
}

async function command(ctx: RunContext, b: BuyerRecord, name: 'confirm' | 'cancel', body: object): Promise<HttpResult<Booking>> {
  let r!: HttpResult<Booking>;
  for (let attempt = 1; attempt <= ctx.options.attempts; attempt++) {
    r = await ctx.client.request<Booking>(name, { method: 'POST', path: `/v1/bookings/${b.bookingId}/${name}`, json: body });
    // Confirm and cancel are idempotent: repeating one after a timeout or 503 is what clients do.
    if (!(RETRYABLE(r) || (r.status === 409 && r.code === 'BOOKING_PENDING')) || attempt === ctx.options.attempts || aborted(ctx)) break;
    await sleep(retryAfterMs(r.headers, 100 * attempt));
  }
  b.actionResult = { status: r.status, code: r.code };
  if (r.status === 200 && r.body) b.lastStatus = r.body.status;
  if (r.status === 409 && r.code === 'BOOKING_EXPIRED') b.lastStatus = 'EXPIRED';
  return r;
}

/** From expiresAt on, follows an abandoned hold until it is EXPIRED; records both lags. */
async function watchRelease(ctx: RunContext, b: BuyerRecord): Promise<void> {
  if (!b.expiresAt) return;
  const expiresAt = Date.parse(b.expiresAt);
  ctx.counters.watching++;
  try {
    // Wait in slices so an abort is noticed.
    while (Date.now() < expiresAt && !aborted(ctx)) await sleep(Math.min(500, expiresAt - Date.now()));
    const doc = await follow(ctx, b, undefined, expiresAt + ctx.options.releaseTimeoutMs, (d) => d.status !== 'HELD', true);
    if (!doc) {
      if (!aborted(ctx)) b.failure ??= 'hold not seen released within --release-timeout';
      return;
    }
    const observedLagMs = Date.now() - expiresAt;
    const expired = doc.transitions.find((t) => t.status === 'EXPIRED');
    b.release = { observedLagMs, serverLagMs: expired ? Date.parse(expired.at) - expiresAt : null };
    ctx.client.recorder.event('released');
  } finally {
    ctx.counters.watching--;
  }
}

async function act(ctx: RunContext, b: BuyerRecord): Promise<void> {
  const out = (label: string) => bump((ctx.actions[b.action] ??= {}), label);
  switch (b.action) {
    case 'confirm': {
      const r = await command(ctx, b, 'confirm', { paymentToken: 'tok_visa' });
      out(describe(r));
      return;
    }
    case 'decline': {
      const r = await command(ctx, b, 'confirm', { paymentToken: 'tok_declined' });
      out(describe(r));
      // The hold stays after a declined payment; the buyer walks away and it must expire.
      if (r.status === 402) ctx.watchers.push(watchRelease(ctx, b));
      return;
    }
    case 'cancel': {
      const r = await command(ctx, b, 'cancel', {});
      out(describe(r));
      return;
    }
    case 'abandon':
      out('walked away');
      ctx.watchers.push(watchRelease(ctx, b));
      return;
    case 'keep':
      out('kept');
      return;
  }
}

async function runBuyer(ctx: RunContext, b: BuyerRecord): Promise<void> {
  const created = await createBooking(ctx, b);
  if (!created || aborted(ctx)) return;
  let doc: Booking | null = created.doc;
  if (doc.status === 'PENDING') {
    doc = await follow(ctx, b, created.etag, Date.now() + ctx.options.decisionTimeoutMs, (d) => d.status !== 'PENDING', false);
    if (!doc) {
      b.failure ??= aborted(ctx) ? 'aborted' : 'decision timeout';
      return;
    }
  }
  observeDecision(ctx, b, doc);
  if (doc.status === 'HELD' && !aborted(ctx)) await act(ctx, b);
}

/** The API's view for the verdict, through the same client (recorded as "verify"). */
export function apiFetcher(client: ApiClient): VerdictFetcher {
  return {
    listBookings: (showId) => fetchBookings(client, showId, 'verify'),
    getShow: (showId) => must(client.request<Show>('verify', { method: 'GET', path: `/v1/shows/${showId}` }), `GET /v1/shows/${showId}`),
    listSeats: (showId) => fetchSeats(client, showId, 'verify'),
    async getBooking(id) {
      const r = await client.request<Booking>('verify', { method: 'GET', path: `/v1/bookings/${id}` });
      if (r.status === 404) return null;
      if (r.status !== 200 || !r.body) throw new LoadTestError(`GET /v1/bookings/${id}: ${describe(r)}`);
      return r.body;
    },
  };
}

/**
 * Runs the buyers against prepared shows: closed loop (`concurrency` at a time) or open loop
 * (`rate` arrivals per second), then waits for abandoned holds to be released.
 */
export async function runBuyers(
  client: ApiClient,
  shows: readonly ShowPlan[],
  options: LoadTestOptions,
  runId: string,
  hooks: RunHooks = {},
): Promise<{ buyers: BuyerRecord[]; ctx: RunContext; scheduleLag: number[] | null; buyersMs: number; releasesMs: number }> {
  const buyers = planBuyers(options, shows, runId);
  const ctx: RunContext = {
    client,
    options,
    signal: hooks.signal,
    counters: { started: 0, finished: 0, accepted: 0, decided: 0, held: 0, rejected: 0, watching: 0 },
    acceptRate: new RateWindow(1000),
    rejections: {},
    actions: {},
    firstAccept: new Map(),
    firstSoldOut: new Map(),
    watchers: [],
  };
  const rec = client.recorder;
  let phase: Phase = 'buyers';
  const snapshot = () => progressOf(ctx, buyers.length, phase);
  const timer = hooks.onProgress ? setInterval(() => hooks.onProgress!(snapshot()), hooks.progressIntervalMs ?? 250) : null;
  const one = async (b: BuyerRecord) => {
    ctx.counters.started++;
    try {
      await runBuyer(ctx, b);
    } catch (err) {
      b.failure = `error: ${(err as Error).message}`;
    }
    ctx.counters.finished++;
  };
  rec.restart();
  let scheduleLag: number[] | null = null;
  try {
    if (options.mode === 'closed') {
      let next = 0;
      const loop = async () => {
        while (next < buyers.length && !aborted(ctx)) await one(buyers[next++]!);
      };
      await Promise.all(Array.from({ length: Math.min(options.concurrency, buyers.length) }, loop));
    } else {
      scheduleLag = [];
      const inflight = new Set<Promise<void>>();
      const start = performance.now();
      const interval = 1000 / options.rate;
      for (let i = 0; i < buyers.length && !aborted(ctx); i++) {
        const due = start + i * interval;
        const wait = due - performance.now();
        if (wait >= 1) await sleep(wait);
        scheduleLag.push(Math.max(0, performance.now() - due));
        const p: Promise<void> = one(buyers[i]!).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await Promise.all(inflight);
    }
    const buyersMs = rec.now();
    phase = 'releases';
    hooks.onProgress?.(snapshot());
    await Promise.all(ctx.watchers);
    const releasesMs = rec.now() - buyersMs;
    hooks.onProgress?.(snapshot());
    return { buyers, ctx, scheduleLag, buyersMs, releasesMs };
  } finally {
    if (timer) clearInterval(timer);
  }
}

function computeFigures(
  buyers: readonly BuyerRecord[],
  ctx: RunContext,
  scheduleLag: number[] | null,
  durationsMs: Figures['durationsMs'],
  audience: AudienceFigures | null = null,
): Figures {
  const rec = ctx.client.recorder;
  const decisionLatency: number[] = [];
  const serverDecision: number[] = [];
  const releaseLag: number[] = [];
  const releaseObserved: number[] = [];
  const failures: Record<string, number> = {};
  let releasesMissed = 0;
  for (const b of buyers) {
    if (b.decision && b.acceptedAt !== null) decisionLatency.push(Math.max(0, b.decision.at - b.acceptedAt));
    if (b.decision?.serverMs != null) serverDecision.push(b.decision.serverMs);
    if (b.release) {
      releaseObserved.push(b.release.observedLagMs);
      if (b.release.serverLagMs !== null) releaseLag.push(b.release.serverLagMs);
    }
    if (b.failure) bump(failures, b.failure.replace(/ [0-9a-f-]{36}/g, ''));
    if (b.failure?.startsWith('hold not seen released')) releasesMissed++;
  }
  const sent = span(rec.events.sent!);
  const accepted = span(rec.events.accepted!);
  const decided = span([...rec.events.held!, ...rec.events.rejected!]);
  const polls = span(rec.events.polls!);
  const soldOut: number[] = [];
  for (const [showId, t] of ctx.firstSoldOut) soldOut.push(t - (ctx.firstAccept.get(showId) ?? t));
  return {
    buyers: buyers.length,
    bookings: ctx.counters.accepted,
    acceptedRequests: rec.events.accepted!.length,
    acceptedPerSec: sent && accepted ? perSecond(rec.events.accepted!.length, accepted.last - sent.first) : null,
    decided: ctx.counters.decided,
    held: ctx.counters.held,
    rejected: ctx.counters.rejected,
    decisionsPerSec: sent && decided ? perSecond(ctx.counters.decided, decided.last - sent.first) : null,
    rejections: ctx.rejections,
    actions: ctx.actions,
    acceptLatencyMs: summarize(rec.acceptLatency),
    decisionLatencyMs: summarize(decisionLatency),
    serverDecisionLatencyMs: summarize(serverDecision),
    latencyMs: Object.fromEntries(Object.entries(rec.latency).map(([op, v]) => [op, summarize(v)])) as Record<Op, Summary>,
    polls: rec.events.polls!.length,
    pollsPerSec: polls ? perSecond(rec.events.polls!.length, polls.ms) : null,
    timeToSellOutMs: soldOut.length ? Math.max(...soldOut) : null,
    soldOutShows: soldOut.length,
    releaseLagMs: summarize(releaseLag),
    releaseObservedLagMs: summarize(releaseObserved),
    releasesMissed,
    httpStatus: rec.status,
    problemCodes: rec.codes,
    serverErrors: { ...rec.serverErrors },
    timeouts: rec.timeouts,
    networkErrors: rec.networkErrors,
    buyerFailures: failures,
    scheduleLagMs: scheduleLag ? summarize(scheduleLag) : null,
    durationsMs,
    audience,
  };
}

/**
 * One load test: prepare the show(s), run the buyers, wait for abandoned holds to be released,
 * judge the outcome through the API. No console output and no process exit: `pnpm bench` calls
 * this in-process. Throws LoadTestError when the run cannot start (API down, show missing).
 */
export async function runLoadTest(options: LoadTestOptions, hooks: RunHooks = {}): Promise<LoadTestResult> {
  const runId = newRunId();
  const startedAt = new Date();
  const t0 = performance.now();
  const client = await ApiClient.open({ url: options.url, connections: options.connections, adminToken: options.adminToken, timeoutMs: options.timeoutMs });
  const progress = (phase: Phase) =>
    hooks.onProgress?.({ phase, elapsedMs: 0, buyers: options.buyers, started: 0, finished: 0, sent: 0, accepted: 0, decided: 0, held: 0, rejected: 0, rps: 0, polls: 0, errors: 0, watching: 0 });
  try {
    progress('setup');
    const shows = await prepareShows(client, options, runId);
    const crowd =
      options.watchers > 0 || options.showPollers > 0
        ? await startAudience({ url: options.url, showIds: shows.map((s) => s.id), watchers: options.watchers, pollers: options.showPollers, pollIntervalMs: options.showPollIntervalMs })
        : null;
    const setupMs = performance.now() - t0;
    let phase: Awaited<ReturnType<typeof runBuyers>>;
    try {
      phase = await runBuyers(client, shows, options, runId, hooks);
    } catch (err) {
      await crowd?.stop();
      throw err;
    }
    const audience = crowd ? await crowd.stop() : null;
    const isAborted = hooks.signal?.aborted === true;
    const serverErrors = { ...client.recorder.serverErrors };
    const tv = performance.now();
    let verdict: Verdict;
    if (isAborted) {
      verdict = { pass: false, checks: [], reasons: ['the run was interrupted before it finished; nothing was judged'], notes: [], finalStatuses: {} };
    } else {
      hooks.onProgress?.(progressOf(phase.ctx, phase.buyers.length, 'verify'));
      try {
        verdict = await judge({ runId, showIds: shows.map((s) => s.id), buyers: phase.buyers, serverErrors }, apiFetcher(client));
      } catch (err) {
        verdict = { pass: false, checks: [], reasons: [`the verdict could not be reached: ${(err as Error).message}`], notes: [], finalStatuses: {} };
      }
    }
    const verifyMs = performance.now() - tv;
    // Not violations of the properties, but a run with them did not test what it was asked to.
    const rec0 = client.recorder;
    if (rec0.timeouts) verdict.notes.push(`${rec0.timeouts} requests timed out (--timeout ${options.timeoutMs} ms); see the errors`);
    if (rec0.networkErrors) verdict.notes.push(`${rec0.networkErrors} requests failed without an HTTP answer; see the errors`);
    const figures = computeFigures(phase.buyers, phase.ctx, phase.scheduleLag, {
      setup: setupMs,
      buyers: phase.buyersMs,
      releases: phase.releasesMs,
      verify: verifyMs,
      total: performance.now() - t0,
    }, audience);
    const rec = client.recorder;
    const releaseLags = phase.buyers.flatMap((b) => (b.release?.serverLagMs != null ? [b.release.serverLagMs] : []));
    const releaseObserved = phase.buyers.flatMap((b) => (b.release ? [b.release.observedLagMs] : []));
    const decisionLags = phase.buyers.flatMap((b) => (b.decision && b.acceptedAt !== null ? [Math.max(0, b.decision.at - b.acceptedAt)] : []));
    hooks.onProgress?.(progressOf(phase.ctx, phase.buyers.length, 'done'));
    return {
      version: 1,
      runId,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      transport: client.transportName,
      aborted: isAborted,
      options: { ...options, adminToken: '(hidden)' },
      shows: shows.map(({ id, name, created, capacity, holdTtlSeconds, maxSeatsPerBooking }) => ({ id, name, created, capacity, holdTtlSeconds, maxSeatsPerBooking })),
      figures,
      series: timeSeries(
        {
          sent: rec.events.sent!,
          accepted: rec.events.accepted!,
          held: rec.events.held!,
          rejected: rec.events.rejected!,
          polls: rec.events.polls!,
          released: rec.events.released!,
          errors: rec.events.errors!,
        },
        phase.buyersMs + phase.releasesMs,
      ),
      histograms: {
        acceptLatencyMs: histogram(rec.acceptLatency),
        decisionLatencyMs: histogram(decisionLags),
        releaseLagMs: histogram(releaseLags),
        releaseObservedLagMs: histogram(releaseObserved),
      },
      verdict,
      errors: [...rec.firstErrors],
    };
  } finally {
    await client.close();
  }
}

/** Where a buyer phase stands, for the progress line. */
function progressOf(ctx: RunContext, buyers: number, phase: Phase): ProgressSnapshot {
  const rec = ctx.client.recorder;
  return {
    phase,
    elapsedMs: rec.now(),
    buyers,
    started: ctx.counters.started,
    finished: ctx.counters.finished,
    sent: rec.events.sent!.length,
    accepted: ctx.counters.accepted,
    decided: ctx.counters.decided,
    held: ctx.counters.held,
    rejected: ctx.counters.rejected,
    rps: ctx.acceptRate.rate(rec.now()),
    polls: rec.events.polls!.length,
    errors: rec.events.errors!.length,
    watching: ctx.counters.watching,
  };
}
