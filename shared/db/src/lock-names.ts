/**
 * Names of Postgres advisory locks, in one place so two features never share a lock by accident.
 * Use with `pg_advisory_xact_lock(hashtext(name))`.
 */
export const lockNames = {
  /** Only one outbox relay publishes at a time, which keeps events in commit order. */
  outboxRelay: 'gatehouse.outbox-relay',
  /** One replica creates the ACME account for a (directory, email); the others reuse it. */
  acmeAccount: (directoryUrl: string, email: string) => `gatehouse.acme-account:${directoryUrl}|${email}`,
  /** One replica at a time claims issuance work for a name set. */
  issuance: (namesKey: string) => `gatehouse.issuance:${namesKey}`,
  /** On-demand TLS: one replica at a time creates an on-demand certificate (and counts the global limit). */
  onDemand: 'gatehouse.on-demand',
  /** One replica at a time creates the local CA's root or rotates its intermediate. */
  localCa: 'gatehouse.local-ca',
} as const;
