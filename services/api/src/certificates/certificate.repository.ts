import type { CertificateRow, Database, OrderAttemptsTable } from '@gatehouse/db';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { sql } from 'kysely';

type Queryable = Kysely<Database> | Transaction<Database>;

/** Statuses in which a certificate is, or is about to be, servable: one of these is reused, not re-ordered. */
export const reusableStatuses = ['valid', 'pending', 'renewing'] as const;

/**
 * An ACME certificate for exactly this name set (`names_key`, see namesKey) that is valid or on its way
 * (pending, renewing), newest first; undefined when a new one must be requested. Custom and fallback
 * certificates are never picked: an app's domains get an ACME certificate of their own.
 */
export async function findReusableCertificate(
  db: Queryable,
  key: string,
): Promise<Pick<CertificateRow, 'id' | 'status'> | undefined> {
  return db
    .selectFrom('certificates')
    .select(['id', 'status'])
    .where('names_key', '=', key)
    .where('source', '=', 'acme')
    .where('status', 'in', [...reusableStatuses])
    .orderBy(sql`case status when 'valid' then 0 else 1 end`)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/**
 * Valid ACME or custom certificates that list one of `candidates` (the wanted names and their one-label
 * wildcards) and are not expiring before `validUntil`, soonest-expiring last. The caller MUST still check that
 * a candidate covers every wanted name (pki `covers`): the overlap only narrows the search (GIN index on names).
 */
export async function listCoveringCandidates(
  db: Queryable,
  candidates: readonly string[],
  validUntil: Date,
): Promise<Array<Pick<CertificateRow, 'id' | 'names'>>> {
  if (candidates.length === 0) return [];
  return db
    .selectFrom('certificates')
    .select(['id', 'names'])
    .where(sql<boolean>`names && ${sql.val([...candidates])}::text[]`)
    .where('source', 'in', ['acme', 'custom'])
    .where('status', '=', 'valid')
    .where('not_after', '>', validUntil)
    .orderBy('not_after', 'desc')
    .orderBy('id', 'asc')
    .execute();
}

export async function insertPendingCertificate(
  trx: Transaction<Database>,
  certificate: { id: string; names: string[]; namesKey: string },
): Promise<void> {
  await trx
    .insertInto('certificates')
    .values({
      id: certificate.id,
      names: certificate.names,
      names_key: certificate.namesKey,
      status: 'pending',
      source: 'acme',
    })
    .execute();
}

/** The columns the API shows; never the chain or the private key. */
const publicColumns = [
  'id',
  'names',
  'status',
  'source',
  'issuer',
  'key_type',
  'not_before',
  'not_after',
  'renew_at',
  'renew_reason',
  'last_error_kind',
  'last_error_message',
  'last_error_at',
] as const;
export type PublicCertificateRow = Pick<CertificateRow, (typeof publicColumns)[number]>;

export interface CertificateFilter {
  status?: string;
  /** Certificates covering this normalized name: listing it, or a wildcard one label above it. */
  coveringName?: { name: string; wildcard?: string };
}

export async function listCertificates(
  db: Queryable,
  filter: CertificateFilter,
): Promise<PublicCertificateRow[]> {
  let query = db.selectFrom('certificates').select(publicColumns);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  if (filter.coveringName !== undefined) {
    const candidates = [filter.coveringName.name];
    if (filter.coveringName.wildcard !== undefined) candidates.push(filter.coveringName.wildcard);
    // `&&` (overlap) uses the GIN index on names.
    query = query.where(sql<boolean>`names && ${sql.val(candidates)}::text[]`);
  }
  return query.orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
}

export async function findCertificateById(
  db: Queryable,
  id: string,
): Promise<PublicCertificateRow | undefined> {
  return db.selectFrom('certificates').select(publicColumns).where('id', '=', id).executeTakeFirst();
}

export type OrderAttemptRow = Selectable<OrderAttemptsTable>;

/** Every issuance attempt for a certificate, oldest first. */
export async function listOrderAttempts(db: Queryable, certificateId: string): Promise<OrderAttemptRow[]> {
  return db
    .selectFrom('order_attempts')
    .selectAll()
    .where('certificate_id', '=', certificateId)
    .orderBy('started_at', 'asc')
    .orderBy('id', 'asc')
    .execute();
}

/** `{id, status}` of each certificate linked to each of the apps. */
export async function listAppCertificates(
  db: Queryable,
  appIds: readonly string[],
): Promise<Array<{ app_id: string; id: string; status: string }>> {
  if (appIds.length === 0) return [];
  return db
    .selectFrom('app_certificates')
    .innerJoin('certificates', 'certificates.id', 'app_certificates.certificate_id')
    .select(['app_certificates.app_id', 'certificates.id', 'certificates.status'])
    .where('app_certificates.app_id', 'in', [...appIds])
    .orderBy('app_certificates.created_at', 'asc')
    .execute();
}
