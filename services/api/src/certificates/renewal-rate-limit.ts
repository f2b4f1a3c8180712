import type { Db } from '@gatehouse/db';
import { checkOrderAllowed, type RateLimitOverrides } from '@gatehouse/rate-limits';
import type { RenewalCheck } from './renew-certificate.ts';

/**
 * Answers "may this certificate be renewed now?" from the same rate-limit ledger cert-issuer reserves from,
 * without recording anything: the CA its last certificate came from (`issuer`, a directory URL), or, for a
 * certificate never issued, the CA of the newest ACME account. With no CA known yet there is nothing to
 * check, and the request goes through. Uses the CA's published limits with the operator's overrides
 * (`ACME_RATE_LIMITS`, when the api is given them too); cert-issuer still has the last word when it reserves.
 */
export function ledgerRenewalCheck(db: Db, overrides?: RateLimitOverrides): RenewalCheck {
  return async (certificate) => {
    const row = await db
      .selectFrom('certificates')
      .select('issuer')
      .where('id', '=', certificate.id)
      .executeTakeFirst();
    const directoryUrl =
      row?.issuer && /^https?:\/\//.test(row.issuer)
        ? row.issuer
        : (
            await db
              .selectFrom('acme_accounts')
              .select('directory_url')
              .orderBy('created_at', 'desc')
              .limit(1)
              .executeTakeFirst()
          )?.directory_url;
    if (!directoryUrl) return { allowed: true };
    const verdict = await checkOrderAllowed(db, { directoryUrl, names: certificate.names, overrides });
    return verdict.allowed
      ? { allowed: true }
      : { allowed: false, retryAt: verdict.retryAt, reason: verdict.reason };
  };
}
