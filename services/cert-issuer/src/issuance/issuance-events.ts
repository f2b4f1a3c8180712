import type { CertificateRow } from '@gatehouse/db';
import { certsIssued, certsIssueFailed, createEvent } from '@gatehouse/events';
import type { CertificateFacts } from '@gatehouse/pki';
import type { IssueError } from '../acme/issue-error.ts';

/**
 * The events a round ends with, built here and enqueued by the store in the transaction that records the
 * outcome (outbox), so an event is published exactly when its outcome is committed.
 */

/** `certs.issued`: a new chain is stored for the certificate. */
export function issuedEvent(
  source: string,
  certificate: CertificateRow,
  issuer: string,
  facts: CertificateFacts,
  /** The profile the order carried; absent: the CA's default. */
  profile?: string | undefined,
) {
  return createEvent(certsIssued, {
    source,
    subject: certificate.id,
    data: {
      certificateId: certificate.id,
      names: certificate.names,
      issuer,
      serial: facts.serial,
      notBefore: facts.notBefore.toISOString(),
      notAfter: facts.notAfter.toISOString(),
      ...(profile ? { profile } : {}),
    },
  });
}

/** `certs.issue-failed`: a round failed; `attempt` counts failed rounds, `retryAt` null means given up. */
export function issueFailedEvent(
  source: string,
  certificate: CertificateRow,
  error: IssueError,
  attempt: number,
  retryAt: Date | null,
) {
  return createEvent(certsIssueFailed, {
    source,
    subject: certificate.id,
    data: {
      certificateId: certificate.id,
      names: certificate.names,
      kind: error.kind,
      message: error.message.slice(0, 2_000),
      attempt,
      retryAt: retryAt?.toISOString() ?? null,
    },
  });
}
