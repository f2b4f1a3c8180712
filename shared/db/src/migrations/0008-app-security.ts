import { type Kysely, sql } from 'kysely';

/**
 * App security (issue 12):
 * - `env_sealed`: env values are secrets, stored sealed with the master key (AES-256-GCM, context
 *   `app-env:<app id>`); `env` keeps only `{}`. The api seals rows written before this migration at its next
 *   start (a migration has no master key).
 * - `memory_mb`, `pids_limit`: the container's memory and process limits (defaults fit a small web app).
 * - `network`: `shared` (the apps network, DOCKER_NETWORK) or `isolated` (a network of the app's own that only
 *   Traefik joins).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('apps')
    .addColumn('env_sealed', 'text')
    .addColumn('memory_mb', 'integer', (column) => column.notNull().defaultTo(512))
    .addColumn('pids_limit', 'integer', (column) => column.notNull().defaultTo(256))
    .addColumn('network', 'text', (column) =>
      column.notNull().defaultTo('shared').check(sql`network in ('shared', 'isolated')`),
    )
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('apps')
    .dropColumn('env_sealed')
    .dropColumn('memory_mb')
    .dropColumn('pids_limit')
    .dropColumn('network')
    .execute();
}
