import { randomUUID } from 'node:crypto';
import type { Database } from '@gatehouse/db';
import type { Envelope, KeyType } from '@gatehouse/events';
import {
  type CertificateMode,
  certificateKeyContext,
  covers,
  createSelfSignedCertificate,
  namesKey,
  type SecretBox,
  sortNames,
} from '@gatehouse/pki';
import { sql, type Transaction } from 'kysely';
import { findOrRequestCertificate } from '../certificates/request-certificate.ts';
import { replaceCertificateLinks } from './app.repository.ts';
import {
  certificateNames,
  commonChallenge,
  commonProfile,
  type DomainSpec,
  type WwwMode,
} from './domain-url.ts';

/**
 * Points an app at the certificates its https domains need, one per certificate mode (issue 15):
 * - `acme` names: one ACME certificate, found or requested (findOrRequestCertificate);
 * - `local-ca` names: one local CA certificate, found or requested the same way (cert-issuer signs it);
 * - `custom` names: nothing is requested. Uploaded certificates covering them are linked, and so is every
 *   certificate the app already had for them, so switching `acme → custom` keeps the old certificate served
 *   until an upload replaces it (proxy-config prefers a valid upload; cert-issuer no longer renews the old one);
 * - `fallback-only` names: a `self-signed` row in status `fallback` (found or made), which proxy-config serves as
 *   the operator's fallback wildcard when that covers a name, else its own self-signed certificate.
 * Runs in the caller's transaction, which MUST hold the app-write lock (as findOrRequestCertificate requires).
 * Returns the `certs.requested` events of the certificates requested; the caller MUST enqueue them in the same
 * transaction, before or with its own `apps.*` event (one outbox insert for all of them).
 */
export async function linkAppCertificates(
  trx: Transaction<Database>,
  box: SecretBox,
  app: { id: string; domains: readonly DomainSpec[]; www: WwwMode; keyType: KeyType; eventSource: string },
): Promise<Envelope[]> {
  const ids = new Set<string>();
  const requests: Envelope[] = [];
  for (const mode of ['acme', 'local-ca'] as const) {
    const names = certificateNames(app.domains, app.www, mode);
    if (names.length === 0) continue;
    const domainsOfMode = app.domains.filter((domain) => domain.mode === mode);
    const certificate = await findOrRequestCertificate(trx, {
      names,
      challenge: commonChallenge(domainsOfMode),
      profile: mode === 'acme' ? commonProfile(domainsOfMode) : null,
      source: app.eventSource,
      certificateSource: mode,
      keyType: app.keyType,
    });
    ids.add(certificate.id);
    if (certificate.request) requests.push(certificate.request);
  }
  const customNames = certificateNames(app.domains, app.www, 'custom');
  if (customNames.length > 0) {
    for (const id of await certificatesCoveringAny(trx, app.id, customNames)) ids.add(id);
  }
  const fallbackNames = certificateNames(app.domains, app.www, 'fallback-only');
  if (fallbackNames.length > 0) ids.add(await findOrMakeSelfSigned(trx, box, fallbackNames));
  await replaceCertificateLinks(trx, app.id, [...ids]);
  return requests;
}

/**
 * A key over every mode's name set and the ACME profile: when it changes, the app's certificate links must be
 * worked out again (a profile change on the same names is recorded for that certificate's next order).
 */
export function certificateLinkKey(domains: readonly DomainSpec[], www: WwwMode): string {
  const modes: CertificateMode[] = ['acme', 'custom', 'fallback-only', 'local-ca'];
  const profile = commonProfile(domains.filter((domain) => domain.mode === 'acme'));
  return modes
    .map((mode) => {
      const names = certificateNames(domains, www, mode);
      return `${mode}=${names.length === 0 ? '' : namesKey(names)}`;
    })
    .concat(`profile=${profile ?? ''}`)
    .join(';');
}

/**
 * Certificates that cover one of `names`: valid uploads anywhere, and the ones already linked to the app
 * (whatever their source: the certificate being served now keeps being served).
 */
async function certificatesCoveringAny(
  trx: Transaction<Database>,
  appId: string,
  names: readonly string[],
): Promise<string[]> {
  const candidates = new Set<string>();
  for (const name of names) {
    candidates.add(name);
    const dot = name.indexOf('.');
    if (!name.startsWith('*.') && dot > 0) candidates.add(`*.${name.slice(dot + 1)}`);
  }
  const rows = await trx
    .selectFrom('certificates')
    .select(['id', 'names'])
    .where(sql<boolean>`names && ${sql.val([...candidates])}::text[]`)
    .where((eb) =>
      eb.or([
        eb.and([eb('source', '=', 'custom'), eb('status', '=', 'valid')]),
        eb(
          'id',
          'in',
          eb.selectFrom('app_certificates').select('certificate_id').where('app_id', '=', appId),
        ),
      ]),
    )
    .execute();
  return rows.filter((row) => names.some((name) => covers(row.names, name))).map((row) => row.id);
}

/**
 * The `self-signed` stand-in for `fallback-only` names: reused by name set, else made now (ten years, a key of
 * its own, sealed with the row's context) in status `fallback`. It has no chain of its own, so renewal-scheduler
 * and cert-issuer never touch it.
 */
async function findOrMakeSelfSigned(
  trx: Transaction<Database>,
  box: SecretBox,
  names: readonly string[],
): Promise<string> {
  const sorted = sortNames(names);
  const key = namesKey(sorted);
  const existing = await trx
    .selectFrom('certificates')
    .select('id')
    .where('names_key', '=', key)
    .where('source', '=', 'self-signed')
    .where('fallback_chain_pem', 'is not', null)
    .executeTakeFirst();
  if (existing) return existing.id;
  const id = randomUUID();
  const made = await createSelfSignedCertificate({ commonName: sorted[0]!, dnsNames: sorted });
  await trx
    .insertInto('certificates')
    .values({
      id,
      names: sorted,
      names_key: key,
      status: 'fallback',
      source: 'self-signed',
      issuer: 'self-signed',
      fallback_chain_pem: made.certPem,
      fallback_key_encrypted: box.seal(made.keyPem, certificateKeyContext(id)),
      fallback_activated_at: new Date(),
    })
    .execute();
  return id;
}
