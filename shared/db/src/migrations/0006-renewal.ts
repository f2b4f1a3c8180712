import { type Kysely, sql } from 'kysely';

/**
 * What renewal-scheduler needs to keep its ticks proportional to the work due (issue 5):
 * - `certificates_due_renewal`: the claim reads only valid ACME certificates past `renew_at`; certificates
 *   whose renewal is failing (status `renewing`) stay out of it, however many there are.
 * - `certificates_ari_poll`: ARI polls due (`ari_next_poll_at`).
 * - `certificates_expiring_candidates` and `expiring_notified_for`: the `certs.expiring` scan over what can
 *   expire unreplaced (uploaded, or not `valid`), and the `not_after` it was last emitted for, so it goes out
 *   once per certificate version. Healthy ACME certificates are not in the index at all.
 * - `certificates_failed_unissued`: never-issued certificates whose issuance fails, for the fallback after
 *   N reminders.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('certificates').addColumn('expiring_notified_for', 'timestamptz').execute();
  await db.schema
    .createIndex('certificates_due_renewal')
    .on('certificates')
    .column('renew_at')
    .where(sql<boolean>`status = 'valid' and source = 'acme' and renew_at is not null`)
    .execute();
  await db.schema
    .createIndex('certificates_ari_poll')
    .on('certificates')
    .column('ari_next_poll_at')
    .where(sql.ref('ari_next_poll_at'), 'is not', null)
    .execute();
  await db.schema
    .createIndex('certificates_expiring_candidates')
    .on('certificates')
    .column('not_after')
    .where(sql<boolean>`source = 'custom' or status <> 'valid'`)
    .execute();
  await db.schema
    .createIndex('certificates_failed_unissued')
    .on('certificates')
    .column('id')
    .where(sql<boolean>`status = 'failed' and chain_pem is null`)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('certificates_failed_unissued').execute();
  await db.schema.dropIndex('certificates_expiring_candidates').execute();
  await db.schema.dropIndex('certificates_ari_poll').execute();
  await db.schema.dropIndex('certificates_due_renewal').execute();
  await db.schema.alterTable('certificates').dropColumn('expiring_notified_for').execute();
}
