-- The version of a show's availability: grows by one in every transaction that changes the
-- show's seats (a hold, confirm, cancel, expiry, sweep) or its details (PATCH). Transactions
-- that bump it hold the show's row lock until commit, so versions follow commit order, and a
-- snapshot's counts are exactly those of its version. The availability document in Redis
-- carries it: a gap between the version Redis has and the one a worker publishes means a
-- change was not applied there, and the document is rebuilt from this snapshot.
alter table shows add column version bigint not null default 1;
