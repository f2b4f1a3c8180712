import type { Kysely } from 'kysely';

/**
 * The key type an app's certificate is ordered with (DESIGN.md: ECDSA P-256 by default, RSA 2048/4096 on
 * request). Kept on the app, so a domain change orders the new name set with the same key type.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('apps')
    .addColumn('key_type', 'text', (col) => col.notNull().defaultTo('ecdsa-p256'))
    .execute();
}
