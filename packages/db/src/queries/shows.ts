import type { CreateShowBody, SeatChange, SeatCounts, Show, ShowSummary, UpdateShowBody } from '@booking/contracts';
import type { Executor, Sql } from '../client.js';

interface ShowRow {
  id: string;
  name: string;
  venue: string;
  startsAt: Date;
  salesOpen: boolean;
  holdTtlSeconds: number;
  maxSeatsPerBooking: number;
  version: string;
  createdAt: Date;
  updatedAt: Date;
}

const toSummary = (r: ShowRow): ShowSummary => ({
  id: r.id,
  name: r.name,
  venue: r.venue,
  startsAt: r.startsAt.toISOString(),
  salesOpen: r.salesOpen,
  holdTtlSeconds: r.holdTtlSeconds,
  maxSeatsPerBooking: r.maxSeatsPerBooking,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

export interface NewShow extends CreateShowBody {
  id: string;
  holdTtlSeconds: number;
}

/**
 * Creates the show, its tiers and every seat in one transaction. Seats are generated inside
 * Postgres (generate_series per block), so a 20,000-seat map is a single INSERT, not 20,000.
 * Rank orders seats best-first: blocks in the order given, then row, then seat number.
 */
export async function createShow(sql: Sql, show: NewShow): Promise<Show> {
  await sql.begin(async (tx) => {
    await tx`
      insert into shows (id, name, venue, starts_at, sales_open, hold_ttl_seconds, max_seats_per_booking)
      values (${show.id}, ${show.name}, ${show.venue}, ${show.startsAt}, ${show.salesOpen ?? true},
              ${show.holdTtlSeconds}, ${show.maxSeatsPerBooking ?? 10})`;
    await tx`
      insert into tiers (show_id, code, name, price_cents, currency, position)
      select ${show.id}, t.code, t.name, t.price_cents, t.currency, t.position
        from unnest(${show.tiers.map((t) => t.code)}::text[], ${show.tiers.map((t) => t.name)}::text[],
                    ${show.tiers.map((t) => t.priceCents)}::int[], ${show.tiers.map((t) => t.currency)}::text[])
             with ordinality as t(code, name, price_cents, currency, position)`;
    const seating = show.seating ?? [];
    if (seating.length > 0) {
      await tx`
        insert into seats (show_id, tier_code, section, row_number, seat_number, label, rank)
        select ${show.id}, b.tier, b.section, r, s, b.section || '-' || r || '-' || s,
               b.ord * 1000000 + r * 1000 + s
          from unnest(${seating.map((b) => b.tier)}::text[], ${seating.map((b) => b.section)}::text[],
                      ${seating.map((b) => b.rows)}::int[], ${seating.map((b) => b.seatsPerRow)}::int[])
               with ordinality as b(tier, section, rows, per_row, ord)
          cross join lateral generate_series(1, b.rows) as r
          cross join lateral generate_series(1, b.per_row) as s`;
    }
    const ga = show.generalAdmission ?? [];
    if (ga.length > 0) {
      await tx`
        insert into seats (show_id, tier_code, rank)
        select ${show.id}, b.tier, (${seating.length} + b.ord) * 1000000 + n
          from unnest(${ga.map((b) => b.tier)}::text[], ${ga.map((b) => b.capacity)}::int[])
               with ordinality as b(tier, capacity, ord)
          cross join lateral generate_series(1, b.capacity) as n`;
    }
  });
  return (await getShow(sql, show.id))!;
}

/**
 * The show with per-tier counts derived from the seat rows (no stored counters) and its
 * availability version. The two reads must see one snapshot for the counts to be those of the
 * version: call it inside a repeatable-read transaction (getAvailability) where that matters.
 */
export async function getShow(sql: Executor, id: string): Promise<Show | null> {
  const [row] = await sql<ShowRow[]>`select * from shows where id = ${id}`;
  if (!row) return null;
  const tiers = await sql<({ code: string; name: string; priceCents: number; currency: string } & SeatCounts)[]>`
    select t.code, t.name, t.price_cents, t.currency,
           count(s.id)::int as total,
           (count(*) filter (where s.status = 'AVAILABLE'))::int as available,
           (count(*) filter (where s.status = 'HELD'))::int as held,
           (count(*) filter (where s.status = 'SOLD'))::int as sold
      from tiers t left join seats s on s.show_id = t.show_id and s.tier_code = t.code
     where t.show_id = ${id}
     group by t.code, t.name, t.price_cents, t.currency, t.position
     order by t.position`;
  const totals = { total: 0, available: 0, held: 0, sold: 0 };
  for (const t of tiers) {
    totals.total += t.total;
    totals.available += t.available;
    totals.held += t.held;
    totals.sold += t.sold;
  }
  return { ...toSummary(row), version: Number(row.version), tiers: tiers.map((t) => ({ ...t, currency: t.currency })), totals };
}

/**
 * Everything the availability document of a show is rebuilt from, read in one snapshot
 * (repeatable read): the show with its counts and version, and every seat that is not
 * AVAILABLE (a HELD one with its hold's expiry). Every transaction that changes seats bumps the version under the show's row lock,
 * so these counts and statuses are exactly those of this version.
 */
export async function getAvailability(sql: Sql, showId: string): Promise<{ show: Show; taken: SeatChange[] } | null> {
  return (await sql.begin('isolation level repeatable read read only', async (tx) => {
    const show = await getShow(tx as unknown as Executor, showId);
    if (!show) return null;
    const rows = await (tx as unknown as Executor)<{ id: string; status: 'HELD' | 'SOLD'; expiresAt: Date | null }[]>`
      select s.id, s.status, case when s.status = 'HELD' then b.expires_at end as expires_at
        from seats s left join bookings b on b.id = s.booking_id
       where s.show_id = ${showId} and s.status <> 'AVAILABLE'`;
    return { show, taken: rows.map((r) => ({ id: r.id, status: r.status, expiresAt: r.expiresAt ? r.expiresAt.toISOString() : null })) };
  })) as { show: Show; taken: SeatChange[] } | null;
}

/**
 * Bumps the availability version of these shows inside the caller's transaction, which changed
 * their seats; answers each show's new version. The row lock is held to commit, so versions
 * follow commit order. A plain UPDATE of a non-key column takes FOR NO KEY UPDATE, which does
 * not conflict with the FOR KEY SHARE locks that inserting bookings (their foreign key to shows)
 * takes: a `SELECT … FOR UPDATE` here instead made 32 concurrent holds of one show wait on each
 * other for ever. Rows are visited in id order, so two transactions bumping overlapping shows (a
 * sweep and a group commit) rarely deadlock, and a deadlock is retried like any other.
 */
export async function bumpShowVersions(tx: Executor, showIds: readonly string[]): Promise<Map<string, number>> {
  if (showIds.length === 0) return new Map();
  const ids = [...new Set(showIds)].sort();
  const rows =
    ids.length === 1
      ? await tx<{ id: string; version: string }[]>`update shows set version = version + 1 where id = ${ids[0]!} returning id, version`
      : await tx<{ id: string; version: string }[]>`
          update shows set version = shows.version + 1
            from (select unnest(${ids}::uuid[]) as id order by 1) o
           where shows.id = o.id and shows.id = any(${ids}::uuid[])
          returning shows.id, shows.version`;
  return new Map(rows.map((r) => [r.id, Number(r.version)]));
}

/** A seat's fixed facts, in best-first order: the seat map's static part, cached by the API. */
export interface SeatPlace {
  id: string;
  tier: string;
  section: string | null;
  row: number | null;
  number: number | null;
  label: string | null;
  rank: number;
}

/** Every seat of the show, best first; immutable once the show exists (empty: no such show). */
export async function getSeatPlaces(sql: Executor, showId: string): Promise<SeatPlace[]> {
  const rows = await sql<(Omit<SeatPlace, 'rank'> & { rank: string })[]>`
    select id, tier_code as tier, section, row_number as row, seat_number as number, label, rank
      from seats where show_id = ${showId} order by rank`;
  return rows.map((r) => ({ ...r, rank: Number(r.rank) }));
}

/** Keyset page of shows, oldest first; `after` is the last row of the previous page. */
export async function listShows(
  sql: Executor,
  page: { limit: number; after?: { createdAt: string; id: string } | undefined },
): Promise<ShowSummary[]> {
  const rows = page.after
    ? await sql<ShowRow[]>`
        select * from shows where (created_at, id) > (${page.after.createdAt}::timestamptz, ${page.after.id}::uuid)
         order by created_at, id limit ${page.limit}`
    : await sql<ShowRow[]>`select * from shows order by created_at, id limit ${page.limit}`;
  return rows.map(toSummary);
}

/**
 * Id and name of the given shows plus the `newest` most recently created ones, newest first
 * (the queue dashboard lists their queues). Unknown ids are left out.
 */
export async function listShowNames(sql: Executor, q: { ids: string[]; newest: number }): Promise<{ id: string; name: string }[]> {
  return sql<{ id: string; name: string }[]>`
    select id, name from (
      select id, name, created_at from shows where id = any(${q.ids}::uuid[])
      union
      (select id, name, created_at from shows order by created_at desc, id desc limit ${q.newest})
    ) s
    order by created_at desc, id desc`;
}

/** Edits details or opens/closes sales; only the given fields change. */
export async function updateShow(sql: Executor, id: string, patch: UpdateShowBody): Promise<ShowSummary | null> {
  const [row] = await sql<ShowRow[]>`
    update shows set
      name = coalesce(${patch.name ?? null}, name),
      venue = coalesce(${patch.venue ?? null}, venue),
      starts_at = coalesce(${patch.startsAt ?? null}::timestamptz, starts_at),
      sales_open = coalesce(${patch.salesOpen ?? null}::boolean, sales_open),
      hold_ttl_seconds = coalesce(${patch.holdTtlSeconds ?? null}::int, hold_ttl_seconds),
      max_seats_per_booking = coalesce(${patch.maxSeatsPerBooking ?? null}::int, max_seats_per_booking),
      -- the availability document shows these details too
      version = version + 1,
      updated_at = now()
    where id = ${id}
    returning *`;
  return row ? toSummary(row) : null;
}

/** The show's tier codes (empty: no such show); immutable once the show exists. */
export async function getShowTiers(sql: Executor, showId: string): Promise<Set<string>> {
  const tiers = await sql<{ code: string }[]>`select code from tiers where show_id = ${showId}`;
  return new Set(tiers.map((t) => t.code));
}

/** seat id → tier code of every seat of the show; immutable once the show exists. */
export async function getShowSeatIds(sql: Executor, showId: string): Promise<Map<string, string>> {
  const seats = await sql<{ id: string; tierCode: string }[]>`select id, tier_code from seats where show_id = ${showId}`;
  return new Map(seats.map((s) => [s.id, s.tierCode]));
}

/** Sales status and per-booking limit, read by the API with a short cache. */
export async function getShowRules(sql: Executor, showId: string) {
  const [row] = await sql<{ salesOpen: boolean; maxSeatsPerBooking: number }[]>`
    select sales_open, max_seats_per_booking from shows where id = ${showId}`;
  return row ?? null;
}

/** The availability versions of these shows (unknown ids are left out). */
export async function getShowVersions(sql: Executor, showIds: readonly string[]): Promise<Map<string, number>> {
  const rows = await sql<{ id: string; version: string }[]>`select id, version from shows where id = any(${showIds as string[]}::uuid[])`;
  return new Map(rows.map((r) => [r.id, Number(r.version)]));
}
