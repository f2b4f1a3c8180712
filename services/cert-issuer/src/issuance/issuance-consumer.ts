import type { Database } from '@gatehouse/db';
import { certsRenewalDue, certsRequested } from '@gatehouse/events';
import { on, PermanentEventError, type Subscription } from '@gatehouse/messaging';
import type { Transaction } from 'kysely';
import { enqueueIssuance } from './job-queue.ts';

/**
 * `certs.requested` and `certs.renewal-due` become issuance jobs in the consumer's transaction, so
 * the event is acknowledged only once the work is durably queued; the worker does the slow part, woken
 * once the job is committed (a wake before the commit would find nothing to claim).
 */
export function issuanceSubscriptions(onQueued: () => void): Subscription[] {
  return [
    on(certsRequested, async (event, { trx, logger, afterCommit }) => {
      const certificate = await getCertificateOrThrow(trx, event.data.certificateId);
      const created = await enqueueIssuance(trx, {
        certificateId: certificate.id,
        namesKey: certificate.names_key,
        reason: event.data.reason,
        challenge: event.data.challenge,
        keyType: event.data.keyType,
      });
      logger.info({ cert_id: certificate.id, queued: created }, 'issuance requested');
      afterCommit(onQueued);
    }),
    on(certsRenewalDue, async (event, { trx, afterCommit }) => {
      const certificate = await getCertificateOrThrow(trx, event.data.certificateId);
      await enqueueIssuance(trx, {
        certificateId: certificate.id,
        namesKey: certificate.names_key,
        reason: event.data.reason === 'manual' ? 'manual' : 'renewal',
        challenge: await lastChallengePreference(trx, certificate.id),
        keyType: certificate.key_type,
      });
      afterCommit(onQueued);
    }),
  ];
}

/** An event about a certificate that does not exist can never succeed: it becomes a dead letter. */
async function getCertificateOrThrow(trx: Transaction<Database>, id: string) {
  const certificate = await trx
    .selectFrom('certificates')
    .select(['id', 'names_key', 'key_type'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!certificate) throw new PermanentEventError(`certificate ${id} does not exist`);
  return certificate;
}

/** A renewal keeps the domain's challenge policy: the preference its latest request carried. */
async function lastChallengePreference(
  trx: Transaction<Database>,
  certificateId: string,
): Promise<'http-01' | 'dns-01' | 'auto'> {
  const job = await trx
    .selectFrom('issuance_jobs')
    .select('challenge')
    .where('certificate_id', '=', certificateId)
    .where('reason', '<>', 'renewal')
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  const preference = job?.challenge;
  return preference === 'http-01' || preference === 'dns-01' ? preference : 'auto';
}
