import type { Db } from '@gatehouse/db';

/**
 * The names of a `local-ca` certificate whose https domain has left mode `local-ca` (now `acme`, `custom` or
 * `fallback-only`). Any such name holds the certificate: its round ends without signing, through the same hold
 * an ACME certificate of a domain out of mode `acme` gets (holdCertificate: job done, renewal time cleared), and
 * the api schedules it again when the domain returns to `local-ca` (it reuses the certificate by name set).
 * A name with no domain at all (its app deleted) does not hold it here: a certificate no app uses is released by
 * the api and held for that reason, as for ACME certificates; a returning app reuses it.
 */
export async function findNamesHeldFromLocalCa(db: Db, names: readonly string[]): Promise<string[]> {
  const rows = await db
    .selectFrom('domains')
    .select('hostname')
    .where('hostname', 'in', [...names])
    .where('https', '=', true)
    .where('mode', '<>', 'local-ca')
    .execute();
  return rows.map((row) => row.hostname);
}
