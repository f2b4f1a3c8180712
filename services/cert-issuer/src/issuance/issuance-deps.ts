import type { Db, PreflightResult } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import type { Logger } from '@gatehouse/telemetry';
import type { ChallengeSolver, ChallengeType, Issuer } from '../acme/issuer.ts';
import type { Dns01Solver } from '../challenges/dns01-solver.ts';

/** Whether and when an order may be placed, from the rate-limit ledger. */
export type BudgetDecision =
  | {
      allowed: true;
      /**
       * Hands back what an attempt did not use: `not-ordered` (the order never reached the CA) returns every
       * slot, `not-issued` (the CA took the order, no certificate came of it) the certificate budgets.
       */
      release?: (outcome: 'not-ordered' | 'not-issued') => Promise<void>;
    }
  | { allowed: false; retryAt: Date; reason: string };

export interface IssuanceDeps {
  db: Db;
  box: SecretBox;
  logger: Logger;
  /** CA directories in fallback order. */
  directoryUrls: readonly string[];
  /**
   * A staging CA to prove a fix on before production is tried again (Caddy's approach): after a
   * failed round, the next round first orders a throw-away certificate from staging, and only
   * when that succeeds spends the production CA's budget.
   */
  stagingDirectoryUrl?: string | undefined;
  /** The issuer (with its account) for a directory; may throw a classified IssueError. */
  issuerFor(directoryUrl: string): Promise<{ issuer: Issuer; accountId: string; accountUrl: string }>;
  /** Drops an account the CA no longer knows, so the next attempt registers again. */
  forgetAccount(directoryUrl: string): Promise<void>;
  solvers: { 'http-01': ChallengeSolver; 'dns-01'?: Dns01Solver | undefined };
  /** Preflight for the names before an order; `ok: false` defers instead of ordering. */
  preflight(
    names: string[],
    challenge: ChallengeType,
    issuer: Issuer,
  ): Promise<{ ok: boolean; results: PreflightResult[]; blocking: PreflightResult[] }>;
  /**
   * Reserves the CA's budgets for one new order (new orders, certificates per domain, duplicates) and checks the
   * failed-authorization budget, in one call.
   */
  reserveOrderBudget(
    directoryUrl: string,
    accountUrl: string,
    names: string[],
    namesKey: string,
  ): Promise<BudgetDecision>;
  /** Counts failed authorizations (they have a budget of their own at the CA). */
  recordFailedAuthorizations(directoryUrl: string, accountUrl: string, names: string[]): Promise<void>;
  /** Waits for room in the account's ACME request budget (called before each ACME request). */
  throttleRequest(directoryUrl: string, accountUrl: string, signal?: AbortSignal): Promise<void>;
  /** Checks the failed-authorization budget before resuming an order (a new order checks it when reserving). */
  checkFailedAuthorizationBudget(
    directoryUrl: string,
    accountUrl: string,
    names: string[],
  ): Promise<BudgetDecision>;
  quickRetryDelayMs: number;
  retryLadderMs: readonly number[];
  /** The certificate profile to order where the CA offers it (ACME_PROFILE). */
  profile?: string | undefined;
  /** Source name for events. */
  source: string;
  /** Stops work when the lease is lost or the service drains. */
  signal: AbortSignal;
  /**
   * Called once the CA work of the job is over and only storing the certificate is left, so the worker
   * can claim the next job meanwhile (the slot limits orders at the CA, not database writes).
   */
  onOrderDone?: (() => void) | undefined;
}
