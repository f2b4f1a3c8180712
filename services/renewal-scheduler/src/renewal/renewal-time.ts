import { lifetimeRenewAt } from '@gatehouse/pki';

/** A number in [0, 1), injectable so tests can pin the spread. */
export type Random = () => number;

const DAY_MS = 86_400_000;

/**
 * The lifetime rule's time, moved earlier by a random part of a spread window (a twentieth of the
 * lifetime, at most a day), so certificates issued together (a fleet migrated at once) do not all renew
 * in the same minute again and again. Only ever earlier: a spread never eats into the safety margin.
 */
export function spreadRenewAt(notBefore: Date, notAfter: Date, random: Random = Math.random): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const spread = Math.min(lifetime / 20, DAY_MS);
  return new Date(lifetimeRenewAt(notBefore, notAfter).getTime() - Math.floor(random() * spread));
}

/**
 * A time in the CA's suggested window (RFC 9773 §4.2): uniformly random inside it, so a CA can spread its
 * load; a window already over means renew now.
 */
export function timeInWindow(
  window: { start: Date; end: Date },
  now: Date,
  random: Random = Math.random,
): Date {
  const start = Math.max(window.start.getTime(), now.getTime());
  const end = window.end.getTime();
  if (end <= start) return new Date(Math.max(now.getTime(), Math.min(start, end)));
  return new Date(start + Math.floor(random() * (end - start)));
}

/** Never poll more often than this, whatever Retry-After says (a CA's typo must not become a flood). */
export const MIN_ARI_POLL_MS = 60_000;
/** Poll at least twice a day (RFC 9773 §4.3 recommends it; a CA may move the window for a revocation). */
export const MAX_ARI_POLL_MS = 12 * 3_600_000;
/** When the CA sends no Retry-After, or the poll failed. */
export const DEFAULT_ARI_POLL_MS = 6 * 3_600_000;

/** When to ask again: Retry-After (seconds or an HTTP date), clamped to [1 min, 12 h]. */
export function nextAriPollAt(retryAfter: string | null | undefined, now: Date): Date {
  let delay = DEFAULT_ARI_POLL_MS;
  if (retryAfter) {
    const seconds = /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter.trim()) * 1000 : undefined;
    const date = seconds === undefined ? Date.parse(retryAfter) : Number.NaN;
    if (seconds !== undefined) delay = seconds;
    else if (!Number.isNaN(date)) delay = date - now.getTime();
  }
  return new Date(now.getTime() + Math.min(MAX_ARI_POLL_MS, Math.max(MIN_ARI_POLL_MS, delay)));
}
