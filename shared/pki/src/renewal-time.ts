/**
 * When a certificate is due for renewal by lifetime alone: 1/3 of it left, or 1/2 for certificates shorter
 * than 10 days (DESIGN.md; never a fixed "30 days"). cert-issuer stores it at issuance, renewal-scheduler
 * spreads it and may replace it with an ARI window.
 */
export function lifetimeRenewAt(notBefore: Date, notAfter: Date): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const remainingFraction = lifetime < 10 * 86_400_000 ? 1 / 2 : 1 / 3;
  return new Date(notAfter.getTime() - lifetime * remainingFraction);
}
