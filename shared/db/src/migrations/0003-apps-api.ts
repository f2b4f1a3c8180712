import { type Kysely, sql } from 'kysely';

/**
 * What the api needs beyond the first schema: the app-level www mode and the link from an app to the
 * certificates it uses.
 *
 * `app_certificates` is a link table rather than a `certificate_id` column on apps because an app may hold
 * more than one certificate (a custom upload beside an ACME one, a wildcard apart from plain names) and
 * because deleting an app must drop the link but keep the certificate, so a returning name reuses it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // The www mode the operator chose; each domain row carries it too, for consumers that read domains alone.
  await db.schema
    .alterTable('apps')
    .addColumn('www', 'text', (col) => col.notNull().defaultTo('none'))
    .execute();

  await db.schema
    .createTable('app_certificates')
    .addColumn('app_id', 'uuid', (col) => col.notNull().references('apps.id').onDelete('cascade'))
    .addColumn('certificate_id', 'uuid', (col) =>
      col.notNull().references('certificates.id').onDelete('cascade'),
    )
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('app_certificates_pk', ['app_id', 'certificate_id'])
    .execute();
  await db.schema
    .createIndex('app_certificates_certificate_id')
    .on('app_certificates')
    .column('certificate_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('app_certificates').ifExists().execute();
  await db.schema.alterTable('apps').dropColumn('www').execute();
}
