import { type Kysely, sql } from 'kysely';

/**
 * What the deployer observed of each TCP proxy (one container per public port): `starting` (started, not yet
 * proven), `running` (up for a while), or `failed` with a reason — most often the port held by another process on
 * the host, which the operator cannot see in the proxy's container. Observed state beside the desired
 * `app_tcp_ports`, as `deployments` is for app containers: written only by the deployer, read by the api, left out
 * of backups (the deployer observes it again). The row of a port that moved to another app is rewritten with that
 * app's id; the api shows a state only for the app it belongs to.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tcp_proxy_states')
    .addColumn('public_port', 'integer', (column) =>
      column.primaryKey().check(sql`public_port between 1 and 65535`),
    )
    .addColumn('app_id', 'uuid', (column) => column.notNull().references('apps.id').onDelete('cascade'))
    .addColumn('status', 'text', (column) =>
      column.notNull().check(sql`status in ('starting', 'running', 'failed')`),
    )
    .addColumn('error_reason', 'text')
    .addColumn('error_message', 'text')
    .addColumn('changed_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('tcp_proxy_states_app_id').on('tcp_proxy_states').column('app_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('tcp_proxy_states').execute();
}
