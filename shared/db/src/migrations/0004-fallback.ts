import type { Kysely } from 'kysely';

/**
 * The fallback a certificate falls back to when it expires without a successful renewal (issue 5).
 *
 * renewal-scheduler makes a self-signed certificate for the names at activation and stores it on the
 * certificate row itself (status `fallback`), so proxy-config can serve it with the same query that reads
 * the real chain; the moment a renewal succeeds cert-issuer writes the new chain and status `valid`, and the
 * fallback columns are simply ignored again. The operator's fallback wildcard is a custom certificate
 * referenced by the settings key `fallback_certificate_id`; it needs no column here.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('certificates')
    .addColumn('fallback_chain_pem', 'text')
    .addColumn('fallback_key_encrypted', 'text')
    .addColumn('fallback_activated_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('certificates')
    .dropColumn('fallback_chain_pem')
    .dropColumn('fallback_key_encrypted')
    .dropColumn('fallback_activated_at')
    .execute();
}
