import type { CertificateKeyType, Database } from '@gatehouse/db';
import { type ChallengePreference, certsRenewalDue, certsRequested, type KeyType } from '@gatehouse/events';
import { on, PermanentEventError, type Subscription } from '@gatehouse/messaging';
import type { Transaction } from 'kysely';
import { enqueueIssuance } from './job-queue.ts';
import { orderableKeyType } from './orderable-key-type.ts';

/**
 * `certs.requested` and `certs.renewal-due` become issuance jobs in the consumer's transaction, so
 * the event is acknowledged only once the work is durably queued; the worker does the slow part, woken
 * once the job is committed (a wake before the commit would find nothing to claim).
 */
export function issuanceSubscriptions(onQueued: () => void): Subscription[] {
  return [
    on(certsRequested, async (event, { trx, logger, afterCommit }) => {
      const { certificateId } = event.data;
      // The certificate is read by the insert itself: a request is one statement (two more for a manual one).
      const outcome = await enqueueIssuance(trx, {
        certificateId,
        reason: event.data.reason,
        challenge: event.data.challenge,
        keyType: event.data.keyType,
        profile: event.data.profile,
      });
      if (outcome === 'no-certificate') throw unknownCertificate(certificateId);
      logger.info({ cert_id: certificateId, queued: outcome === 'created' }, 'issuance requested');
      afterCommit(onQueued);
    }),
    on(certsRenewalDue, async (event, { trx, afterCommit }) => {
      const certificate = await getCertificateOrThrow(trx, event.data.certificateId);
      const last = await lastRequestPolicy(trx, certificate.id);
      const outcome = await enqueueIssuance(trx, {
        certificateId: certificate.id,
        reason: event.data.reason === 'manual' ? 'manual' : 'renewal',
        challenge: last.challenge,
        keyType: renewalKeyType(certificate),
        profile: last.profile,
      });
      if (outcome === 'no-certificate') throw unknownCertificate(certificate.id);
      afterCommit(onQueued);
    }),
  ];
}

/** An event about a certificate that does not exist can never succeed: it becomes a dead letter. */
function unknownCertificate(id: string): PermanentEventError {
  return new PermanentEventError(`certificate ${id} does not exist`);
}

async function getCertificateOrThrow(trx: Transaction<Database>, id: string) {
  const certificate = await trx
    .selectFrom('certificates')
    .select(['id', 'key_type'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!certificate) throw unknownCertificate(id);
  return certificate;
}

/**
 * The key type to order a renewal with: the certificate's own. Only an uploaded certificate can have one that
 * Gatehouse does not order (RSA 3072), and uploads are never renewed, so such a renewal is a poison message.
 */
function renewalKeyType(certificate: { id: string; key_type: CertificateKeyType }): KeyType {
  const keyType = orderableKeyType(certificate.key_type);
  if (!keyType) {
    throw new PermanentEventError(
      `certificate ${certificate.id} has key type ${certificate.key_type}, which Gatehouse does not order`,
    );
  }
  return keyType;
}

/** A renewal keeps the domain's challenge policy and ACME profile: what its latest request carried. */
async function lastRequestPolicy(
  trx: Transaction<Database>,
  certificateId: string,
): Promise<{ challenge: ChallengePreference; profile: string | null }> {
  const job = await trx
    .selectFrom('issuance_jobs')
    .select(['challenge', 'profile'])
    .where('certificate_id', '=', certificateId)
    .where('reason', '<>', 'renewal')
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return { challenge: job?.challenge ?? 'auto', profile: job?.profile ?? null };
}
