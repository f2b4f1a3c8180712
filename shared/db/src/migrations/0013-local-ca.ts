import { type Kysely, sql } from 'kysely';

/**
 * Local CA and per-domain certificate mode (issue 15).
 *
 * `local_ca_certificates` holds the installation's CA: one root (a partial unique index makes a second one
 * impossible, so two replicas racing to create it cannot both win) and its intermediates, the newest of which
 * signs. Keys are sealed with the master key, context `local-ca:<id>`.
 *
 * `domains.mode` says how a domain gets its certificate (`acme`, `custom`, `fallback-only`, `local-ca`);
 * existing rows keep `acme`, except internal names (only ever served over http:// before this), which take
 * `local-ca`, their default from now on.
 *
 * `certificates_due_renewal` (0006) is rebuilt to include local CA certificates: renewal-scheduler renews
 * them by the same lifetime rule, and a claim whose predicate the index does not match would scan the table.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('local_ca_certificates')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('kind', 'text', (col) => col.notNull().check(sql`kind in ('root', 'intermediate')`))
    .addColumn('cert_pem', 'text', (col) => col.notNull())
    .addColumn('key_encrypted', 'text', (col) => col.notNull())
    .addColumn('not_before', 'timestamptz', (col) => col.notNull())
    .addColumn('not_after', 'timestamptz', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index local_ca_one_root on local_ca_certificates (kind) where kind = 'root'`.execute(
    db,
  );
  await db.schema
    .alterTable('domains')
    .addColumn('mode', 'text', (col) =>
      col.notNull().defaultTo('acme').check(sql`mode in ('acme', 'custom', 'fallback-only', 'local-ca')`),
    )
    .execute();
  await sql`
    update domains set mode = 'local-ca'
    where hostname = 'localhost' or hostname like '%.localhost' or hostname = 'local' or hostname like '%.local'
       or hostname = 'home.arpa' or hostname like '%.home.arpa' or hostname = 'internal'
       or hostname like '%.internal' or hostname ~ '^[0-9.]+$' or hostname like '%:%'`.execute(db);
  await db.schema.dropIndex('certificates_due_renewal').execute();
  await db.schema
    .createIndex('certificates_due_renewal')
    .on('certificates')
    .column('renew_at')
    .where(sql<boolean>`status = 'valid' and source in ('acme', 'local-ca') and renew_at is not null`)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('certificates_due_renewal').execute();
  await db.schema
    .createIndex('certificates_due_renewal')
    .on('certificates')
    .column('renew_at')
    .where(sql<boolean>`status = 'valid' and source = 'acme' and renew_at is not null`)
    .execute();
  await db.schema.alterTable('domains').dropColumn('mode').execute();
  await db.schema.dropTable('local_ca_certificates').execute();
}
