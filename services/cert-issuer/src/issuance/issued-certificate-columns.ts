import type { CertificateSource, CertificateStatus } from '@gatehouse/db';
import { type CertificateFacts, certificateKeyContext, type SecretBox } from '@gatehouse/pki';
import { renewalAfterIssuance } from './renewal-after-issuance.ts';

/**
 * The row of a certificate that was just issued, by an ACME CA or the local CA: `valid` with its chain, its key
 * sealed under the row's own context, its dates and renewal time, and the failures of earlier rounds cleared.
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
    ...renewalAfterIssuance(issued.facts, issued.source, issued.now),
    failure_count: 0,
    next_retry_at: null,
    last_error_kind: null,
    last_error_message: null,
    last_error_at: null,
    updated_at: issued.now,
  };
}
