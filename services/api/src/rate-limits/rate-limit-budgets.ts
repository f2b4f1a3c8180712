import type { Db } from '@gatehouse/db';
import {
  evaluateBudget,
  isUnlimited,
  type LimitName,
  type LimitRule,
  limitsFor,
  type RateLimitOverrides,
} from '@gatehouse/rate-limits';
import { assertNever } from '@gatehouse/runtime';

/**
 * The kinds of budget an operator reads (README "Rate limits"), each with the ledger limit it comes from and
 * how that limit's scope string is built (see `rateLimitScopes` in @gatehouse/rate-limits).
 */
export const budgetKinds = ['account', 'registered-domain', 'name-set', 'name'] as const;
export type BudgetKind = (typeof budgetKinds)[number];

const limitOfKind: Record<BudgetKind, LimitName> = {
  account: 'new-orders-per-account',
  'registered-domain': 'certificates-per-registered-domain',
  'name-set': 'duplicate-certificates',
  name: 'failed-authorizations-per-name',
};

export interface Budget {
  kind: BudgetKind;
  limit: LimitName;
  /** The ledger's scope string, as cert-issuer counts it. */
  scope: string;
  /** The CA directory the budget belongs to, when known. */
  directoryUrl: string | null;
  /** What the budget counts, for a person: the account URL, the registered domain, the names or the name. */
  subject: string;
  used: number;
  max: number;
  windowSeconds: number;
  /** Null while a slot is free; otherwise when the next one frees up. */
  nextSlotAt: Date | null;
}

/**
 * Every budget with at least one event in its window, from the ledger (`rate_limit_events`), fullest first.
 * Reads only: the same rules cert-issuer reserves with (the CA's published limits and `ACME_RATE_LIMITS`).
 * The ledger holds at most the longest window's events (cert-issuer prunes it), so this stays small.
 */
export async function listBudgets(
  db: Db,
  options: { kinds: readonly BudgetKind[]; overrides?: RateLimitOverrides | undefined; now?: Date },
): Promise<Budget[]> {
  const now = options.now ?? new Date();
  const accounts = await db
    .selectFrom('acme_accounts')
    .select(['account_url', 'directory_url'])
    .where('account_url', 'is not', null)
    .execute();
  const directoryOfAccount = new Map(accounts.map((row) => [row.account_url!, row.directory_url]));
  const directories = [...new Set(accounts.map((row) => row.directory_url))];
  const ruleFor = (limit: LimitName, directoryUrl: string | null): LimitRule =>
    limitsFor(directoryUrl ?? '*', options.overrides)[limit];

  const budgets: Budget[] = [];
  for (const kind of options.kinds) {
    const limit = limitOfKind[kind];
    // The widest window any known CA uses for this limit: events older than it count nowhere.
    const widest = Math.max(
      ruleFor(limit, null).windowMs,
      ...directories.map((directory) => ruleFor(limit, directory).windowMs),
    );
    const rows = await db
      .selectFrom('rate_limit_events')
      .select(['scope', 'occurred_at'])
      .where('limit_name', '=', limit)
      .where('occurred_at', '>', new Date(now.getTime() - widest))
      .execute();
    const byScope = new Map<string, Date[]>();
    for (const row of rows) {
      const list = byScope.get(row.scope);
      if (list) list.push(row.occurred_at);
      else byScope.set(row.scope, [row.occurred_at]);
    }
    for (const [scope, events] of byScope) {
      const { directoryUrl, subject } = describeScope(kind, scope, directoryOfAccount);
      const rule = ruleFor(limit, directoryUrl);
      const verdict = evaluateBudget(rule, events, now);
      // Unlimited (the CA has no such limit): events from before that setting say nothing.
      if (verdict.used === 0 || isUnlimited(rule)) continue;
      budgets.push({
        kind,
        limit,
        scope,
        directoryUrl,
        subject,
        used: verdict.used,
        max: rule.max,
        windowSeconds: Math.round(rule.windowMs / 1000),
        nextSlotAt: verdict.allowed ? null : verdict.retryAt,
      });
    }
  }
  return budgets.sort(
    (a, b) => b.used / Math.max(1, b.max) - a.used / Math.max(1, a.max) || a.scope.localeCompare(b.scope),
  );
}

/** Splits a scope string into its CA and what it counts (the builders in `rateLimitScopes`, reversed). */
function describeScope(
  kind: BudgetKind,
  scope: string,
  directoryOfAccount: ReadonlyMap<string, string>,
): { directoryUrl: string | null; subject: string } {
  const bar = scope.indexOf('|');
  switch (kind) {
    case 'account':
      return { directoryUrl: directoryOfAccount.get(scope) ?? null, subject: scope };
    case 'registered-domain':
    case 'name-set':
      // `<directory>|<registered domain or names key>`
      return bar < 0
        ? { directoryUrl: null, subject: scope }
        : { directoryUrl: scope.slice(0, bar), subject: scope.slice(bar + 1) };
    case 'name': {
      // `<name>|<account URL>`
      if (bar < 0) return { directoryUrl: null, subject: scope };
      return {
        directoryUrl: directoryOfAccount.get(scope.slice(bar + 1)) ?? null,
        subject: scope.slice(0, bar),
      };
    }
    default:
      return assertNever(kind, 'budget kind');
  }
}
