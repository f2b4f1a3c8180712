import type { Database } from '@gatehouse/db';
import { type Random, spreadRenewAt } from '@gatehouse/pki';
import { sql, type Transaction } from 'kysely';

export interface IssuedCertificate {
  certificateId: string;
  serial: string;
  notBefore: string;
  notAfter: string;
}

/**
 * A new certificate's renewal time: the lifetime rule, spread so a fleet does not renew in lockstep, and for an
 * ACME certificate an ARI poll at once (the poll finds out whether the CA offers ARI, and if so moves `renew_at`
 * into its window; a local CA certificate has no CA to ask). Applied only while the row still holds this serial:
 * a late event for an older certificate changes nothing. The expiry notice is re-armed for the new `not_after`.
 */
export async function scheduleIssued(
  trx: Transaction<Database>,
  issued: IssuedCertificate,
  now = new Date(),
  random: Random = Math.random,
): Promise<boolean> {
  const renewAt = spreadRenewAt(new Date(issued.notBefore), new Date(issued.notAfter), random);
  const result = await trx
    .updateTable('certificates')
    .set({
      renew_at: renewAt,
      renew_reason: 'lifetime',
      ari_window_start: null,
      ari_window_end: null,
      // Only ACME certificates have a CA to ask; a local CA row with a poll time would sit in the poll index.
      ari_next_poll_at: sql<Date | null>`case when source = 'acme' then ${now}::timestamptz else null end`,
      updated_at: now,
    })
    .where('id', '=', issued.certificateId)
    .where('serial', '=', issued.serial)
    .where('source', 'in', ['acme', 'local-ca'])
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
