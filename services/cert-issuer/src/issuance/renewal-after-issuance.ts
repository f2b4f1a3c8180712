import type { CertificateSource, RenewReason } from '@gatehouse/db';
import { type Random, spreadRenewAt } from '@gatehouse/pki';

/**
 * The renewal columns of a certificate just issued, written in the same transaction as its chain, so a valid
 * certificate never exists without its renewal time. This is the one place `renew_at` gets its `lifetime` time
 * (the lifetime rule spread earlier by up to a twentieth of the lifetime, so a fleet issued together does not renew
 * in lockstep); renewal-scheduler's ARI poll is the one place it gets an `ari` time, and an ACME certificate is
 * polled at once to find out whether its CA offers ARI. A local CA certificate has no CA to ask.
 */
export function renewalAfterIssuance(
  validity: { notBefore: Date; notAfter: Date },
  source: Extract<CertificateSource, 'acme' | 'local-ca'>,
  now: Date,
  random: Random = Math.random,
): {
  renew_at: Date;
  renew_reason: RenewReason;
  ari_window_start: null;
  ari_window_end: null;
  ari_next_poll_at: Date | null;
} {
  return {
    renew_at: spreadRenewAt(validity.notBefore, validity.notAfter, random),
    renew_reason: 'lifetime',
    ari_window_start: null,
    ari_window_end: null,
    ari_next_poll_at: source === 'acme' ? now : null,
  };
}
