import { type Kysely, sql } from 'kysely';

/**
 * TCP proxies for database ports (issue 15, item 4): an app may expose TCP ports through a Traefik instance of
 * their own, one per public port (Coolify's architecture). The public port is the primary key, so no two apps
 * (and no two entries of one app) can hold it, whatever the api's checks miss under concurrency. `target_port`
 * null means the app's own `port`; `tls` terminates TLS with the app's certificate (HostSNI on its domains).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('app_tcp_ports')
    .addColumn('public_port', 'integer', (column) =>
      column.primaryKey().check(sql`public_port between 1 and 65535`),
    )
    .addColumn('app_id', 'uuid', (column) => column.notNull().references('apps.id').onDelete('cascade'))
    .addColumn('target_port', 'integer', (column) => column.check(sql`target_port between 1 and 65535`))
    .addColumn('tls', 'boolean', (column) => column.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('app_tcp_ports_app_id').on('app_tcp_ports').column('app_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('app_tcp_ports').execute();
}
