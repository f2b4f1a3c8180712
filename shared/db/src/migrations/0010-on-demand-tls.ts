import { type Kysely, sql } from 'kysely';

/**
 * On-demand TLS (issue 15): one row per hostname that got a certificate at its first TLS handshake because the
 * operator's ask URL allowed it. cert-issuer's terminator inserts it together with the certificate row and the
 * issuance job, under an advisory lock, so every replica and every concurrent handshake agrees on ONE
 * certificate per name; the hostname primary key is the last guard. The global rate limit counts rows by
 * `created_at`; proxy-config renders a normal Traefik router for every row whose certificate is valid, so
 * later connections no longer reach the terminator.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('on_demand_hosts')
    .addColumn('hostname', 'text', (col) => col.primaryKey())
    .addColumn('certificate_id', 'uuid', (col) =>
      col.notNull().references('certificates.id').onDelete('cascade'),
    )
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('on_demand_hosts_created_at')
    .on('on_demand_hosts')
    .column('created_at')
    .execute();
  await db.schema
    .createIndex('on_demand_hosts_certificate_id')
    .on('on_demand_hosts')
    .column('certificate_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('on_demand_hosts').execute();
}
