/**
 * Why and when a certificate is renewed next, in the words the dashboard and the CLI show. Pure: decided from
 * the certificate row and its newest issuance job, so the list and the detail page always agree.
 */
export const nextRenewalReasons = [
  /** Scheduled by lifetime: 1/3 left (1/2 under 10 days), spread a little (renewal-scheduler). */
  'lifetime',
  /** Inside the CA's ARI window (RFC 9773). */
  'ari',
  /** A failed round waits on the retry ladder (cert-issuer). */
  'retry',
  /** Every CA's budget is spent; the order waits for the ledger to refill. */
  'rate-limit',
  /** An operator asked (`POST /v1/certificates/{id}/renew`); it is running or queued. */
  'manual',
  /** First issuance or a scheduled renewal is running now. */
  'in-progress',
  /** Uploaded certificates are never renewed by Gatehouse. */
  'not-renewed',
  /** No app uses it any more (deleted, or its names changed): not renewed, reused if the names come back. */
  'released',
  /** Nothing scheduled (e.g. a fallback waiting for the next request). */
  'none',
] as const;
export type NextRenewalReason = (typeof nextRenewalReasons)[number];

export interface NextRenewal {
  at: Date | null;
  reason: NextRenewalReason;
  /** One sentence for a person. */
  detail: string;
}

export interface RenewalFacts {
  status: string;
  source: string;
  renew_at: Date | null;
  renew_reason: string | null;
  failure_count: number;
  next_retry_at: Date | null;
  last_error_kind: string | null;
  job_reason: string | null;
  job_next_attempt_at: Date | null;
  released_at: Date | null;
}

export function nextRenewalOf(facts: RenewalFacts): NextRenewal {
  if (facts.source === 'custom') {
    return {
      at: null,
      reason: 'not-renewed',
      detail: 'uploaded certificate: Gatehouse does not renew it; upload a replacement before it expires',
    };
  }
  if (facts.released_at !== null) {
    return {
      at: null,
      reason: 'released',
      detail:
        `no app uses it since ${facts.released_at.toISOString()}, so Gatehouse does not renew it; ` +
        'an app with these names uses it again and renews it',
    };
  }
  if (facts.next_retry_at !== null && facts.last_error_kind === 'rate-limited') {
    return {
      at: facts.next_retry_at,
      reason: 'rate-limit',
      detail: 'a CA rate limit is spent; the order waits until the ledger has a free slot',
    };
  }
  if (facts.next_retry_at !== null && facts.failure_count > 0) {
    const round = facts.failure_count === 1 ? '1 failed round' : `${facts.failure_count} failed rounds`;
    const kind = facts.last_error_kind ? ` (last: ${facts.last_error_kind})` : '';
    return { at: facts.next_retry_at, reason: 'retry', detail: `retry ladder after ${round}${kind}` };
  }
  if (facts.status === 'pending' || facts.status === 'renewing') {
    if (facts.job_reason === 'manual') {
      return { at: facts.job_next_attempt_at, reason: 'manual', detail: 'renewal requested by an operator' };
    }
    return {
      at: facts.job_next_attempt_at,
      reason: 'in-progress',
      detail: facts.status === 'pending' ? 'first issuance in progress' : 'renewal in progress',
    };
  }
  if (facts.renew_at !== null) {
    if (facts.renew_reason === 'ari') {
      return { at: facts.renew_at, reason: 'ari', detail: "inside the CA's suggested renewal window (ARI)" };
    }
    return {
      at: facts.renew_at,
      reason: 'lifetime',
      detail: 'a third of the lifetime left (half under 10 days)',
    };
  }
  return { at: null, reason: 'none', detail: 'nothing scheduled' };
}
