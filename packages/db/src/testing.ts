import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import postgres from 'postgres';
import type { HoldJob } from '@booking/contracts';
import type { Sql } from './client.js';
import { MIGRATIONS_DIR, migrate } from './migrate.js';
import { createShow } from './queries/shows.js';

const TEMPLATE_LOCK = 72_410_002;

/** A hold command for tests: `quantity` seats of tier GA, accepted now. */
export const holdCommand = (showId: string, quantity = 1, extra: Partial<HoldJob> = {}): HoldJob => ({
  bookingId: randomUUID(),
  showId,
  request: { items: [{ tier: 'GA', quantity }] },
  customerRef: null,
  idempotencyKey: null,
  acceptedAt: new Date().toISOString(),
  ...extra,
});

/** A show for tests with one general-admission tier GA (what holdCommand asks for). */
export const createGaShow = (sql: Sql, o: { capacity: number; holdTtlSeconds?: number; priceCents?: number }) =>
  createShow(sql, {
    id: randomUUID(),
    name: 'test show',
    venue: 'v',
    startsAt: '2030-01-01T00:00:00Z',
    holdTtlSeconds: o.holdTtlSeconds ?? 600,
    tiers: [{ code: 'GA', name: 'GA', priceCents: o.priceCents ?? 500, currency: 'EUR' }],
    generalAdmission: [{ tier: 'GA', capacity: o.capacity }],
  });

export interface TestDatabase {
  url: string;
  name: string;
  /** Drops the database; pass keep=true to leave a failed test's database for inspection. */
  drop(keep?: boolean): Promise<void>;
}

const withDbName = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

/**
 * A fresh database for one test file, cloned from a template that is migrated once per schema
 * version (the template's name carries a hash of the migrations, so a changed migration gets a
 * new template). Cloning a template is far faster than migrating every time.
 */
export async function createTestDatabase(serverUrl = 'postgres://postgres@127.0.0.1:5432/postgres'): Promise<TestDatabase> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(await readFile(new URL(f, MIGRATIONS_DIR)));
  const template = `booking_tpl_${hash.digest('hex').slice(0, 12)}`;
  const name = `booking_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(withDbName(serverUrl, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    await admin`select pg_advisory_lock(${TEMPLATE_LOCK})`;
    try {
      const [exists] = await admin`select 1 from pg_database where datname = ${template}`;
      if (!exists) {
        const building = `${template}_build_${randomBytes(3).toString('hex')}`;
        await admin`create database ${admin(building)}`;
        await migrate(withDbName(serverUrl, building));
        await admin`alter database ${admin(building)} rename to ${admin(template)}`;
      }
      await admin`create database ${admin(name)} template ${admin(template)}`;
    } finally {
      await admin`select pg_advisory_unlock(${TEMPLATE_LOCK})`;
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
  return {
    url: withDbName(serverUrl, name),
    name,
    async drop(keep = false) {
      if (keep) return;
      const sql = postgres(withDbName(serverUrl, 'postgres'), { max: 1, onnotice: () => {} });
      try {
        await sql`drop database if exists ${sql(name)} with (force)`;
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}

/** Removes every Redis key under a test's prefix (queues, documents, idempotency keys). */
export async function deleteRedisPrefix(
  redis: { scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>; del(...keys: string[]): Promise<number> },
  prefix: string,
): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export interface InvariantReport {
  violations: string[];
  counts: { bookings: number; held: number; confirmed: number; rejected: number; expired: number; cancelled: number; seatsHeld: number; seatsSold: number; capacity: number };
}

/**
 * DESIGN.md §6, checked in SQL for one show. Each query returns the rows that break a property,
 * so an empty report means they all hold.
 */
export async function checkInvariants(sqlUrl: string, showId: string): Promise<InvariantReport> {
  const sql = postgres(sqlUrl, { max: 1, onnotice: () => {} });
  try {
    const violations: string[] = [];
    const add = (rows: readonly unknown[], what: string) => {
      if (rows.length) violations.push(`${what}: ${JSON.stringify(rows.slice(0, 5))}${rows.length > 5 ? ` (+${rows.length - 5} more)` : ''}`);
    };
    add(await sql`
      select bs.seat_id, array_agg(b.id) as bookings from booking_seats bs join bookings b on b.id = bs.booking_id
       where b.show_id = ${showId} and b.status in ('HELD', 'CONFIRMED')
       group by bs.seat_id having count(*) > 1`, 'seat in two live bookings');
    add(await sql`
      select b.id, b.status, s.id as seat_id, s.status as seat_status, s.booking_id
        from bookings b join booking_seats bs on bs.booking_id = b.id join seats s on s.id = bs.seat_id
       where b.show_id = ${showId} and b.status in ('HELD', 'CONFIRMED')
         and (s.booking_id is distinct from b.id or s.status <> case b.status when 'HELD' then 'HELD' else 'SOLD' end)`,
      'live booking whose seat does not point back');
    add(await sql`
      select s.id, s.status, s.booking_id from seats s left join bookings b on b.id = s.booking_id
       where s.show_id = ${showId} and s.status <> 'AVAILABLE'
         and (b.id is null or b.status <> case s.status when 'HELD' then 'HELD' else 'CONFIRMED' end)`,
      'taken seat without a matching live booking');
    add(await sql`
      select b.id, b.status, (select count(*) from booking_seats bs where bs.booking_id = b.id)::int as seats
        from bookings b
       where b.show_id = ${showId} and b.status in ('HELD', 'CONFIRMED', 'EXPIRED', 'CANCELLED')
         and (select count(*) from booking_seats bs where bs.booking_id = b.id) <>
             coalesce(jsonb_array_length(b.request -> 'seatIds'),
                      (select sum((i ->> 'quantity')::int) from jsonb_array_elements(b.request -> 'items') i))`,
      'booking that got another number of seats than it asked for');
    add(await sql`
      select b.id, array_agg(e.to_status order by e.id) as events from bookings b join booking_events e on e.booking_id = b.id
       where b.show_id = ${showId}
       group by b.id
      having count(*) filter (where e.to_status = 'PENDING') <> 1
          or count(*) filter (where e.from_status = 'PENDING') <> 1`,
      'booking without exactly one acceptance and one decision');
    add(await sql`
      select b.id, b.status, (array_agg(e.to_status order by e.id desc))[1] as last_event
        from bookings b join booking_events e on e.booking_id = b.id
       where b.show_id = ${showId}
       group by b.id, b.status
      having (array_agg(e.to_status order by e.id desc))[1] <> b.status`,
      'booking whose status is not its last audited transition');
    add(await sql`
      select 'event' as kind, e.booking_id from booking_events e where not exists (select 1 from bookings b where b.id = e.booking_id)
      union all
      select 'seat', bs.booking_id from booking_seats bs where not exists (select 1 from bookings b where b.id = bs.booking_id)`,
      'audit or seat row of no booking');
    add(await sql`
      select b.id from bookings b where b.show_id = ${showId} and b.status = 'CONFIRMED'
         and (select count(*) from payments p where p.booking_id = b.id and p.kind = 'CHARGE') <> 1`,
      'confirmed booking not charged exactly once');
    const [counts] = await sql<InvariantReport['counts'][]>`
      select (select count(*) from bookings where show_id = ${showId})::int as bookings,
             (select count(*) from bookings where show_id = ${showId} and status = 'HELD')::int as held,
             (select count(*) from bookings where show_id = ${showId} and status = 'CONFIRMED')::int as confirmed,
             (select count(*) from bookings where show_id = ${showId} and status = 'REJECTED')::int as rejected,
             (select count(*) from bookings where show_id = ${showId} and status = 'EXPIRED')::int as expired,
             (select count(*) from bookings where show_id = ${showId} and status = 'CANCELLED')::int as cancelled,
             (select count(*) from seats where show_id = ${showId} and status = 'HELD')::int as "seatsHeld",
             (select count(*) from seats where show_id = ${showId} and status = 'SOLD')::int as "seatsSold",
             (select count(*) from seats where show_id = ${showId})::int as capacity`;
    if (counts!.seatsHeld + counts!.seatsSold > counts!.capacity) violations.push('held + sold exceeds capacity');
    return { violations, counts: counts! };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
