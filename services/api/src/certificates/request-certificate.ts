import { randomUUID } from 'node:crypto';
import type { Database } from '@gatehouse/db';
import { certsRequested, createEvent, type Envelope, type KeyType } from '@gatehouse/events';
import { covers, namesKey, sortNames, spreadRenewAt } from '@gatehouse/pki';
import { sql, type Transaction } from 'kysely';
import type { ChallengePreference } from '../apps/domain-url.ts';
import {
  findRequestedProfile,
  findReusableCertificate,
  insertPendingCertificate,
  listCoveringCandidates,
} from './certificate.repository.ts';

/**
 * A covering certificate is reused only if it has at least this long left: one about to expire would leave the
 * new app on a certificate that is renewed (or not, if custom) moments later, so ordering is the better choice.
 */
const reuseMargin = 7 * 24 * 60 * 60 * 1000;

/**
 * The certificate for exactly `names` with a `keyType` key, found or requested, inside the caller's transaction.
 *
 * An ACME certificate with the same name set that is valid, pending or renewing is reused as it is (Cloudron's
 * reuse: a deleted app that comes back spares the CA's rate limits). Failing that, a valid ACME or custom
 * certificate with more than {@link reuseMargin} left whose names cover every wanted name (exact or one-label
 * wildcard) is linked instead of ordering (DESIGN: "a new subdomain already covered by a valid wildcard uses
 * it"). Otherwise a `pending` row is inserted and
 * `certs.requested` (reason `new`) goes to the outbox in the same transaction, so the request is published if
 * and only if the app change commits. Callers MUST hold the app-write lock, so two requests for the same new
 * name set do not both insert.
 *
 * `profile` (the domains' ACME profile, null for the installation's default) travels in `certs.requested`. A reused
 * certificate with the same names whose last request asked for another profile is requested again (reason `new`):
 * cert-issuer finds it current and orders nothing, but the job records the profile, so its next order (renewal,
 * renew button) uses it. A covering certificate for other names is reused whatever its profile.
 */
export async function findOrRequestCertificate(
  trx: Transaction<Database>,
  request: {
    names: readonly string[];
    challenge: ChallengePreference;
    /** The domains' ACME profile; null for the installation's default (ignored by the local CA). */
    profile: string | null;
    /** The event source (`api`). */
    source: string;
    /** Who issues it (issue 15): the ACME CA, or the local CA for names in mode `local-ca`. Default `acme`. */
    certificateSource?: 'acme' | 'local-ca';
    keyType: KeyType;
  },
): Promise<{ id: string; request?: Envelope }> {
  const names = sortNames(request.names);
  const key = namesKey(names);
  const certificateSource = request.certificateSource ?? 'acme';
  const existing = await findReusableCertificate(trx, key, request.keyType, certificateSource);
  if (existing) {
    const { requestAgain } = await resumeRenewal(trx, existing.id);
    if (
      !requestAgain &&
      (certificateSource === 'local-ca' || (await findRequestedProfile(trx, existing.id)) === request.profile)
    )
      return { id: existing.id };
    return { id: existing.id, request: certificateRequest(request, existing.id, names) };
  }
  // Local CA certificates are cheap and never stand in for another's names: only an exact match is reused.
  const covering =
    certificateSource === 'acme' &&
    (await findCoveringCertificate(trx, names, new Date(Date.now() + reuseMargin), request.keyType));
  if (covering) return { id: covering };

  const id = randomUUID();
  await insertPendingCertificate(trx, {
    id,
    names,
    namesKey: key,
    keyType: request.keyType,
    source: certificateSource,
  });
  return { id, request: certificateRequest(request, id, names) };
}

function certificateRequest(
  request: { challenge: ChallengePreference; profile: string | null; source: string; keyType: KeyType },
  id: string,
  names: string[],
): Envelope {
  return createEvent(certsRequested, {
    source: request.source,
    subject: id,
    data: {
      certificateId: id,
      names,
      keyType: request.keyType,
      reason: 'new',
      challenge: request.challenge,
      ...(request.profile !== null ? { profile: request.profile } : {}),
    },
  });
}

/**
 * Schedules a reused certificate again when its renewal was held: by cert-issuer while its domain was in mode
 * `custom` or `fallback-only`, or because no app used it (`released_at`, cleared here). A valid one gets a
 * lifetime renewal time (one already past makes it due at once) and, from ACME, an ARI poll. A released one still
 * `pending` (cert-issuer drops the first issuance of a released certificate) is requested again: `requestAgain`; a
 * `renewing` one still has its job.
 */
async function resumeRenewal(trx: Transaction<Database>, id: string): Promise<{ requestAgain: boolean }> {
  const row = await trx
    .selectFrom('certificates')
    .select(['not_before', 'not_after', 'renew_at', 'status', 'source', 'released_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) return { requestAgain: false };
  const released = row.released_at !== null;
  const renewAt =
    row.renew_at === null && row.status === 'valid' && row.not_before && row.not_after
      ? spreadRenewAt(row.not_before, row.not_after)
      : undefined;
  if (!released && !renewAt) return { requestAgain: false };
  await trx
    .updateTable('certificates')
    .set({
      released_at: null,
      ...(renewAt
        ? {
            renew_at: renewAt,
            renew_reason: 'lifetime',
            ...(row.source === 'acme'
              ? { ari_next_poll_at: sql<Date>`coalesce(ari_next_poll_at, now())` }
              : {}),
          }
        : {}),
    })
    .where('id', '=', id)
    .execute();
  return { requestAgain: released && row.status === 'pending' };
}

/** The id of a valid certificate covering every name in `names` until at least `validUntil`, if any. */
async function findCoveringCertificate(
  trx: Transaction<Database>,
  names: readonly string[],
  validUntil: Date,
  keyType: KeyType,
): Promise<string | undefined> {
  const candidates = new Set<string>();
  for (const name of names) {
    candidates.add(name);
    const dot = name.indexOf('.');
    if (!name.startsWith('*.') && dot > 0) candidates.add(`*.${name.slice(dot + 1)}`);
  }
  const rows = await listCoveringCandidates(trx, [...candidates], validUntil, keyType);
  return rows.find((row) => names.every((name) => covers(row.names, name)))?.id;
}
