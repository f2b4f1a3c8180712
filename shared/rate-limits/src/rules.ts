import { z } from 'zod';

/** Every limit Gatehouse mirrors; the ledger stores these strings in `rate_limit_events.limit_name`. */
export const limitNames = [
  'new-orders-per-account',
  'certificates-per-registered-domain',
  'duplicate-certificates',
  'failed-authorizations-per-name',
  'requests-per-account',
] as const;

export type LimitName = (typeof limitNames)[number];

/** At most `max` counted events in any sliding window of `windowMs`; `max` Infinity: the CA has no such limit. */
export interface LimitRule {
  max: number;
  windowMs: number;
}

/** Whether a rule can never refuse (`"unlimited"` in ACME_RATE_LIMITS): then nothing needs counting. */
export function isUnlimited(rule: LimitRule): boolean {
  return rule.max === Number.POSITIVE_INFINITY;
}

export type LimitRules = Record<LimitName, LimitRule>;

const second = 1_000;
const hour = 3_600 * second;
const day = 24 * hour;

/**
 * Let's Encrypt's published limits (https://letsencrypt.org/docs/rate-limits/), the default for every CA.
 * LE refills its buckets gradually (e.g. one new order every 36 s); a sliding window of the same size never
 * lets more through than that bucket would, so mirroring it this way is never the reason a CA says no.
 */
export const letsEncryptLimits: LimitRules = {
  // "New Orders per Account": 300 every 3 hours.
  'new-orders-per-account': { max: 300, windowMs: 3 * hour },
  // "New Certificates per Registered Domain": 50 every 7 days (registered domain per the Public Suffix List).
  'certificates-per-registered-domain': { max: 50, windowMs: 7 * day },
  // "New Certificates per Exact Set of Identifiers" (duplicate certificates): 5 every 7 days.
  'duplicate-certificates': { max: 5, windowMs: 7 * day },
  // "Authorization Failures per Identifier per Account": 5 every hour.
  'failed-authorizations-per-name': { max: 5, windowMs: hour },
  // Mirrors LE's "Overall Requests" limits, which are per IP and per endpoint (the tightest: /acme/new-nonce,
  // 20 per second). Counted per account here, which is conservative for one server and keeps a busy replica
  // set from tripping the CA's 503s.
  'requests-per-account': { max: 20, windowMs: second },
};

/** Thrown when `ACME_RATE_LIMITS` cannot be used; the message names what to fix. */
export class RateLimitConfigError extends Error {
  override readonly name = 'RateLimitConfigError';
}

const ruleOverrideSchema = z.strictObject(
  {
    max: z.number({ error: 'expected a number' }).int('expected a whole number').min(0, 'expected 0 or more'),
    windowSeconds: z
      .number({ error: 'expected a number' })
      .int('expected whole seconds')
      .positive('expected more than 0'),
  },
  {
    error: (issue) =>
      issue.code === 'invalid_type' ? 'expected {"max": <count>, "windowSeconds": <seconds>}' : undefined,
  },
);

const ruleOverride = ruleOverrideSchema.partial().optional();

/**
 * `"unlimited"` in place of a limit's object: the CA publishes no such limit (Pebble, a private CA), so Gatehouse
 * neither counts nor waits for it and spends no database work on it (the per-request throttle then costs
 * nothing). Validated as an empty override (so a misspelt limit name is still refused), then marked.
 */
const unlimited = 'unlimited';
const directoryOverridesSchema = z.strictObject(
  {
    'new-orders-per-account': ruleOverride,
    'certificates-per-registered-domain': ruleOverride,
    'duplicate-certificates': ruleOverride,
    'failed-authorizations-per-name': ruleOverride,
    'requests-per-account': ruleOverride,
  } satisfies Record<LimitName, typeof ruleOverride>,
  {
    error: (issue) => (issue.code === 'invalid_type' ? 'expected an object keyed by limit name' : undefined),
  },
);

const directoryKeySchema = z.union([z.literal('*'), z.url({ protocol: /^https?$/ })], {
  error: 'expected "*" or an ACME directory URL (http or https)',
});

const overridesSchema = z.record(directoryKeySchema, directoryOverridesSchema, {
  error: (issue) => {
    if (issue.code === 'invalid_type') return 'expected an object keyed by ACME directory URL or "*"';
    if (issue.code === 'invalid_key') return 'expected "*" or an ACME directory URL (http or https)';
    return undefined;
  },
});

type RuleOverride = z.infer<typeof ruleOverrideSchema>;
export type RateLimitOverrides = Record<
  string,
  Partial<Record<LimitName, Partial<RuleOverride> | 'unlimited'>>
>;

/**
 * Parses `ACME_RATE_LIMITS`: `{"<directory URL or *>": {"<limit name>": {"max": 5, "windowSeconds": 10800}}}`.
 * Either field of a limit may be left out (it keeps the value below it); `"unlimited"` instead of the object
 * turns the limit off for that CA. Unknown limit names are refused so a
 * typo never silently leaves the default in place. Throws RateLimitConfigError listing every problem.
 */
export function parseRateLimitOverrides(json: string): RateLimitOverrides {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new RateLimitConfigError(`ACME_RATE_LIMITS is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const unlimitedRules: Array<[string, string]> = [];
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [directory, rules] of Object.entries(value)) {
      if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) continue;
      for (const [limit, rule] of Object.entries(rules)) {
        if (rule !== unlimited) continue;
        unlimitedRules.push([directory, limit]);
        (rules as Record<string, unknown>)[limit] = {};
      }
    }
  }
  const parsed = overridesSchema.safeParse(value);
  if (parsed.success) {
    const overrides: RateLimitOverrides = parsed.data;
    for (const [directory, limit] of unlimitedRules) overrides[directory]![limit as LimitName] = unlimited;
    return overrides;
  }
  const problems = parsed.error.issues.map((issue) => {
    const where =
      issue.path.length === 0 ? '' : `at ${issue.path.map((part) => JSON.stringify(part)).join(' → ')}: `;
    const known =
      issue.code !== 'unrecognized_keys'
        ? ''
        : issue.path.length === 1
          ? ` (known limits: ${limitNames.join(', ')})`
          : ' (known fields: max, windowSeconds)';
    return `${where}${issue.message}${known}`;
  });
  throw new RateLimitConfigError(`ACME_RATE_LIMITS is invalid: ${problems.join('; ')}`, {
    cause: parsed.error,
  });
}

/**
 * The rules for one CA directory: Let's Encrypt's defaults, then the `*` overrides, then the overrides for
 * exactly this directory URL (compared after URL normalisation, so host case does not matter).
 */
export function limitsFor(directoryUrl: string, overrides: RateLimitOverrides = {}): LimitRules {
  const target = normaliseUrl(directoryUrl);
  const exact = Object.entries(overrides).find(([key]) => key !== '*' && normaliseUrl(key) === target)?.[1];
  const layers = [overrides['*'], exact];
  const rules = { ...letsEncryptLimits };
  for (const name of limitNames) {
    for (const layer of layers) {
      const override = layer?.[name];
      if (!override) continue;
      if (override === unlimited) {
        rules[name] = { max: Number.POSITIVE_INFINITY, windowMs: rules[name].windowMs };
        continue;
      }
      rules[name] = {
        max: override.max ?? rules[name].max,
        windowMs:
          override.windowSeconds === undefined ? rules[name].windowMs : override.windowSeconds * second,
      };
    }
  }
  return rules;
}

/** The longest window among the rules: events older than this can no longer count (see `prune`). */
export function longestWindowMs(ruleSets: readonly LimitRules[]): number {
  return Math.max(0, ...ruleSets.flatMap((rules) => Object.values(rules).map((rule) => rule.windowMs)));
}

function normaliseUrl(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}
