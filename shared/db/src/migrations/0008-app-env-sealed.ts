import type { Kysely } from 'kysely';

/**
 * App `env` values are secrets (database passwords, API keys): from here on they are stored sealed with the
 * master key in `env_sealed` (AES-256-GCM, context `app-env:<app id>`), and `env` keeps only `{}`. The api seals
 * rows written before this migration at its next start (a migration has no master key).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('apps').addColumn('env_sealed', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('apps').dropColumn('env_sealed').execute();
}
