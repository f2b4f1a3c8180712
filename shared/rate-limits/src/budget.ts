import type { LimitRule } from './rules.ts';

/** What one limit allows right now. `retryAt` is the earliest moment the same request could be allowed. */
export type BudgetVerdict =
  | { allowed: true; used: number; remaining: number }
  | { allowed: false; used: number; retryAt: Date };

/**
 * Decides one sliding-window budget. Pure: the caller passes the clock (`now`) and the timestamps of past
 * events (any superset of the window is fine; events outside it are ignored).
 *
 * Contract:
 * - An event at `t` counts while `now < t + windowMs`: at exactly `t + windowMs` it has left the window.
 * - Events stamped after `now` (another replica's clock runs ahead) count: erring towards "spent" is safe.
 * - Allowed when fewer than `max` events count; `remaining` is what is left *before* this request.
 * - Refused: `retryAt` is when enough of the oldest counted events have left for one slot to be free
 *   (with `used === max`, that is the oldest event + `windowMs`).
 * - `max` 0 disables the action: always refused, with `retryAt` one window from `now` so the caller asks again
 *   later (the configuration may have changed by then).
 */
export function evaluateBudget(rule: LimitRule, events: readonly Date[], now: Date): BudgetVerdict {
  const windowStart = now.getTime() - rule.windowMs;
  const counted = events
    .map((event) => event.getTime())
    .filter((time) => time > windowStart)
    .sort((a, b) => a - b);
  const used = counted.length;
  if (rule.max <= 0) return { allowed: false, used, retryAt: new Date(now.getTime() + rule.windowMs) };
  if (used < rule.max) return { allowed: true, used, remaining: rule.max - used };
  // One slot frees up once `used - max + 1` events have left; the last of them is at index `used - max`.
  const freeingEvent = counted[used - rule.max]!;
  return { allowed: false, used, retryAt: new Date(freeingEvent + rule.windowMs) };
}
