import type { CertificateRow, CertificateStatus, Db, IssuanceJobRow } from '@gatehouse/db';
import type { CertificateMode } from '@gatehouse/events';
import type { Logger } from '@gatehouse/telemetry';
import { sql } from 'kysely';
import { finishJob } from './job-queue.ts';

/**
 * The modes whose domains never contact an ACME CA (issue 15): an ACME certificate of a domain now in one of
 * them — for `custom` still linked and served until an upload replaces it — is not renewed. The round reads
 * which of its names are in them with the certificate (round-context.ts).
 */
export const heldFromAcmeModes = [
  'custom',
  'fallback-only',
  'local-ca',
] as const satisfies readonly CertificateMode[];

/**
 * Ends a round without ordering or signing because names of the certificate are in a mode that no longer uses its
 * source (an ACME certificate's names in {@link heldFromAcmeModes}; a local CA certificate's names out of
 * `local-ca`): the job is done, the certificate keeps what it has (a `renewing` one is `valid` again) and its
 * renewal time is cleared, so the scheduler does not claim it again every tick. The api sets a renewal time again
 * if the domain returns to the mode of that source.
 */
export async function holdCertificate(
  db: Db,
  job: IssuanceJobRow,
  certificate: CertificateRow,
  held: { names: readonly string[]; source: 'acme' | 'local-ca' },
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
  log.info(
    { names: held.names, source: held.source },
    'domain mode no longer uses the certificate source, not renewed',
  );
}
