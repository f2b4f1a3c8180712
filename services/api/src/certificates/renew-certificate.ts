import type { Database, Db } from '@gatehouse/db';
import { certsRequested, createEvent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import type { Transaction } from 'kysely';
import { commonChallenge, commonProfile } from '../apps/domain-url.ts';
import { ApiError } from '../errors.ts';

/**
 * Whether a manual renewal may place an order now. cert-issuer's rate-limit check (a pure reading of its ledger)
 * plugs in here; until it is wired, {@link allowAlways} is used.
 */
export type RenewalCheck = (certificate: {
  id: string;
  names: string[];
}) => Promise<{ allowed: true } | { allowed: false; retryAt: Date; reason: string }>;

export const allowAlways: RenewalCheck = async () => ({ allowed: true });

/** A refusal by the {@link RenewalCheck}: the route answers 429 with `retryAfter` and a `Retry-After` header. */
export class RenewalRateLimitedError extends Error {
  override readonly name = 'RenewalRateLimitedError';
  readonly retryAt: Date;

  constructor(reason: string, retryAt: Date) {
    super(`${reason}; a renewal is possible again at ${retryAt.toISOString()}`);
    this.retryAt = retryAt;
  }
}

/**
 * Starts a manual renewal: status `renewing` and `certs.requested` (reason `manual`) in one transaction.
 *
 * Idempotent while a renewal or first issuance is already running (pending/renewing): the certificate is
 * returned unchanged and no second event is written, so a double click costs nothing. Custom certificates are
 * refused: Gatehouse never renews them; so are the self-signed stand-ins of `fallback-only` domains and certificates
 * no app uses (released: their names may point elsewhere now). Local CA
 * certificates are re-signed. Returns undefined for an unknown id.
 */
export async function renewCertificate(
  db: Db,
  id: string,
  source: string,
  check: RenewalCheck,
): Promise<{ renewed: boolean } | undefined> {
  return db.transaction().execute(async (trx) => {
    // Row lock: two concurrent renew calls must not both emit.
    const certificate = await trx
      .selectFrom('certificates')
      .select(['id', 'names', 'status', 'source', 'key_type', 'released_at'])
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    if (!certificate) return undefined;
    if (certificate.source === 'custom') {
      throw new ApiError(
        'conflict',
        'this is an uploaded certificate; it is not renewed by Gatehouse; upload a replacement with POST /v1/certificates',
      );
    }
    if (certificate.source !== 'acme' && certificate.source !== 'local-ca') {
      throw new ApiError('conflict', `a ${certificate.source} certificate is not renewed through the API`);
    }
    if (certificate.released_at !== null) {
      throw new ApiError(
        'conflict',
        `no app uses this certificate since ${certificate.released_at.toISOString()}, so it is not renewed; ` +
          'an app with these names (POST /v1/apps) uses it again and renews it',
      );
    }
    if (certificate.status === 'renewing' || certificate.status === 'pending') return { renewed: false };
    // The local CA signs without a CA's rate limits; only an ACME renewal spends a budget.
    if (certificate.source === 'acme') {
      const verdict = await check({ id: certificate.id, names: certificate.names });
      if (!verdict.allowed) throw new RenewalRateLimitedError(verdict.reason, verdict.retryAt);
    }

    await trx
      .updateTable('certificates')
      .set({ status: 'renewing', updated_at: new Date() })
      .where('id', '=', id)
      .execute();
    const { challenge, profile } = await policyOfCertificate(trx, id);
    await enqueue(
      trx,
      createEvent(certsRequested, {
        source,
        subject: id,
        data: {
          certificateId: id,
          names: certificate.names,
          // The column holds only values cert-issuer wrote from this contract's key types.
          keyType: certificate.key_type as 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-2048' | 'rsa-4096',
          reason: 'manual',
          challenge,
          ...(profile !== null ? { profile } : {}),
        },
      }),
    );
    return { renewed: true };
  });
}

/** The challenge and ACME profile the domains served by this certificate ask for (as when it was requested). */
async function policyOfCertificate(trx: Transaction<Database>, certificateId: string) {
  const domains = await trx
    .selectFrom('app_certificates')
    .innerJoin('domains', 'domains.app_id', 'app_certificates.app_id')
    .select(['domains.https', 'domains.challenge', 'domains.profile'])
    .where('app_certificates.certificate_id', '=', certificateId)
    .execute();
  const specs = domains.map((domain) => ({
    https: domain.https,
    challenge: domain.challenge,
    profile: domain.profile,
  }));
  return { challenge: commonChallenge(specs), profile: commonProfile(specs) };
}
