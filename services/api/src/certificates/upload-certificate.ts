import { randomUUID } from 'node:crypto';
import { type Db, settingKeys } from '@gatehouse/db';
import { certsRemoved, certsUploaded, createEvent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import {
  type CertificateUpload,
  certificateKeyContext,
  namesKey,
  type SecretBox,
  validateCertificateUpload,
} from '@gatehouse/pki';
import { sql } from 'kysely';
import { ApiError } from '../errors.ts';

/**
 * Stores an operator's certificate after validating it (see validateCertificateUpload): status `valid`,
 * source `custom`, the key sealed with the certificate's own context (`certificate:<id>`, as for ACME keys,
 * so proxy-config opens both alike), no `renew_at` (Gatehouse never renews it; renewal-scheduler only tracks
 * its expiry). Linked to every app with an https name it covers, and `certs.uploaded` emitted, in one
 * transaction. Refused uploads store nothing.
 */
export async function uploadCertificate(
  db: Db,
  box: SecretBox,
  upload: CertificateUpload,
): Promise<{ id: string; warnings: string[] }> {
  const verdict = validateCertificateUpload(upload);
  if (!verdict.ok) {
    throw new ApiError('validation', 'the certificate cannot be used; see errors', {
      errors: verdict.errors,
    });
  }
  const { facts, chainPem, keyPem, keyType, warnings } = verdict.certificate;
  const id = randomUUID();
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('certificates')
      .values({
        id,
        names: facts.names,
        names_key: namesKey(facts.names),
        status: 'valid',
        source: 'custom',
        key_type: keyType,
        issuer: facts.issuer.replace(/\n/g, ', '),
        serial: facts.serial,
        chain_pem: chainPem,
        private_key_encrypted: box.seal(keyPem, certificateKeyContext(id)),
        not_before: facts.notBefore,
        not_after: facts.notAfter,
      })
      .execute();
    // An app shows the upload among its certificates when one of its https names is covered: listed, or
    // under a one-label wildcard.
    await sql`
      insert into app_certificates (app_id, certificate_id)
      select distinct d.app_id, ${id}::uuid from domains d
      where d.https and (
        d.hostname = any(${facts.names}::text[])
        or '*.' || substring(d.hostname from position('.' in d.hostname) + 1) = any(${facts.names}::text[]))
      on conflict do nothing`.execute(trx);
    await enqueue(
      trx,
      createEvent(certsUploaded, {
        source: 'api',
        subject: id,
        data: { certificateId: id, names: facts.names, notAfter: facts.notAfter.toISOString() },
      }),
    );
  });
  return { id, warnings };
}

/**
 * Deletes an uploaded certificate (its links go with it) and emits `certs.removed`, so proxy-config serves the
 * next choice for its names. ACME certificates are refused (Gatehouse manages them), and so is the operator's
 * fallback wildcard while the setting names it. Returns false when there is no such certificate.
 */
export async function deleteUploadedCertificate(db: Db, id: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const certificate = await trx
      .selectFrom('certificates')
      .select(['id', 'names', 'source'])
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    if (!certificate) return false;
    if (certificate.source !== 'custom') {
      throw new ApiError(
        'conflict',
        `certificate ${id} is managed by Gatehouse (${certificate.source}); only uploaded certificates can be deleted`,
      );
    }
    const fallback = await trx
      .selectFrom('settings')
      .select('value')
      .where('key', '=', settingKeys.fallbackCertificateId)
      .forUpdate()
      .executeTakeFirst();
    if (fallback?.value === id) {
      throw new ApiError(
        'conflict',
        `certificate ${id} is the fallback certificate; DELETE /v1/settings/fallback-certificate first`,
      );
    }
    await trx.deleteFrom('certificates').where('id', '=', id).execute();
    await enqueue(
      trx,
      createEvent(certsRemoved, {
        source: 'api',
        subject: id,
        data: { certificateId: id, names: certificate.names },
      }),
    );
    return true;
  });
}
