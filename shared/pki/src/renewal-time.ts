/**
 * When a certificate is due for renewal by lifetime alone: 1/3 of it left, or 1/2 for certificates shorter
 * than 10 days (DESIGN.md; never a fixed "30 days").
 */
export function lifetimeRenewAt(notBefore: Date, notAfter: Date): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const remainingFraction = lifetime < 10 * 86_400_000 ? 1 / 2 : 1 / 3;
  return new Date(notAfter.getTime() - lifetime * remainingFraction);
}

/** A number in [0, 1), injectable so tests can pin the spread. */
export type Random = () => number;

const DAY_MS = 86_400_000;

/**
 * The lifetime rule's time, moved earlier by a random part of a spread window (a twentieth of the
 * lifetime, at most a day), so certificates issued together (a fleet migrated at once) do not all renew
 * in the same minute again and again. Only ever earlier: a spread never eats into the safety margin.
 * This is the `renew_at` stored with reason `lifetime`; an ARI window may later replace it.
 */
export function spreadRenewAt(notBefore: Date, notAfter: Date, random: Random = Math.random): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const spread = Math.min(lifetime / 20, DAY_MS);
  return new Date(lifetimeRenewAt(notBefore, notAfter).getTime() - Math.floor(random() * spread));
}
