export { type BudgetVerdict, evaluateBudget } from './budget.ts';
export {
  check,
  type LimitOutcome,
  type LimitRequest,
  prune,
  type Reservation,
  rateLimitLockName,
  record,
  release,
  reserve,
  reserveSlots,
} from './ledger.ts';
export {
  checkOrderAllowed,
  failedAuthorizationRequests,
  type OrderCheck,
  type OrderCheckResult,
  orderLimitRequests,
} from './order-limits.ts';
export { describeRefusal, formatWindow } from './reason.ts';
export {
  isUnlimited,
  type LimitName,
  type LimitRule,
  type LimitRules,
  letsEncryptLimits,
  limitNames,
  limitsFor,
  longestWindowMs,
  parseRateLimitOverrides,
  RateLimitConfigError,
  type RateLimitOverrides,
} from './rules.ts';
export { rateLimitScopes } from './scopes.ts';
