import type { Kysely } from 'kysely';

/**
 * ACME certificate profiles per domain (draft-ietf-acme-profiles). Null everywhere means "no choice made": the
 * installation's `ACME_PROFILE`, or for an IP address `shortlived` where the CA offers it.
 * - `domains.profile`: the operator's choice for the domain.
 * - `issuance_jobs.profile`: the choice a request carried, so a renewal asks for the same profile.
 * - `certificates.profile`: the profile the current certificate's order carried (null: the CA's default).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('domains').addColumn('profile', 'text').execute();
  await db.schema.alterTable('issuance_jobs').addColumn('profile', 'text').execute();
  await db.schema.alterTable('certificates').addColumn('profile', 'text').execute();
}
