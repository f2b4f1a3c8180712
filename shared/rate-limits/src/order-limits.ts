import type { Db } from '@gatehouse/db';
import { namesKey as namesKeyOf, registeredDomain } from '@gatehouse/pki';
import { check, type LimitRequest } from './ledger.ts';
import { type LimitName, type LimitRules, limitsFor, type RateLimitOverrides } from './rules.ts';
import { rateLimitScopes } from './scopes.ts';

/**
 * The budgets one new order spends at a CA: new orders for the account, the exact name set (duplicates) and
 * each registered domain. cert-issuer reserves exactly these before an order and `checkOrderAllowed` asks about
 * exactly these, so the api's answer and the issuer's decision cannot drift apart.
 */
export function orderLimitRequests(
  rules: LimitRules,
  directoryUrl: string,
  accountUrl: string,
  names: readonly string[],
  namesKey: string,
): LimitRequest[] {
  const domains = new Set(names.map((name) => registeredDomain(name)));
  return [
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
}

/** Failed authorizations per name under the account: checked before an order, recorded after a failure. */
export function failedAuthorizationRequests(
  rules: LimitRules,
  accountUrl: string,
  names: readonly string[],
): LimitRequest[] {
  return names.map((name) => ({
    limit: 'failed-authorizations-per-name' as const,
    rule: rules['failed-authorizations-per-name'],
    scope: rateLimitScopes.nameForAccount(name, accountUrl),
  }));
}

export interface OrderCheck {
  /** The CA directory the order would go to (the first of `ACME_DIRECTORY_URL` for the usual answer). */
  directoryUrl: string;
  /** The certificate's names (any order; they are normalised like the certificate's names key). */
  names: readonly string[];
  /**
   * The ACME account that would order. Left out: every account stored for `directoryUrl` (optionally only
   * `email`'s) is checked and the strictest answer wins; with none stored, per-account limits are unspent.
   */
  accountUrl?: string | undefined;
  email?: string | undefined;
  /** `ACME_RATE_LIMITS`, parsed (`parseRateLimitOverrides`); the same value cert-issuer runs with. */
  overrides?: RateLimitOverrides | undefined;
}

export type OrderCheckResult =
  | { allowed: true }
  | { allowed: false; limit: LimitName; retryAt: Date; reason: string };

/**
 * Whether cert-issuer could place an order for these names now, and if not, when it could and why: the
 * order budgets it would reserve and the failed-authorization budget it would check. Reads the ledger only:
 * it records, reserves and locks nothing, so asking never spends a budget (an answer is advice; cert-issuer
 * decides again, under its locks, when it orders).
 */
export async function checkOrderAllowed(
  db: Db,
  order: OrderCheck,
  now = new Date(),
): Promise<OrderCheckResult> {
  const rules = limitsFor(order.directoryUrl, order.overrides);
  const key = namesKeyOf(order.names);
  let accountUrls: string[];
  if (order.accountUrl) accountUrls = [order.accountUrl];
  else {
    let query = db
      .selectFrom('acme_accounts')
      .select('account_url')
      .where('directory_url', '=', order.directoryUrl)
      .where('account_url', 'is not', null);
    if (order.email !== undefined) query = query.where('email', '=', order.email);
    accountUrls = (await query.execute()).map((row) => row.account_url!);
  }

  const requests: LimitRequest[] = [];
  // Without an account the per-account budgets are unspent; the per-CA ones still count.
  for (const accountUrl of accountUrls.length > 0 ? accountUrls : ['']) {
    const perOrder = orderLimitRequests(rules, order.directoryUrl, accountUrl, order.names, key);
    requests.push(...(accountUrl ? perOrder : perOrder.filter((r) => r.limit !== 'new-orders-per-account')));
    if (accountUrl) requests.push(...failedAuthorizationRequests(rules, accountUrl, order.names));
  }
  const outcome = await check(db, requests, now);
  return outcome.allowed
    ? { allowed: true }
    : { allowed: false, limit: outcome.limit, retryAt: outcome.retryAt, reason: outcome.reason };
}
