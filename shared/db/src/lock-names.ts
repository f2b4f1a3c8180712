/**
 * Names of Postgres advisory locks, in one place so two features never share a lock by accident.
 * Use with `pg_try_advisory_xact_lock(hashtext(name))`.
 */
export const lockNames = {
  /** Only one outbox relay publishes at a time, which keeps events in commit order. */
  outboxRelay: 'gatehouse.outbox-relay',
} as const;
