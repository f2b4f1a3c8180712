import { type Kysely, sql } from 'kysely';

/**
 * Certificates no app uses any more (an app deleted, or its domains changed): `released_at` says since when. The
 * api sets it when it removes the last app's link to an ACME or local CA certificate that no on-demand host uses
 * either, and clears the renewal schedule with it (`renew_at`, `ari_next_poll_at`), so renewal-scheduler leaves it
 * alone: no renewals, ARI polls, expiry mails or fallbacks for names that may point elsewhere now. The row is kept
 * for an app that brings the names back before it expires (the api clears `released_at` and schedules it again);
 * `certificates_released_expiry` lets renewal-scheduler mark the ones that expire unused `expired`, at a cost that
 * follows those rows, not the fleet.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('certificates').addColumn('released_at', 'timestamptz').execute();
  await db.schema
    .createIndex('certificates_released_expiry')
    .on('certificates')
    .column('not_after')
    .where(sql<boolean>`released_at is not null and status = 'valid'`)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('certificates_released_expiry').execute();
  await db.schema.alterTable('certificates').dropColumn('released_at').execute();
}
