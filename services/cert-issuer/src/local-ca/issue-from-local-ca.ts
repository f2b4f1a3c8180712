import type { CertificateRow, Db, IssuanceJobRow } from '@gatehouse/db';
import { certsIssued, createEvent, type KeyType } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import { certificateFacts, type SecretBox, signLocalCaLeaf, splitCertificateChain } from '@gatehouse/pki';
import type { Logger } from '@gatehouse/telemetry';
import { holdCertificate } from '../issuance/hold-certificate.ts';
import { attemptTiming } from '../issuance/issuance-store.ts';
import { issuedCertificateColumns } from '../issuance/issued-certificate-columns.ts';
import { doneJobColumns } from '../issuance/job-queue.ts';
import { issuanceMetrics } from '../metrics.ts';
import { findNamesHeldFromLocalCa } from './held-from-local-ca.ts';
import { currentLocalCaSigner } from './local-ca-store.ts';

/** The `issuer` of local CA certificates (rows, attempts and `certs.issued`), where ACME puts a directory URL. */
export const localCaIssuer = 'local-ca';

/**
 * One issuance round for a `local-ca` certificate: sign a fresh leaf (new key, 7 days) with the current
 * intermediate (rotated first when due) and persist it like an ACME result — certificate `valid` with its
 * lifetime renewal time, the job `done`, a successful attempt, `certs.issued` — in one transaction. No CA is
 * contacted and no rate limit applies, so there is no retry ladder here: a failure (Postgres, a master key
 * that does not open the CA key) throws and the job resumes when its lease lapses. A certificate whose domain
 * has left mode `local-ca` is not signed again (see findNamesHeldFromLocalCa).
 */
export async function issueFromLocalCa(
  job: IssuanceJobRow,
  certificate: CertificateRow,
  keyType: KeyType,
  deps: { db: Db; box: SecretBox; logger: Logger; source: string },
): Promise<void> {
  const held = await findNamesHeldFromLocalCa(deps.db, certificate.names);
  if (held.length > 0) {
    const log = deps.logger.child({ cert_id: certificate.id, job_id: job.id });
    return holdCertificate(deps.db, job, certificate, { why: 'mode', names: held, source: 'local-ca' }, log);
  }
  const startedAt = new Date();
  const intermediate = await currentLocalCaSigner(deps.db, deps.box, startedAt);
  const issued = await signLocalCaLeaf({
    names: certificate.names,
    keyType,
    intermediate,
    now: startedAt,
  });
  const facts = certificateFacts(splitCertificateChain(issued.certPem)[0]!);
  const now = new Date();
  await deps.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('certificates')
      .set(
        issuedCertificateColumns({
          certificateId: certificate.id,
          source: 'local-ca',
          issuer: localCaIssuer,
          accountId: null,
          chainPem: issued.certPem,
          keyPem: issued.keyPem,
          facts,
          box: deps.box,
          now,
        }),
      )
      .where('id', '=', certificate.id)
      .execute();
    await trx.updateTable('issuance_jobs').set(doneJobColumns(now)).where('id', '=', job.id).execute();
    await trx
      .insertInto('order_attempts')
      .values({
        ...attemptTiming(startedAt, now),
        certificate_id: certificate.id,
        directory_url: localCaIssuer,
        challenge_type: null,
        outcome: 'success',
      })
      .execute();
    await enqueue(
      trx,
      createEvent(certsIssued, {
        source: deps.source,
        subject: certificate.id,
        data: {
          certificateId: certificate.id,
          names: certificate.names,
          issuer: localCaIssuer,
          serial: facts.serial,
          notBefore: facts.notBefore.toISOString(),
          notAfter: facts.notAfter.toISOString(),
        },
      }),
    );
  });
  issuanceMetrics.rounds.inc({ outcome: 'issued', error_kind: '' });
  deps.logger.info(
    { cert_id: certificate.id, intermediate_id: intermediate.id, not_after: facts.notAfter.toISOString() },
    'certificate signed by the local ca',
  );
}
