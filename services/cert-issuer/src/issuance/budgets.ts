import type { Db } from '@gatehouse/db';
import { registeredDomain } from '@gatehouse/pki';
import {
  check,
  type LimitOutcome,
  type LimitRequest,
  limitsFor,
  longestWindowMs,
  parseRateLimitOverrides,
  prune,
  type RateLimitOverrides,
  rateLimitScopes,
  record,
  reserve,
} from '../rate-limits/index.ts';
import type { BudgetDecision } from './process-job.ts';

/**
 * The CA's published limits, mirrored in Postgres so every replica and every restart spends the same
 * budget. An order reserves its slots before it is sent; a refused reservation defers the order to
 * the refill instead of letting it fail at the CA.
 */
export function createBudgets(db: Db, overridesJson: string | undefined) {
  const overrides: RateLimitOverrides = overridesJson ? parseRateLimitOverrides(overridesJson) : {};

  function decision(outcome: LimitOutcome): BudgetDecision {
    return outcome.allowed
      ? { allowed: true }
      : { allowed: false, retryAt: outcome.retryAt, reason: outcome.reason };
  }

  return {
    async reserveOrderBudget(directoryUrl: string, accountUrl: string, names: string[], namesKey: string) {
      const rules = limitsFor(directoryUrl, overrides);
      const domains = new Set(names.map((name) => registeredDomain(name)));
      const requests: LimitRequest[] = [
        {
          limit: 'new-orders-per-account',
          rule: rules['new-orders-per-account'],
          scope: rateLimitScopes.account(accountUrl),
        },
        {
          limit: 'duplicate-certificates',
          rule: rules['duplicate-certificates'],
          scope: rateLimitScopes.nameSet(directoryUrl, namesKey),
        },
        ...[...domains].map((domain) => ({
          limit: 'certificates-per-registered-domain' as const,
          rule: rules['certificates-per-registered-domain'],
          scope: rateLimitScopes.registeredDomain(directoryUrl, domain),
        })),
      ];
      return decision(await reserve(db, requests));
    },
    async checkFailedAuthorizationBudget(directoryUrl: string, accountUrl: string, names: string[]) {
      const rule = limitsFor(directoryUrl, overrides)['failed-authorizations-per-name'];
      return decision(
        await check(
          db,
          names.map((name) => ({
            limit: 'failed-authorizations-per-name' as const,
            rule,
            scope: rateLimitScopes.nameForAccount(name, accountUrl),
          })),
        ),
      );
    },
    /**
     * Waits until the account's request budget has room, then spends one slot. A throttle, not a
     * deferral: requests are short, so waiting a fraction of a second beats rescheduling the order.
     */
    async throttleRequest(directoryUrl: string, accountUrl: string, signal?: AbortSignal): Promise<void> {
      const rule = limitsFor(directoryUrl, overrides)['requests-per-account'];
      for (;;) {
        const outcome = await reserve(db, [
          { limit: 'requests-per-account', rule, scope: rateLimitScopes.account(accountUrl) },
        ]);
        if (outcome.allowed || signal?.aborted) return;
        await new Promise((resolve) =>
          setTimeout(resolve, Math.max(outcome.retryAt.getTime() - Date.now(), 5)),
        );
      }
    },
    /** Deletes ledger rows older than the longest window of any configured CA. */
    async prune(directoryUrls: readonly string[]): Promise<number> {
      const longest = longestWindowMs(directoryUrls.map((url) => limitsFor(url, overrides)));
      return prune(db, new Date(Date.now() - longest));
    },
    async recordFailedAuthorizations(_directoryUrl: string, accountUrl: string, names: string[]) {
      for (const name of names) {
        await record(db, 'failed-authorizations-per-name', rateLimitScopes.nameForAccount(name, accountUrl));
      }
    },
  };
}
