import type { CertificateRow, CertificateStatus, Db, IssuanceJobRow } from '@gatehouse/db';
import type { Logger } from '@gatehouse/telemetry';
import { sql } from 'kysely';
import { finishJob } from './job-queue.ts';

/**
 * The names of an ACME certificate whose domain is now in mode `custom`, `fallback-only` or `local-ca` (issue
 * 15): such a domain never contacts an ACME CA, so its old ACME certificate — for `custom` still linked and
 * served until an upload replaces it — is not renewed. Empty when every name may be ordered.
 */
export async function namesHeldFromAcme(db: Db, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await db
    .selectFrom('domains')
    .select('hostname')
    .where('hostname', 'in', [...names])
    .where('https', '=', true)
    .where('mode', 'in', ['custom', 'fallback-only', 'local-ca'])
    .execute();
  return rows.map((row) => row.hostname);
}

/**
 * Ends a round without ordering because of {@link namesHeldFromAcme}: the job is done, the certificate keeps
 * what it has (a `renewing` one is `valid` again) and its renewal time is cleared, so the scheduler does not
 * claim it again every tick. The api sets a renewal time again if the domain returns to mode `acme`.
 */
export async function holdFromAcme(
  db: Db,
  job: IssuanceJobRow,
  certificate: CertificateRow,
  held: readonly string[],
  log: Logger,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('certificates')
      .set({
        status: sql<CertificateStatus>`case when status = 'renewing' then 'valid' else status end`,
        renew_at: null,
        updated_at: new Date(),
      })
      .where('id', '=', certificate.id)
      .execute();
    await finishJob(trx, job.id, { status: 'done' });
  });
  log.info({ names: held }, 'domain mode never orders from a ca, certificate not renewed');
}
