import type { Random } from '@gatehouse/pki';

export type { Random };

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
