import type {
  CertificateRow,
  CertificateStatus,
  Database,
  OrderAttemptsTable,
  PreflightResult,
} from '@gatehouse/db';
import type { KeyType } from '@gatehouse/events';
import { assertNever } from '@gatehouse/runtime';
import type { Kysely, Selectable, SelectQueryBuilder, Transaction } from 'kysely';
import { sql } from 'kysely';

type Queryable = Kysely<Database> | Transaction<Database>;

/** Statuses in which a certificate is, or is about to be, servable: one of these is reused, not re-ordered. */
export const reusableStatuses = ['valid', 'pending', 'renewing'] as const;

/**
 * An ACME (or, with `source`, local CA) certificate for exactly this name set (`names_key`, see namesKey) that
 * is valid or on its way (pending, renewing), newest first; undefined when a new one must be requested. Custom
 * and fallback certificates are never picked: an app's domains get a certificate of their own.
 */
export async function findReusableCertificate(
  db: Queryable,
  key: string,
  keyType: KeyType,
  source: 'acme' | 'local-ca' = 'acme',
): Promise<Pick<CertificateRow, 'id' | 'status'> | undefined> {
  return db
    .selectFrom('certificates')
    .select(['id', 'status'])
    .where('names_key', '=', key)
    .where('key_type', '=', keyType)
    .where('source', '=', source)
    .where('status', 'in', [...reusableStatuses])
    .orderBy(sql`case status when 'valid' then 0 else 1 end`)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/**
 * The ACME profile the certificate's latest request (not a renewal) asked for, as cert-issuer keeps it for
 * renewals; null for none, also when nothing was requested yet.
 */
export async function findRequestedProfile(db: Queryable, certificateId: string): Promise<string | null> {
  const job = await db
    .selectFrom('issuance_jobs')
    .select('profile')
    .where('certificate_id', '=', certificateId)
    .where('reason', '<>', 'renewal')
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return job?.profile ?? null;
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
  keyType: KeyType,
): Promise<Array<Pick<CertificateRow, 'id' | 'names'>>> {
  if (candidates.length === 0) return [];
  // A released certificate is not renewed; the share lock orders this link against a release (lockAppCertificates).
  return db
    .selectFrom('certificates')
    .select(['id', 'names'])
    .where('key_type', '=', keyType)
    .where(sql<boolean>`names && ${sql.val([...candidates])}::text[]`)
    .where('source', 'in', ['acme', 'custom'])
    .where('status', '=', 'valid')
    .where('not_after', '>', validUntil)
    .where('released_at', 'is', null)
    .orderBy('not_after', 'desc')
    .orderBy('id', 'asc')
    .forShare()
    .execute();
}

export async function insertPendingCertificate(
  trx: Transaction<Database>,
  certificate: {
    id: string;
    names: string[];
    namesKey: string;
    keyType: KeyType;
    source?: 'acme' | 'local-ca';
  },
): Promise<void> {
  await trx
    .insertInto('certificates')
    .values({
      id: certificate.id,
      names: certificate.names,
      names_key: certificate.namesKey,
      key_type: certificate.keyType,
      status: 'pending',
      source: certificate.source ?? 'acme',
    })
    .execute();
}

/** The columns the API shows; never the chain or the private key. */
const publicColumns = [
  'certificates.id',
  'certificates.names',
  'certificates.status',
  'certificates.source',
  'certificates.issuer',
  'certificates.key_type',
  'certificates.not_before',
  'certificates.not_after',
  'certificates.renew_at',
  'certificates.renew_reason',
  'certificates.last_error_kind',
  'certificates.last_error_message',
  'certificates.last_error_at',
  'certificates.failure_count',
  'certificates.next_retry_at',
  'certificates.profile',
  'certificates.released_at',
] as const;
type PublicColumn = (typeof publicColumns)[number] extends `certificates.${infer C}` ? C : never;
export type PublicCertificateRow = Pick<CertificateRow, PublicColumn> & {
  /** The newest issuance job's reason (`new`, `renewal`, `manual`, …) and when it runs next, if it is open. */
  job_reason: string | null;
  job_next_attempt_at: Date | null;
};

/** The orders `GET /v1/certificates` offers; each has a keyset index (migration 0007). */
export const certificateSorts = ['created', 'expiry'] as const;
export type CertificateSort = (typeof certificateSorts)[number];

export interface CertificateFilter {
  status?: CertificateStatus;
  /** Certificates covering this normalized name: listing it, or a wildcard one label above it. */
  coveringName?: { name: string; wildcard?: string };
  /** Certificates linked to the app with this name. */
  app?: string;
  /** A case-insensitive part of one of the names. */
  search?: string;
}

/** The sort key of each order, as SQL; `expiry` puts never-issued certificates last. */
function sortKey(sort: CertificateSort) {
  switch (sort) {
    case 'created':
      return sql<Date>`certificates.created_at`;
    case 'expiry':
      return sql<Date>`coalesce(certificates.not_after, 'infinity'::timestamptz)`;
    default:
      return assertNever(sort);
  }
}

/** A cursor key as this list writes it: Postgres' text of a timestamptz (or `infinity`) and the row's uuid. */
export function isCertificateCursorKey(values: readonly string[]): boolean {
  return (
    values.length === 2 &&
    /^(infinity|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d)?)$/.test(values[0]!) &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(values[1]!)
  );
}

/**
 * One page of certificates in the given order, starting after `after` (the `[sortKey, id]` of the previous
 * page's last row), at most `limit` rows (the caller asks for one more to learn whether a next page exists).
 * Keyset on `(key, id)`: the indexes of migration 0007 serve it, so every page costs the same.
 */
export async function listCertificates(
  db: Queryable,
  filter: CertificateFilter,
  page: { sort: CertificateSort; limit: number; after?: readonly string[] | undefined },
): Promise<Array<PublicCertificateRow & { sort_key: string }>> {
  const key = sortKey(page.sort);
  let query = withJob(db.selectFrom('certificates')).select([
    ...publicColumns,
    sql<string>`${key}::text`.as('sort_key'),
  ]);
  if (filter.status !== undefined) query = query.where('certificates.status', '=', filter.status);
  if (filter.coveringName !== undefined) {
    const candidates = [filter.coveringName.name];
    if (filter.coveringName.wildcard !== undefined) candidates.push(filter.coveringName.wildcard);
    // `&&` (overlap) uses the GIN index on names.
    query = query.where(sql<boolean>`certificates.names && ${sql.val(candidates)}::text[]`);
  }
  if (filter.app !== undefined) {
    const app = filter.app;
    query = query.where('certificates.id', 'in', (eb) =>
      eb
        .selectFrom('app_certificates')
        .innerJoin('apps', 'apps.id', 'app_certificates.app_id')
        .select('app_certificates.certificate_id')
        .where('apps.name', '=', app),
    );
  }
  if (filter.search !== undefined) {
    const pattern = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where(sql<boolean>`array_to_string(certificates.names, ' ') ilike ${pattern}`);
  }
  if (page.after !== undefined) {
    const [afterKey, afterId] = page.after;
    query = query.where(
      sql<boolean>`(${key}, certificates.id) > (${afterKey}::timestamptz, ${afterId}::uuid)`,
    );
  }
  return query.orderBy(key).orderBy('certificates.id').limit(page.limit).execute();
}

export async function findCertificateById(
  db: Queryable,
  id: string,
): Promise<PublicCertificateRow | undefined> {
  return withJob(db.selectFrom('certificates'))
    .select(publicColumns)
    .where('certificates.id', '=', id)
    .executeTakeFirst();
}

/** Joins the newest issuance job of each certificate (reason, next run), for why and when it renews. */
function withJob(query: SelectQueryBuilder<Database, 'certificates', object>) {
  return query
    .leftJoinLateral(
      (eb) =>
        eb
          .selectFrom('issuance_jobs')
          .select([
            'issuance_jobs.reason as job_reason',
            sql<Date | null>`case when issuance_jobs.status in ('queued', 'running', 'deferred')
              then issuance_jobs.next_attempt_at end`.as('job_next_attempt_at'),
          ])
          .whereRef('issuance_jobs.certificate_id', '=', 'certificates.id')
          .orderBy('issuance_jobs.created_at', 'desc')
          .limit(1)
          .as('job'),
      (join) => join.onTrue(),
    )
    .select(['job.job_reason', 'job.job_next_attempt_at']);
}

/** The stored chain PEM (public certificates only, leaf first); undefined for an unknown id. */
export async function findCertificateChain(
  db: Queryable,
  id: string,
): Promise<{ chain_pem: string | null } | undefined> {
  return db.selectFrom('certificates').select('chain_pem').where('id', '=', id).executeTakeFirst();
}

/** Preflight results as cert-issuer stored them (DNS, CAA, HTTP-01 self-check per name) and when. */
export async function findPreflight(
  db: Queryable,
  id: string,
): Promise<{ results: PreflightResult[]; checkedAt: Date } | undefined> {
  const row = await db
    .selectFrom('certificates')
    .select(['preflight', 'preflight_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row?.preflight || !row.preflight_at) return undefined;
  return { results: row.preflight, checkedAt: row.preflight_at };
}

/** The newest issuance job of a certificate (cert-issuer's queue row): why, its state, when it runs next. */
export async function findLatestJob(
  db: Queryable,
  certificateId: string,
): Promise<
  | {
      reason: string;
      status: string;
      challenge: string;
      profile: string | null;
      attempt: number;
      next_attempt_at: Date;
      deferred_reason: string | null;
      created_at: Date;
      updated_at: Date;
    }
  | undefined
> {
  return db
    .selectFrom('issuance_jobs')
    .select([
      'reason',
      'status',
      'challenge',
      'profile',
      'attempt',
      'next_attempt_at',
      'deferred_reason',
      'created_at',
      'updated_at',
    ])
    .where('certificate_id', '=', certificateId)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** The names of the apps that use a certificate. */
export async function listCertificateApps(db: Queryable, id: string): Promise<string[]> {
  const rows = await db
    .selectFrom('app_certificates')
    .innerJoin('apps', 'apps.id', 'app_certificates.app_id')
    .select('apps.name')
    .where('app_certificates.certificate_id', '=', id)
    .orderBy('apps.name')
    .execute();
  return rows.map((row) => row.name);
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
