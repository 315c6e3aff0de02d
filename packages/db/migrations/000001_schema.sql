-- Shows, tiers, seats, bookings and their audit trail.
-- Postgres is the source of truth: availability is derived from seat rows, never from counters.

create table shows (
  id                    uuid primary key,
  name                  text not null check (length(name) between 1 and 200),
  venue                 text not null check (length(venue) between 1 and 200),
  starts_at             timestamptz not null,
  sales_open            boolean not null default true,
  hold_ttl_seconds      integer not null check (hold_ttl_seconds between 1 and 86400),
  max_seats_per_booking integer not null check (max_seats_per_booking between 1 and 100),
  -- millisecond precision: list cursors carry it through JSON without loss
  created_at            timestamptz not null default date_trunc('milliseconds', now()),
  updated_at            timestamptz not null default now()
);
create index shows_created_idx on shows (created_at, id);

create table tiers (
  show_id     uuid not null references shows (id) on delete cascade,
  code        text not null check (code ~ '^[A-Z0-9_]{1,16}$'),
  name        text not null,
  price_cents integer not null check (price_cents >= 0),
  currency    char(3) not null,
  position    integer not null,
  primary key (show_id, code)
);

create table bookings (
  id               uuid primary key,
  show_id          uuid not null references shows (id),
  status           text not null check (status in ('HELD', 'CONFIRMED', 'REJECTED', 'EXPIRED', 'CANCELLED')),
  -- grows by one with every transition; the ETag clients see (1 was PENDING, never stored here)
  version          integer not null check (version >= 2),
  request          jsonb not null,
  customer_ref     text,
  idempotency_key  text,
  total_cents      integer,
  currency         char(3),
  expires_at       timestamptz,
  rejection_code   text,
  rejection_detail text,
  payment_ref      text,
  refund_ref       text,
  accepted_at      timestamptz not null,
  held_at          timestamptz,
  confirmed_at     timestamptz,
  rejected_at      timestamptz,
  expired_at       timestamptz,
  cancelled_at     timestamptz,
  updated_at       timestamptz not null default now(),
  -- target of the seats' (booking_id, booking_status) foreign key below
  unique (id, status),
  check ((status = 'REJECTED') = (rejection_code is not null)),
  check (status not in ('HELD', 'CONFIRMED') or (expires_at is not null and total_cents is not null)),
  check ((status = 'CONFIRMED') <= (payment_ref is not null))
);
-- The API keeps Idempotency-Key in Redis; this backs it if Redis lost the key.
create unique index bookings_idempotency_key on bookings (idempotency_key) where idempotency_key is not null;
create index bookings_show_status_idx on bookings (show_id, status, accepted_at, id);
-- the sweep's look-up: live holds by expiry
create index bookings_held_expiry_idx on bookings (expires_at) where status = 'HELD';

create table seats (
  id             uuid primary key default gen_random_uuid(),
  show_id        uuid not null references shows (id) on delete cascade,
  tier_code      text not null,
  section        text,
  row_number     integer,
  seat_number    integer,
  label          text,
  -- best-available order within the show (lower is better)
  rank           bigint not null,
  status         text not null default 'AVAILABLE' check (status in ('AVAILABLE', 'HELD', 'SOLD')),
  booking_id     uuid,
  -- The booking status this seat's status implies; with the foreign key below a HELD seat can
  -- only point at a HELD booking and a SOLD seat at a CONFIRMED one, so a seat can never belong
  -- to an expired, cancelled or rejected booking, and (one column) never to two bookings.
  booking_status text generated always as (
    case status when 'HELD' then 'HELD' when 'SOLD' then 'CONFIRMED' end
  ) stored,
  foreign key (show_id, tier_code) references tiers (show_id, code),
  foreign key (booking_id, booking_status) references bookings (id, status)
    on update no action deferrable initially deferred,
  check ((status = 'AVAILABLE') = (booking_id is null)),
  check ((section is null) = (label is null))
);
-- "available seats of this tier of this show", best first: the hold's claim walks this index.
create index seats_available_idx on seats (show_id, tier_code, rank) where status = 'AVAILABLE';
create index seats_show_rank_idx on seats (show_id, rank);
create index seats_booking_idx on seats (booking_id) where booking_id is not null;
create unique index seats_label_idx on seats (show_id, label) where label is not null;

-- What each booking got, kept after release (seats.booking_id is only the current holder).
-- No foreign key to bookings here or on booking_events: these rows are only ever written in
-- the same statement as their booking, and a per-row check trigger on them cost about a third
-- of a hold batch's time. The invariant checker (checkInvariants) verifies they agree.
create table booking_seats (
  booking_id  uuid not null,
  seat_id     uuid not null references seats (id),
  price_cents integer not null,
  primary key (booking_id, seat_id)
);

-- Audit trail: every transition, with database time.
create table booking_events (
  id          bigint generated always as identity primary key,
  booking_id  uuid not null,
  from_status text check (from_status in ('PENDING', 'HELD', 'CONFIRMED')),
  to_status   text not null check (to_status in ('PENDING', 'HELD', 'CONFIRMED', 'REJECTED', 'EXPIRED', 'CANCELLED')),
  at          timestamptz not null default now(),
  detail      jsonb
);
create index booking_events_booking_idx on booking_events (booking_id, id);

-- Money movements; one charge and at most one refund per booking, whatever is replayed.
create table payments (
  booking_id   uuid not null references bookings (id),
  kind         text not null check (kind in ('CHARGE', 'REFUND')),
  reference    text not null,
  amount_cents integer not null check (amount_cents >= 0),
  currency     char(3) not null,
  at           timestamptz not null default now(),
  primary key (booking_id, kind)
);
