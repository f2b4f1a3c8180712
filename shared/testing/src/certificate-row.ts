import { randomUUID } from 'node:crypto';
import type { CertificatesTable, Db } from '@gatehouse/db';
import type { Insertable } from 'kysely';

/**
 * Inserts a certificate row for one name, as an earlier issuance left it: `valid`, from ACME, unless `columns`
 * say otherwise (a status, a source, dates, a renewal time, `released_at` …). Returns its id.
 */
export async function insertCertificateRow(
  db: Db,
  name: string,
  columns: Partial<Insertable<CertificatesTable>> = {},
): Promise<string> {
  const id = randomUUID();
  await db
    .insertInto('certificates')
    .values({ id, names: [name], names_key: name, status: 'valid', source: 'acme', ...columns })
    .execute();
  return id;
}
