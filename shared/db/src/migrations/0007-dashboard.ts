import { type Kysely, sql } from 'kysely';

/**
 * What the dashboard, the CLI and cursor pagination need (issue 16):
 * - `certificates_created_page` and `certificates_expiry_page`: keyset pages of `GET /v1/certificates` in its two
 *   orders (oldest first; soonest expiry first, never-issued last), so page N costs what page 1 costs.
 * - `notifications_page`: keyset pages of the notifications timeline (newest first).
 * - `issuance_jobs_certificate`: the newest job of a certificate (why it renews, what it waits for).
 * - `order_attempts.problem_type`: the CA's RFC 8555 problem type of a failed attempt, shown beside its detail.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('certificates_created_page')
    .on('certificates')
    .columns(['created_at', 'id'])
    .execute();
  await sql`create index certificates_expiry_page on certificates
    ((coalesce(not_after, 'infinity'::timestamptz)), id)`.execute(db);
  await db.schema
    .createIndex('notifications_page')
    .on('notifications')
    .columns(['created_at', 'id'])
    .execute();
  await db.schema
    .createIndex('issuance_jobs_certificate')
    .on('issuance_jobs')
    .columns(['certificate_id', 'created_at'])
    .execute();
  await db.schema.alterTable('order_attempts').addColumn('problem_type', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('order_attempts').dropColumn('problem_type').execute();
  await db.schema.dropIndex('issuance_jobs_certificate').execute();
  await db.schema.dropIndex('notifications_page').execute();
  await db.schema.dropIndex('certificates_expiry_page').execute();
  await db.schema.dropIndex('certificates_created_page').execute();
}
