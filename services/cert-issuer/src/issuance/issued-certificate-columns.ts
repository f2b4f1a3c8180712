import type { CertificateSource, CertificateStatus } from '@gatehouse/db';
import { type CertificateFacts, certificateKeyContext, type SecretBox } from '@gatehouse/pki';
import { sql } from 'kysely';
import { renewalAfterIssuance } from './renewal-after-issuance.ts';

/**
 * The columns of an UPDATE of a certificate that was just issued, by an ACME CA or the local CA: `valid` with its
 * chain, its key sealed under the row's own context, its dates and renewal time, and the failures of earlier rounds
 * cleared. A certificate the api released while its order ran (no app uses it) stays unscheduled: no renewal time
 * and no ARI poll, as the api left it; an app taking its names again schedules it.
 */
export function issuedCertificateColumns(issued: {
  certificateId: string;
  source: Extract<CertificateSource, 'acme' | 'local-ca'>;
  /** The CA directory URL, or the local CA's name. */
  issuer: string;
  accountId: string | null;
  chainPem: string;
  keyPem: string;
  facts: CertificateFacts;
  box: SecretBox;
  now: Date;
}) {
  return {
    status: 'valid' as CertificateStatus,
    issuer: issued.issuer,
    acme_account_id: issued.accountId,
    serial: issued.facts.serial,
    chain_pem: issued.chainPem,
    private_key_encrypted: issued.box.seal(issued.keyPem, certificateKeyContext(issued.certificateId)),
    not_before: issued.facts.notBefore,
    not_after: issued.facts.notAfter,
    ...unlessReleased(renewalAfterIssuance(issued.facts, issued.source, issued.now)),
    failure_count: 0,
    next_retry_at: null,
    last_error_kind: null,
    last_error_message: null,
    last_error_at: null,
    updated_at: issued.now,
  };
}

/** The renewal columns, as SQL that keeps them null on a released row (`released_at` is the row's value before). */
function unlessReleased(renewal: ReturnType<typeof renewalAfterIssuance>) {
  const whenInUse = (at: Date | null) =>
    at === null ? null : sql<Date | null>`case when released_at is null then ${at}::timestamptz end`;
  return {
    ...renewal,
    renew_at: whenInUse(renewal.renew_at),
    ari_next_poll_at: whenInUse(renewal.ari_next_poll_at),
  };
}
