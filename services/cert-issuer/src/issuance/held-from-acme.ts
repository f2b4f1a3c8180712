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
 * Ends a round without ordering because names are in {@link heldFromAcmeModes}: the job is done, the certificate keeps
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
