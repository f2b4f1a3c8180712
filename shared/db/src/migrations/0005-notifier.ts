import { type Kysely, sql } from 'kysely';

/**
 * The notifier's state (issue 5).
 * - `notifications` becomes a persisted send queue: `next_attempt_at` (when the sender may try; also its
 *   lease while a send is in flight), `data` (what the mail was built from, for the API and dashboard), and
 *   `dedupe_key` unique, so "once per certificate version" notices cannot be queued twice by two replicas.
 * - `certificate_alerts`: one row per certificate whose issuance or renewal is failing (an episode): when it
 *   began, the latest error, when the admins were last mailed about it and how many reminders went out. A
 *   success ends the episode (the row is deleted, after the recovery mail is queued).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('notifications')
    .addColumn('next_attempt_at', 'timestamptz')
    .addColumn('data', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  await db.schema.dropIndex('notifications_dedupe_key').execute();
  await db.schema
    .createIndex('notifications_dedupe_key')
    .unique()
    .on('notifications')
    .column('dedupe_key')
    .where(sql.ref('dedupe_key'), 'is not', null)
    .execute();
  await db.schema
    .createIndex('notifications_due')
    .on('notifications')
    .column('next_attempt_at')
    .where(sql<boolean>`status = 'pending'`)
    .execute();
  await db.schema
    .createIndex('notifications_certificate')
    .on('notifications')
    .columns(['certificate_id', 'kind'])
    .execute();
  await db.schema.createIndex('notifications_created_at').on('notifications').column('created_at').execute();

  await db.schema
    .createTable('certificate_alerts')
    .addColumn('certificate_id', 'uuid', (col) =>
      col.primaryKey().references('certificates.id').onDelete('cascade'),
    )
    .addColumn('started_at', 'timestamptz', (col) => col.notNull())
    .addColumn('error_kind', 'text', (col) => col.notNull())
    .addColumn('error_message', 'text', (col) => col.notNull())
    .addColumn('retry_at', 'timestamptz')
    .addColumn('last_mailed_at', 'timestamptz', (col) => col.notNull())
    .addColumn('reminders', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('certificate_alerts_last_mailed')
    .on('certificate_alerts')
    .column('last_mailed_at')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('certificate_alerts').execute();
  await db.schema.dropIndex('notifications_created_at').execute();
  await db.schema.dropIndex('notifications_certificate').execute();
  await db.schema.dropIndex('notifications_due').execute();
  await db.schema.dropIndex('notifications_dedupe_key').execute();
  await db.schema.createIndex('notifications_dedupe_key').on('notifications').column('dedupe_key').execute();
  await db.schema.alterTable('notifications').dropColumn('data').dropColumn('next_attempt_at').execute();
}
