import type { OrderAttemptRow, PublicCertificateRow } from './certificate.repository.ts';
import { type NextRenewalReason, nextRenewalOf } from './next-renewal.ts';

/** A certificate as DESIGN.md's HTTP API shows it; never the chain's key. */
export interface CertificateView {
  id: string;
  names: string[];
  status: string;
  source: string;
  issuer: string | null;
  keyType: string;
  notBefore: string | null;
  notAfter: string | null;
  renewAt: string | null;
  renewReason: string | null;
  lastError: { kind: string; message: string; at: string | null } | null;
  /** When and why it is renewed next (see next-renewal.ts). */
  nextRenewal: { at: string | null; reason: NextRenewalReason; detail: string };
  /** Failed rounds since the last success (the retry ladder's step). */
  failureCount: number;
  /** The ACME profile the current certificate's order carried; null: the CA's default (or not from ACME). */
  profile: string | null;
  /** Since when no app uses it (it is not renewed); null while in use. */
  releasedAt: string | null;
}

export interface AttemptView {
  id: string;
  directoryUrl: string;
  challengeType: string | null;
  outcome: string;
  error: { kind: string; message: string } | null;
  /** The CA's RFC 8555 problem type, when the CA sent a problem document. */
  problemType: string | null;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
}

export function toCertificateView(row: PublicCertificateRow): CertificateView {
  const next = nextRenewalOf(row);
  return {
    id: row.id,
    names: row.names,
    status: row.status,
    source: row.source,
    issuer: row.issuer,
    keyType: row.key_type,
    notBefore: iso(row.not_before),
    notAfter: iso(row.not_after),
    renewAt: iso(row.renew_at),
    renewReason: row.renew_reason,
    lastError:
      row.last_error_kind !== null
        ? { kind: row.last_error_kind, message: row.last_error_message ?? '', at: iso(row.last_error_at) }
        : null,
    nextRenewal: { at: iso(next.at), reason: next.reason, detail: next.detail },
    failureCount: row.failure_count,
    profile: row.profile,
    releasedAt: iso(row.released_at),
  };
}

export function toAttemptView(row: OrderAttemptRow): AttemptView {
  return {
    id: row.id,
    directoryUrl: row.directory_url,
    challengeType: row.challenge_type,
    outcome: row.outcome,
    error: row.error_kind !== null ? { kind: row.error_kind, message: row.error_message ?? '' } : null,
    problemType: row.problem_type,
    startedAt: row.started_at.toISOString(),
    finishedAt: iso(row.finished_at),
    durationMs: row.duration_ms,
  };
}

function iso(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}
