import { parseArgs } from 'node:util';

export type FollowMode = 'longpoll' | 'poll';
export type LoadMode = 'closed' | 'open';

/** One general-admission tier of a show the load tester creates. */
export interface GaTierSpec {
  code: string;
  capacity: number;
  priceCents: number;
}

/** Assigned seats of a created show: `sections` sections (A, B, …) of rows × seatsPerRow, one tier. */
export interface SeatingSpec {
  sections: number;
  rows: number;
  seatsPerRow: number;
  tier: string;
  priceCents: number;
}

/** The seat map of each show the load tester creates (ignored with `showIds`). */
export interface ShowLayout {
  ga: GaTierSpec[];
  seating: SeatingSpec | null;
  holdTtlSeconds: number;
  maxSeatsPerBooking: number;
}

export interface LoadTestOptions {
  url: string;
  adminToken: string;
  /** Existing shows to target; empty means create `shows` shows with `layout`. */
  showIds: string[];
  shows: number;
  layout: ShowLayout;
  buyers: number;
  /** closed: `concurrency` buyers at a time, each starting when one finishes; open: `rate` arrivals per second. */
  mode: LoadMode;
  concurrency: number;
  rate: number;
  quantity: { min: number; max: number };
  /** Share of buyers asking for exact seats (the rest ask for a quantity of a tier, best available). */
  exactSeatsShare: number;
  /** When > 0, exact-seat buyers all pick from the best `hotBlock` seats (heavy overlap). */
  hotBlock: number;
  /** Share of buyers that send their creation twice with the same Idempotency-Key (half at once, half after the answer). */
  retryShare: number;
  confirmShare: number;
  declineShare: number;
  cancelShare: number;
  abandonShare: number;
  follow: FollowMode;
  pollIntervalMs: number;
  /** Plain polling sends If-None-Match (a 304 when nothing changed). */
  pollEtag: boolean;
  /** Seconds of `Prefer: wait` on each long-poll. */
  waitSeconds: number;
  /** Per request, on top of any long-poll wait. */
  timeoutMs: number;
  /** How long a buyer follows its booking before giving up on the decision. */
  decisionTimeoutMs: number;
  /** How long past expiresAt an abandoned hold is watched before it counts as not released. */
  releaseTimeoutMs: number;
  /** Keep-alive connections to the API. */
  connections: number;
  /** Creation attempts per buyer when the answer is 429/503 or the request times out (same Idempotency-Key). */
  attempts: number;
  /** Per show, event streams open during the sale (GET /v1/shows/:id/events): the crowd watching. */
  watchers: number;
  /** Per show, clients polling GET /v1/shows/:id with If-None-Match during the sale. */
  showPollers: number;
  /** Milliseconds between one show poller's requests (0: back to back). */
  showPollIntervalMs: number;
  seed: number;
  json: boolean;
  out: string | null;
  quiet: boolean;
}

export class OptionsError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'OptionsError';
    this.problems = problems;
  }
}

export const HELP = `pnpm loadtest -- [options]

Simulates a flash sale against a running booking API over HTTP, then checks through the API
that nothing was oversold, lost or duplicated. Prints PASS or FAIL (exit code 1 on FAIL).

Target
  --url URL               API base URL (default http://127.0.0.1:3000)
  --admin-token TOKEN     bearer token of the admin routes (default dev-admin-token)
  --show ID[,ID…]         target existing show(s) instead of creating one
  --shows N               create N identical shows and spread buyers over them (default 1)

Show creation (when no --show)
  --ga-capacity N         one general-admission tier GA with N units (default 1000 when
                          neither --tiers nor --seats is given)
  --tiers LIST            GA tiers instead: CODE:capacity[:priceCents],… e.g. FLOOR:300,GA:1000:4500
  --seats SxRxN[@TIER]    assigned seats: S sections (A, B, …) of R rows × N seats, tier SEAT
                          by default, e.g. 2x10x20 or 4x25x20@VIP
  --hold-ttl SECONDS      hold length (default 10)
  --max-per-booking N     maxSeatsPerBooking of the show (default max(10, quantity max))

Buyers
  --buyers N              virtual buyers (default 2000)
  --concurrency C         closed loop: C buyers at a time (default 100)
  --rate R                open loop instead: R buyers arrive per second, whatever the answers
  --quantity A-B          seats per booking, uniform in A..B (default 1-4)
  --exact-seats SHARE     share asking for exact seats (adjacent seats in a random row); needs
                          assigned seats (default 0, or 1 when the show has no GA tier)
  --hot-block K           exact-seat buyers all pick among the best K seats
  --retry-share SHARE     resend creation with the same Idempotency-Key; half of them at once
                          (default 0.05)
  --confirm-share SHARE   pay with tok_visa (default 0.5)
  --decline-share SHARE   pay with tok_declined (402), then walk away (default 0.1)
  --cancel-share SHARE    cancel the hold (default 0.1)
  --abandon-share SHARE   walk away and let the hold expire (default 0.3)
                          (what the four shares leave over keeps its hold)
  SHARE is a fraction (0.25) or a percentage (25%).

Following bookings
  --follow MODE           longpoll (Prefer: wait + If-None-Match, default) or poll
  --poll-interval MS      interval of plain polling (default 250)
  --poll-etag             plain polling sends If-None-Match too
  --wait SECONDS          Prefer: wait of each long-poll (default 10, at most 30)

Limits
  --timeout MS            per request, on top of a long-poll's wait (default 15000: above the
                          API's COMMAND_TIMEOUT_MS, so its 503 arrives before we give up)
  --decision-timeout MS   give up following a booking after this (default 60000)
  --release-timeout MS    wait this long past expiresAt for a hold to be released (default 10000)
  --connections N         keep-alive connections (default 2×concurrency+64, or 2048 with --rate)
  --attempts N            creation attempts on 429/503/timeout, same Idempotency-Key (default 3)
  --seed N                random seed, to repeat a run's choices

The crowd watching (opened before the buyers, closed when they are done)
  --watchers N            event streams per show (GET /v1/shows/:id/events); figures: events
                          received and the SSE lag (worker commit → seat change received)
  --show-pollers N        clients per show polling GET /v1/shows/:id with If-None-Match
  --show-poll-interval MS between one poller's requests, as a page refreshing its counts
                          (default 1000; 0 = back to back)

Output
  --json                  print the result as JSON on stdout
  --out DIR               write DIR/result.json and DIR/report.html (charts, opens offline)
  --quiet                 no progress line
  -h, --help              this text
`;

export const DEFAULTS = {
  url: 'http://127.0.0.1:3000',
  adminToken: 'dev-admin-token',
  gaCapacity: 1000,
  holdTtlSeconds: 10,
  buyers: 2000,
  concurrency: 100,
  quantity: { min: 1, max: 4 },
  retryShare: 0.05,
  confirmShare: 0.5,
  declineShare: 0.1,
  cancelShare: 0.1,
  abandonShare: 0.3,
  pollIntervalMs: 250,
  waitSeconds: 10,
  timeoutMs: 15_000,
  decisionTimeoutMs: 60_000,
  releaseTimeoutMs: 10_000,
  attempts: 3,
} as const;

const TIER_CODE = /^[A-Z0-9_]{1,16}$/;
const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

/** What a library caller (e.g. `pnpm bench`) may set; everything else takes its default. */
export type LoadTestOverrides = Partial<Omit<LoadTestOptions, 'layout' | 'quantity'>> & {
  layout?: Partial<ShowLayout>;
  quantity?: { min: number; max: number };
};

/**
 * Fills in defaults and validates; throws OptionsError listing every problem at once.
 * The single place that decides what a valid run is, for the CLI and for library callers.
 */
export function resolveOptions(o: LoadTestOverrides = {}): LoadTestOptions {
  const problems: string[] = [];
  const quantity = o.quantity ?? { ...DEFAULTS.quantity };
  const showIds = o.showIds ?? [];
  let ga = o.layout?.ga ?? [];
  const seating = o.layout?.seating ?? null;
  if (showIds.length === 0 && ga.length === 0 && !seating) ga = [{ code: 'GA', capacity: DEFAULTS.gaCapacity, priceCents: 4500 }];
  const mode: LoadMode = o.mode ?? (o.rate !== undefined ? 'open' : 'closed');
  const concurrency = o.concurrency ?? DEFAULTS.concurrency;
  const layout: ShowLayout = {
    ga,
    seating,
    holdTtlSeconds: o.layout?.holdTtlSeconds ?? DEFAULTS.holdTtlSeconds,
    maxSeatsPerBooking: o.layout?.maxSeatsPerBooking ?? Math.max(10, quantity.max),
  };
  const hasGa = ga.length > 0;
  const options: LoadTestOptions = {
    url: o.url ?? DEFAULTS.url,
    adminToken: o.adminToken ?? DEFAULTS.adminToken,
    showIds,
    shows: o.shows ?? 1,
    layout,
    buyers: o.buyers ?? DEFAULTS.buyers,
    mode,
    concurrency,
    rate: o.rate ?? 0,
    quantity,
    exactSeatsShare: o.exactSeatsShare ?? (showIds.length === 0 && !hasGa && seating ? 1 : 0),
    hotBlock: o.hotBlock ?? 0,
    retryShare: o.retryShare ?? DEFAULTS.retryShare,
    confirmShare: o.confirmShare ?? DEFAULTS.confirmShare,
    declineShare: o.declineShare ?? DEFAULTS.declineShare,
    cancelShare: o.cancelShare ?? DEFAULTS.cancelShare,
    abandonShare: o.abandonShare ?? DEFAULTS.abandonShare,
    follow: o.follow ?? 'longpoll',
    pollIntervalMs: o.pollIntervalMs ?? DEFAULTS.pollIntervalMs,
    pollEtag: o.pollEtag ?? false,
    waitSeconds: o.waitSeconds ?? DEFAULTS.waitSeconds,
    timeoutMs: o.timeoutMs ?? DEFAULTS.timeoutMs,
    decisionTimeoutMs: o.decisionTimeoutMs ?? DEFAULTS.decisionTimeoutMs,
    releaseTimeoutMs: o.releaseTimeoutMs ?? DEFAULTS.releaseTimeoutMs,
    connections: o.connections ?? (mode === 'open' ? 2048 : 2 * concurrency + 64),
    attempts: o.attempts ?? DEFAULTS.attempts,
    watchers: o.watchers ?? 0,
    showPollers: o.showPollers ?? 0,
    showPollIntervalMs: o.showPollIntervalMs ?? 1000,
    seed: o.seed ?? Math.floor(Math.random() * 2 ** 31),
    json: o.json ?? false,
    out: o.out ?? null,
    quiet: o.quiet ?? false,
  };

  try {
    const u = new URL(options.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push(`--url must be http or https (got ${options.url})`);
  } catch {
    problems.push(`--url is not a URL: ${options.url}`);
  }
  if (!options.adminToken) problems.push('--admin-token must not be empty');
  const int = (name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(v) || v < min || v > max) problems.push(`${name} must be an integer from ${min} to ${max} (got ${v})`);
  };
  const share = (name: string, v: number) => {
    if (!Number.isFinite(v) || v < 0 || v > 1) problems.push(`${name} must be a share between 0 and 1 (got ${v})`);
  };
  for (const id of showIds) if (!isUuid(id)) problems.push(`--show: ${id} is not a show id (a UUID)`);
  int('--shows', options.shows, 1, 10_000);
  if (showIds.length > 0 && o.shows !== undefined) problems.push('--shows creates shows; it cannot be combined with --show');
  if (showIds.length > 0 && (o.layout?.ga?.length || o.layout?.seating || o.layout?.holdTtlSeconds !== undefined || o.layout?.maxSeatsPerBooking !== undefined)) {
    problems.push('--show targets an existing show; --ga-capacity/--tiers/--seats/--hold-ttl/--max-per-booking only apply when creating one');
  }
  const codes = new Set<string>();
  let capacity = 0;
  for (const t of ga) {
    if (!TIER_CODE.test(t.code)) problems.push(`tier code ${t.code} must match [A-Z0-9_]{1,16}`);
    if (codes.has(t.code)) problems.push(`tier ${t.code} is given twice`);
    codes.add(t.code);
    int(`capacity of tier ${t.code}`, t.capacity, 1, 100_000);
    int(`price of tier ${t.code}`, t.priceCents, 0, 100_000_000);
    capacity += t.capacity;
  }
  if (seating) {
    int('--seats sections', seating.sections, 1, 26);
    int('--seats rows', seating.rows, 1, 500);
    int('--seats seats per row', seating.seatsPerRow, 1, 500);
    if (!TIER_CODE.test(seating.tier)) problems.push(`--seats tier ${seating.tier} must match [A-Z0-9_]{1,16}`);
    if (codes.has(seating.tier)) problems.push(`--seats tier ${seating.tier} is also a GA tier; give it another code`);
    capacity += seating.sections * seating.rows * seating.seatsPerRow;
  }
  if (showIds.length === 0 && capacity > 100_000) problems.push(`a show has at most 100000 seats (asked for ${capacity})`);
  int('--hold-ttl', layout.holdTtlSeconds, 1, 86_400);
  int('--max-per-booking', layout.maxSeatsPerBooking, 1, 100);
  int('--buyers', options.buyers, 1, 10_000_000);
  if (o.rate !== undefined && o.concurrency !== undefined) problems.push('--concurrency (closed loop) and --rate (open loop) exclude each other');
  if (mode === 'open') {
    if (!Number.isFinite(options.rate) || options.rate <= 0 || options.rate > 1_000_000) problems.push(`--rate must be a number of arrivals per second above 0 (got ${options.rate})`);
  } else {
    int('--concurrency', options.concurrency, 1, 100_000);
  }
  int('--quantity minimum', quantity.min, 1, 100);
  int('--quantity maximum', quantity.max, 1, 100);
  if (quantity.min > quantity.max) problems.push(`--quantity ${quantity.min}-${quantity.max}: the minimum is above the maximum`);
  if (showIds.length === 0 && quantity.max > layout.maxSeatsPerBooking) {
    problems.push(`--quantity maximum ${quantity.max} is above --max-per-booking ${layout.maxSeatsPerBooking}: those requests would be 400s`);
  }
  share('--exact-seats', options.exactSeatsShare);
  share('--retry-share', options.retryShare);
  share('--confirm-share', options.confirmShare);
  share('--decline-share', options.declineShare);
  share('--cancel-share', options.cancelShare);
  share('--abandon-share', options.abandonShare);
  const actions = options.confirmShare + options.declineShare + options.cancelShare + options.abandonShare;
  if (actions > 1 + 1e-9) problems.push(`--confirm/--decline/--cancel/--abandon shares add up to ${+actions.toFixed(4)}, more than 1`);
  if (showIds.length === 0 && options.exactSeatsShare > 0 && !seating) problems.push('--exact-seats needs assigned seats: add --seats');
  if (showIds.length === 0 && options.exactSeatsShare < 1 && !hasGa && !seating) problems.push('the show needs seats: --ga-capacity, --tiers or --seats');
  int('--hot-block', options.hotBlock, 0, 100_000);
  if (options.hotBlock > 0 && options.hotBlock < quantity.max) problems.push(`--hot-block ${options.hotBlock} is smaller than the largest quantity ${quantity.max}`);
  if (options.hotBlock > 0 && options.exactSeatsShare === 0) problems.push('--hot-block only matters with --exact-seats above 0');
  if (seating && options.hotBlock > seating.sections * seating.rows * seating.seatsPerRow) problems.push(`--hot-block ${options.hotBlock} is larger than the seat map`);
  if (seating && options.exactSeatsShare > 0 && options.hotBlock === 0 && quantity.max > seating.seatsPerRow) {
    problems.push(`--quantity maximum ${quantity.max} does not fit in a row of ${seating.seatsPerRow} seats (exact seats are adjacent)`);
  }
  if (options.follow !== 'longpoll' && options.follow !== 'poll') problems.push(`--follow must be longpoll or poll (got ${options.follow})`);
  int('--poll-interval', options.pollIntervalMs, 1, 600_000);
  int('--wait', options.waitSeconds, 1, 30);
  int('--timeout', options.timeoutMs, 1, 600_000);
  int('--decision-timeout', options.decisionTimeoutMs, 1, 3_600_000);
  int('--release-timeout', options.releaseTimeoutMs, 0, 3_600_000);
  int('--connections', options.connections, 1, 65_536);
  int('--attempts', options.attempts, 1, 100);
  int('--watchers', options.watchers, 0, 100_000);
  int('--show-pollers', options.showPollers, 0, 10_000);
  int('--show-poll-interval', options.showPollIntervalMs, 0, 3_600_000);
  int('--seed', options.seed, 0, 2 ** 32 - 1);
  if (problems.length) throw new OptionsError(problems);
  return options;
}

/** "0.25" or "25%". */
export function parseShare(name: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(%?)\s*$/.exec(text);
  if (!m) throw new OptionsError([`${name} must be a fraction like 0.25 or a percentage like 25% (got ${JSON.stringify(text)})`]);
  return m[2] ? Number(m[1]) / 100 : Number(m[1]);
}

function parseNumber(name: string, text: string, integer = true): number {
  const v = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new OptionsError([`${name} must be ${integer ? 'an integer' : 'a number'} (got ${JSON.stringify(text)})`]);
  }
  return v;
}

/** "1-4" or "2". */
export function parseRange(name: string, text: string): { min: number; max: number } {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  if (!m) throw new OptionsError([`${name} must be N or A-B (got ${JSON.stringify(text)})`]);
  const min = Number(m[1]);
  return { min, max: m[2] === undefined ? min : Number(m[2]) };
}

/** "2x10x20" or "2x10x20@VIP". */
export function parseSeating(text: string): SeatingSpec {
  const m = /^\s*(\d+)\s*[x×]\s*(\d+)\s*[x×]\s*(\d+)\s*(?:@\s*([A-Za-z0-9_]+))?\s*$/.exec(text);
  if (!m) throw new OptionsError([`--seats must be SECTIONSxROWSxSEATS[@TIER], e.g. 2x10x20 (got ${JSON.stringify(text)})`]);
  return { sections: Number(m[1]), rows: Number(m[2]), seatsPerRow: Number(m[3]), tier: m[4] ?? 'SEAT', priceCents: 9000 };
}

/** "FLOOR:300,GA:1000:4500". */
export function parseTiers(text: string): GaTierSpec[] {
  const out: GaTierSpec[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_]+):(\d+)(?::(\d+))?$/.exec(part);
    if (!m) throw new OptionsError([`--tiers entries must be CODE:capacity[:priceCents] (got ${JSON.stringify(part)})`]);
    out.push({ code: m[1]!, capacity: Number(m[2]), priceCents: m[3] === undefined ? 4500 : Number(m[3]) });
  }
  if (out.length === 0) throw new OptionsError(['--tiers is empty']);
  return out;
}

export type ParsedArgs = { help: true } | { help: false; options: LoadTestOptions };

/** Parses CLI arguments (pnpm may pass a literal `--` first; it is skipped). Throws OptionsError. */
export function parseOptions(argv: readonly string[]): ParsedArgs {
  const args = [...argv];
  while (args[0] === '--') args.shift();
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        'admin-token': { type: 'string' },
        show: { type: 'string' },
        shows: { type: 'string' },
        'ga-capacity': { type: 'string' },
        tiers: { type: 'string' },
        seats: { type: 'string' },
        'hold-ttl': { type: 'string' },
        'max-per-booking': { type: 'string' },
        buyers: { type: 'string' },
        concurrency: { type: 'string' },
        rate: { type: 'string' },
        quantity: { type: 'string' },
        'exact-seats': { type: 'string' },
        'hot-block': { type: 'string' },
        'retry-share': { type: 'string' },
        'confirm-share': { type: 'string' },
        'decline-share': { type: 'string' },
        'cancel-share': { type: 'string' },
        'abandon-share': { type: 'string' },
        follow: { type: 'string' },
        'poll-interval': { type: 'string' },
        'poll-etag': { type: 'boolean' },
        wait: { type: 'string' },
        timeout: { type: 'string' },
        'decision-timeout': { type: 'string' },
        'release-timeout': { type: 'string' },
        connections: { type: 'string' },
        attempts: { type: 'string' },
        watchers: { type: 'string' },
        'show-pollers': { type: 'string' },
        'show-poll-interval': { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean' },
        out: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new OptionsError([(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')]);
  }
  if (values.help) return { help: true };

  const problems: string[] = [];
  const str = (k: string) => values[k] as string | undefined;
  const attempt = <T>(k: string, f: (text: string) => T): T | undefined => {
    const v = str(k);
    if (v === undefined) return undefined;
    try {
      return f(v);
    } catch (err) {
      if (err instanceof OptionsError) problems.push(...err.problems);
      else throw err;
      return undefined;
    }
  };
  const num = (k: string, integer = true) => attempt(k, (t) => parseNumber(`--${k}`, t, integer));
  const shr = (k: string) => attempt(k, (t) => parseShare(`--${k}`, t));

  const o: LoadTestOverrides = {};
  const layout: Partial<ShowLayout> = {};
  const set = <K extends keyof LoadTestOverrides>(key: K, v: LoadTestOverrides[K] | undefined) => {
    if (v !== undefined) o[key] = v;
  };
  set('url', str('url'));
  set('adminToken', str('admin-token'));
  set('showIds', attempt('show', (t) => t.split(',').map((s) => s.trim()).filter(Boolean)));
  set('shows', num('shows'));
  const gaCapacity = num('ga-capacity');
  const tiers = attempt('tiers', parseTiers);
  if (gaCapacity !== undefined && tiers) problems.push('give --ga-capacity or --tiers, not both');
  if (tiers) layout.ga = tiers;
  else if (gaCapacity !== undefined) layout.ga = [{ code: 'GA', capacity: gaCapacity, priceCents: 4500 }];
  const seating = attempt('seats', parseSeating);
  if (seating) layout.seating = seating;
  const ttl = num('hold-ttl');
  if (ttl !== undefined) layout.holdTtlSeconds = ttl;
  const maxPer = num('max-per-booking');
  if (maxPer !== undefined) layout.maxSeatsPerBooking = maxPer;
  if (Object.keys(layout).length) o.layout = layout;
  set('buyers', num('buyers'));
  set('concurrency', num('concurrency'));
  set('rate', num('rate', false));
  set('quantity', attempt('quantity', (t) => parseRange('--quantity', t)));
  set('exactSeatsShare', shr('exact-seats'));
  set('hotBlock', num('hot-block'));
  set('retryShare', shr('retry-share'));
  set('confirmShare', shr('confirm-share'));
  set('declineShare', shr('decline-share'));
  set('cancelShare', shr('cancel-share'));
  set('abandonShare', shr('abandon-share'));
  set('follow', str('follow') as FollowMode | undefined);
  set('pollIntervalMs', num('poll-interval'));
  set('pollEtag', values['poll-etag'] as boolean | undefined);
  set('waitSeconds', num('wait'));
  set('timeoutMs', num('timeout'));
  set('decisionTimeoutMs', num('decision-timeout'));
  set('releaseTimeoutMs', num('release-timeout'));
  set('connections', num('connections'));
  set('attempts', num('attempts'));
  set('watchers', num('watchers'));
  set('showPollers', num('show-pollers'));
  set('showPollIntervalMs', num('show-poll-interval'));
  set('seed', num('seed'));
  set('json', values.json as boolean | undefined);
  set('out', str('out'));
  set('quiet', values.quiet as boolean | undefined);
  // Validate the rest even when some values did not parse, so every problem shows at once.
  try {
    const options = resolveOptions(o);
    if (problems.length === 0) return { help: false, options };
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    problems.push(...err.problems);
  }
  throw new OptionsError(problems);
}
