/**
 * Builders for the `scope` of each limit, so every caller counts the same thing the same way.
 *
 * A scope MUST identify what the CA counts *and* which CA counts it: account URLs already belong to one CA;
 * registered domains and name sets do not, so they carry the directory URL (otherwise spending Let's Encrypt's
 * budget for example.com would also block falling over to a second CA).
 */
export const rateLimitScopes = {
  /** `new-orders-per-account` and `requests-per-account`: the ACME account URL. */
  account: (accountUrl: string) => accountUrl,
  /** `certificates-per-registered-domain`: one per distinct registered domain (Public Suffix List eTLD+1). */
  registeredDomain: (directoryUrl: string, registeredDomain: string) =>
    `${directoryUrl}|${registeredDomain.toLowerCase()}`,
  /** `duplicate-certificates`: the exact name set, as the sorted, lower-cased names key. */
  nameSet: (directoryUrl: string, namesKey: string) => `${directoryUrl}|${namesKey}`,
  /** `failed-authorizations-per-name`: one identifier under one account. */
  nameForAccount: (name: string, accountUrl: string) => `${name.toLowerCase()}|${accountUrl}`,
} as const;
