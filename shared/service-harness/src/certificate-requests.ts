import { randomUUID, X509Certificate } from 'node:crypto';
import type { CertificatesTable, Db } from '@gatehouse/db';
import { certsRenewalDue, certsRequested, createEvent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import { splitCertificateChain } from '@gatehouse/pki';
import { sql, type Updateable } from 'kysely';

/**
 * Asks for a certificate the way the api does: the certificate row (desired state) and the
 * `certs.requested` event in one transaction. Pass `certificateId` to request an existing one again.
 */
export async function requestCertificate(
  db: Db,
  names: string[],
  options: {
    challenge?: 'http-01' | 'dns-01' | 'auto';
    certificateId?: string;
    reason?: 'new' | 'manual';
    /** The domain's ACME profile, as the api sends it. */
    profile?: string;
  } = {},
): Promise<string> {
  const certificateId = options.certificateId ?? randomUUID();
  const sorted = [...new Set(names)].sort();
  await db.transaction().execute(async (trx) => {
    if (!options.certificateId) {
      await trx
        .insertInto('certificates')
        .values({
          id: certificateId,
          names: sorted,
          names_key: sorted.join(','),
          status: 'pending',
          source: 'acme',
        })
        .execute();
    }
    await enqueue(
      trx,
      createEvent(certsRequested, {
        source: 'test',
        subject: certificateId,
        data: {
          certificateId,
          names: sorted,
          keyType: 'ecdsa-p256',
          reason: options.reason ?? 'new',
          challenge: options.challenge ?? 'auto',
          ...(options.profile ? { profile: options.profile } : {}),
        },
      }),
    );
  });
  return certificateId;
}

/**
 * What renewal-scheduler does when a certificate is due: its columns changed as a test needs them (`set`: the
 * claim's `renewing`, a renewal time, a state to start from) and `certs.renewal-due`, in one transaction.
 */
export async function announceRenewalDue(
  db: Db,
  certificate: { id: string; names: string[] },
  options: {
    reason: 'ari' | 'lifetime' | 'retry' | 'manual';
    set?: Updateable<CertificatesTable>;
  },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    if (options.set) {
      await trx.updateTable('certificates').set(options.set).where('id', '=', certificate.id).execute();
    }
    await enqueue(
      trx,
      createEvent(certsRenewalDue, {
        source: 'test',
        subject: certificate.id,
        data: { certificateId: certificate.id, names: certificate.names, reason: options.reason },
      }),
    );
  });
}

export async function certificateRow(db: Db, id: string) {
  return db.selectFrom('certificates').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

export async function attemptsOf(db: Db, certificateId: string) {
  return db
    .selectFrom('order_attempts')
    .selectAll()
    .where('certificate_id', '=', certificateId)
    .orderBy('started_at')
    .execute();
}

/**
 * Verifies a chain the way a TLS client would: each certificate signed by the next, the last one
 * signed by `rootPem`, and every certificate within its validity period.
 */
export function verifyChain(chainPem: string, rootPem: string): { ok: true } | { ok: false; reason: string } {
  const chain = splitCertificateChain(chainPem);
  const root = new X509Certificate(rootPem);
  const now = Date.now();
  for (const [index, certificate] of chain.entries()) {
    const issuer = chain[index + 1] ?? root;
    if (!certificate.verify(issuer.publicKey))
      return { ok: false, reason: `certificate ${index} is not signed by its issuer` };
    if (new Date(certificate.validTo).getTime() < now)
      return { ok: false, reason: `certificate ${index} expired` };
  }
  return { ok: true };
}

/** Rows of the service's outbox with the given type, oldest first. */
export async function emittedEvents(db: Db, type: string) {
  const { rows } = await sql<{ envelope: { data: Record<string, unknown> } }>`
    select envelope from outbox where type = ${type} order by seq`.execute(db);
  return rows.map((row) => row.envelope);
}
