import type { Db } from '@gatehouse/db';
import { sleep } from '@gatehouse/messaging';
import {
  check,
  failedAuthorizationRequests,
  isUnlimited,
  type LimitName,
  type LimitOutcome,
  type LimitRule,
  limitNames,
  limitsFor,
  longestWindowMs,
  orderLimitRequests,
  parseRateLimitOverrides,
  prune,
  type RateLimitOverrides,
  rateLimitScopes,
  record,
  release,
  reserve,
  reserveSlots,
} from '@gatehouse/rate-limits';
import { sql } from 'kysely';
import type { BudgetDecision } from './issuance-deps.ts';

/**
 * How many request slots one reservation takes: a quarter of the budget (5 of Let's Encrypt's 20 per
 * second), so a few replicas share it without one hoarding the window, and at most 16, so a raised
 * budget does not make a replica stamp hundreds of unused slots.
 */
export function requestSlotBatch(rule: LimitRule): number {
  return Math.max(1, Math.min(16, Math.floor(rule.max / 4)));
}

/**
 * The CA's published limits, mirrored in Postgres so every replica and every restart spends the same
 * budget. An order reserves its slots before it is sent; a refused reservation defers the order to
 * the refill instead of letting it fail at the CA.
 */
export function createBudgets(db: Db, overridesJson: string | undefined) {
  const overrides: RateLimitOverrides = overridesJson ? parseRateLimitOverrides(overridesJson) : {};

  /** Request slots this replica reserved and has not handed out yet, per directory + account. */
  const heldSlots = new Map<string, { count: number; expiresAt: number }>();
  const pendingReservations = new Map<string, Promise<Date | undefined>>();

  /** Reserves a batch of request slots into `heldSlots`; returns when to try again if none were free. */
  async function reserveRequestSlots(key: string, accountUrl: string, rule: LimitRule) {
    const now = new Date();
    const outcome = await reserveSlots(
      db,
      { limit: 'requests-per-account', rule, scope: rateLimitScopes.account(accountUrl) },
      requestSlotBatch(rule),
      now,
    );
    if (!outcome.allowed) return outcome.retryAt;
    heldSlots.set(key, { count: outcome.granted, expiresAt: now.getTime() + rule.windowMs });
    return undefined;
  }

  function decision(outcome: LimitOutcome): BudgetDecision {
    return outcome.allowed
      ? { allowed: true }
      : { allowed: false, retryAt: outcome.retryAt, reason: outcome.reason };
  }

  return {
    async reserveOrderBudget(
      directoryUrl: string,
      accountUrl: string,
      names: string[],
      namesKey: string,
    ): Promise<BudgetDecision> {
      const rules = limitsFor(directoryUrl, overrides);
      // The failed-authorization budget is checked in the same call (not spent: failures are recorded later).
      const reservation = await reserve(db, [
        ...orderLimitRequests(rules, directoryUrl, accountUrl, names, namesKey),
        ...failedAuthorizationRequests(rules, accountUrl, names).map((request) => ({
          ...request,
          checkOnly: true,
        })),
      ]);
      if (!reservation.allowed) return decision(reservation);
      return {
        allowed: true,
        release: (outcome) =>
          release(
            db,
            reservation,
            outcome === 'not-ordered'
              ? ['new-orders-per-account', 'duplicate-certificates', 'certificates-per-registered-domain']
              : ['duplicate-certificates', 'certificates-per-registered-domain'],
          ),
      };
    },
    async checkFailedAuthorizationBudget(directoryUrl: string, accountUrl: string, names: string[]) {
      const rules = limitsFor(directoryUrl, overrides);
      return decision(await check(db, failedAuthorizationRequests(rules, accountUrl, names)));
    },
    /**
     * Waits until the account's request budget has room, then spends one slot. A throttle, not a
     * deferral: requests are short, so waiting a fraction of a second beats rescheduling the order.
     * Slots are reserved in the shared ledger a batch at a time and handed out in-process until they
     * leave the window, so every replica still counts against the one budget.
     */
    async throttleRequest(directoryUrl: string, accountUrl: string, signal?: AbortSignal): Promise<void> {
      const rule = limitsFor(directoryUrl, overrides)['requests-per-account'];
      // A CA without a request limit (configured `"unlimited"`): no ledger, no wait, no database round trip.
      if (isUnlimited(rule)) return;
      const key = `${directoryUrl}\n${accountUrl}`;
      for (;;) {
        const held = heldSlots.get(key);
        if (held && held.count > 0 && Date.now() < held.expiresAt) {
          held.count -= 1;
          return;
        }
        // One reservation at a time per account: concurrent callers wait for it instead of each
        // reserving a batch (and holding more of the budget than this replica needs).
        let pending = pendingReservations.get(key);
        if (!pending) {
          pending = reserveRequestSlots(key, accountUrl, rule).finally(() => pendingReservations.delete(key));
          pendingReservations.set(key, pending);
        }
        const retryAt = await pending;
        if (signal?.aborted) return;
        if (retryAt) await sleep(Math.max(retryAt.getTime() - Date.now(), 5));
      }
    },
    /**
     * What is left of each limit at one CA: the limit minus the busiest scope's use in its window (the account
     * for per-account limits; the most used registered domain, name set or name). Bounded: one value per limit.
     */
    async remaining(directoryUrl: string, now = new Date()): Promise<Record<LimitName, number>> {
      const rules = limitsFor(directoryUrl, overrides);
      const accounts = (
        await db
          .selectFrom('acme_accounts')
          .select('account_url')
          .where('directory_url', '=', directoryUrl)
          .where('account_url', 'is not', null)
          .execute()
      ).map((row) => row.account_url as string);
      const result = {} as Record<LimitName, number>;
      for (const limit of limitNames) {
        const rule = rules[limit];
        const since = new Date(now.getTime() - rule.windowMs);
        const scopeOfThisCa =
          limit === 'certificates-per-registered-domain' || limit === 'duplicate-certificates'
            ? sql<boolean>`starts_with(scope, ${`${directoryUrl}|`})`
            : limit === 'failed-authorizations-per-name'
              ? sql<boolean>`split_part(scope, '|', 2) = any(${accounts}::text[])`
              : sql<boolean>`scope = any(${accounts}::text[])`;
        const busiest = await db
          .selectFrom('rate_limit_events')
          .select((eb) => eb.fn.countAll<string>().as('used'))
          .where('limit_name', '=', limit)
          .where('occurred_at', '>', since)
          .where(scopeOfThisCa)
          .groupBy('scope')
          .orderBy('used', 'desc')
          .limit(1)
          .executeTakeFirst();
        result[limit] = Math.max(0, rule.max - Number(busiest?.used ?? 0));
      }
      return result;
    },
    /** Deletes ledger rows older than the longest window of any configured CA. */
    async prune(directoryUrls: readonly string[]): Promise<number> {
      const longest = longestWindowMs(directoryUrls.map((url) => limitsFor(url, overrides)));
      return prune(db, new Date(Date.now() - longest));
    },
    async recordFailedAuthorizations(directoryUrl: string, accountUrl: string, names: string[]) {
      if (isUnlimited(limitsFor(directoryUrl, overrides)['failed-authorizations-per-name'])) return;
      for (const name of names) {
        await record(db, 'failed-authorizations-per-name', rateLimitScopes.nameForAccount(name, accountUrl));
      }
    },
  };
}
