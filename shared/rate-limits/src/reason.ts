import type { LimitName, LimitRule } from './rules.ts';

const labels: Record<LimitName, string> = {
  'new-orders-per-account': 'new orders per account',
  'certificates-per-registered-domain': 'certificates per registered domain',
  'duplicate-certificates': 'duplicate certificates (same name set)',
  'failed-authorizations-per-name': 'failed authorizations per name',
  'requests-per-account': 'ACME requests per account',
};

/**
 * The sentence shown to an operator when a budget is spent, e.g.
 * `new orders per account (https://ca/acct/1): 5 of 5 used in the last 3 h; next slot at 2026-03-01T15:00:00.000Z`.
 */
export function describeRefusal(
  limit: LimitName,
  scope: string,
  rule: LimitRule,
  used: number,
  retryAt: Date,
): string {
  const subject = `${labels[limit]} (${scope})`;
  const window = formatWindow(rule.windowMs);
  if (rule.max <= 0) {
    return `${subject}: disabled by configuration (max 0 per ${window}); checking again at ${retryAt.toISOString()}`;
  }
  return `${subject}: ${used} of ${rule.max} used in the last ${window}; next slot at ${retryAt.toISOString()}`;
}

const units: Array<[string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['min', 60_000],
  ['s', 1_000],
  ['ms', 1],
];

/** `10800000` → `3 h`, `5400000` → `90 min`: the largest unit that divides the window exactly. */
export function formatWindow(ms: number): string {
  for (const [unit, size] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  }
  return `${ms} ms`;
}
