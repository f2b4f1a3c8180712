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

/** Why a round holds its certificate instead of ordering or signing. */
export type HoldReason =
  /** Names of the certificate are in a mode that no longer uses its source. */
  | { why: 'mode'; names: readonly string[]; source: 'acme' | 'local-ca' }
  /** No app uses it any more (the api released it, migration 0020). */
  | { why: 'released'; releasedAt: Date };

/**
 * Ends a round without ordering or signing: names of the certificate are in a mode that no longer uses its source
 * (an ACME certificate's names in {@link heldFromAcmeModes}; a local CA certificate's names out of `local-ca`), or no
 * app uses the certificate any more. The job is done, the certificate keeps what it has (a `renewing` one is `valid`
 * again) and its renewal time is cleared, so the scheduler does not claim it again every tick. The api schedules it
 * again when the domain returns to the mode of that source, or an app takes the certificate's names again.
 */
export async function holdCertificate(
  db: Db,
  job: IssuanceJobRow,
  certificate: CertificateRow,
  hold: HoldReason,
  log: Logger,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('certificates')
      .set({
        status: sql<CertificateStatus>`case when status = 'renewing' then 'valid' else status end`,
        renew_at: null,
        // ARI skips a released certificate; out of its index, it is not looked at again every tick either.
        ...(hold.why === 'released' ? { ari_next_poll_at: null } : {}),
        updated_at: new Date(),
      })
      .where('id', '=', certificate.id)
      .execute();
    await finishJob(trx, job.id, { status: 'done' });
  });
  if (hold.why === 'mode') {
    log.info(
      { names: hold.names, source: hold.source },
      'domain mode no longer uses the certificate source, not renewed',
    );
  } else {
    log.info({ released_at: hold.releasedAt.toISOString() }, 'no app uses the certificate, not renewed');
  }
}
