import { randomUUID } from 'node:crypto';
import type { Database } from '@gatehouse/db';
import { certsRequested, createEvent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import { namesKey, sortNames } from '@gatehouse/pki';
import type { Transaction } from 'kysely';
import type { ChallengePreference } from '../apps/domain-url.ts';
import { findReusableCertificate, insertPendingCertificate } from './certificate.repository.ts';

/** Default key for new certificates (DESIGN.md: ECDSA P-256 unless asked otherwise). */
const defaultKeyType = 'ecdsa-p256';

/**
 * The certificate for exactly `names`, found or requested, inside the caller's transaction.
 *
 * An ACME certificate with the same name set that is valid, pending or renewing is reused as it is (Cloudron's
 * reuse: a deleted app that comes back spares the CA's rate limits). Otherwise a `pending` row is inserted and
 * `certs.requested` (reason `new`) goes to the outbox in the same transaction, so the request is published if
 * and only if the app change commits. Callers MUST hold the app-write lock, so two requests for the same new
 * name set do not both insert.
 */
export async function findOrRequestCertificate(
  trx: Transaction<Database>,
  request: { names: readonly string[]; challenge: ChallengePreference; source: string },
): Promise<{ id: string; requested: boolean }> {
  const names = sortNames(request.names);
  const key = namesKey(names);
  const existing = await findReusableCertificate(trx, key);
  if (existing) return { id: existing.id, requested: false };

  const id = randomUUID();
  await insertPendingCertificate(trx, { id, names, namesKey: key });
  await enqueue(
    trx,
    createEvent(certsRequested, {
      source: request.source,
      subject: id,
      data: {
        certificateId: id,
        names,
        keyType: defaultKeyType,
        reason: 'new',
        challenge: request.challenge,
      },
    }),
  );
  return { id, requested: true };
}
