import { randomUUID } from 'node:crypto';
import { type Database, type Db, type IssuanceJobRow, lockNames } from '@gatehouse/db';
import type { ChallengePreference, IssuanceReason, IssueErrorKind, KeyType } from '@gatehouse/events';
import { currentTraceHeaders } from '@gatehouse/telemetry';
import { sql, type Transaction } from 'kysely';

export const openJobStatuses = ['queued', 'running', 'deferred'] as const;

export interface JobRequest {
  certificateId: string;
  reason: IssuanceReason;
  challenge: ChallengePreference;
  keyType: KeyType;
  /** The domain's ACME profile; undefined/null: the installation's default. */
  profile?: string | null | undefined;
}

/** What a request did: queued a new job, joined the certificate's open one, or found no such certificate. */
export type EnqueueOutcome = 'created' | 'joined' | 'no-certificate';

/**
 * Queues issuance for a certificate in the caller's transaction. A certificate has at most one
 * open job; a second request while one is open joins it. The job is inserted from the certificate's
 * row (its `names_key`), so reading the certificate and queueing are one statement: `no-certificate`
 * means nothing was written by it, and the caller decides what an unknown certificate means.
 *
 * A manual request starts fresh: an open job that is waiting (queued or deferred on the retry
 * ladder, no lease) is closed as `superseded` and replaced by a new manual job, due now, with its
 * attempt count and give-up clock (`created_at`) at zero, and the certificate's persisted ladder
 * (`failure_count`, `next_retry_at`) is reset. A job that is running keeps running: it is ordering
 * already, and the request joins it. (For `no-certificate` the supersede touched nothing: a job row
 * cannot outlive its certificate.)
 */
export async function enqueueIssuance(
  trx: Transaction<Database>,
  request: JobRequest,
): Promise<EnqueueOutcome> {
  const now = new Date();
  if (request.reason === 'manual') {
    await trx
      .updateTable('issuance_jobs')
      .set({ status: 'superseded', lease_holder: null, lease_expires_at: null, updated_at: now })
      .where('certificate_id', '=', request.certificateId)
      .where('status', 'in', ['queued', 'deferred'])
      .execute();
  }
  const { certificate_found, created } = await trx
    .with('certificate', (db) =>
      db.selectFrom('certificates').select(['id', 'names_key']).where('id', '=', request.certificateId),
    )
    .with('job', (db) =>
      db
        .insertInto('issuance_jobs')
        .columns([
          'id',
          'certificate_id',
          'names_key',
          'reason',
          'challenge',
          'key_type',
          'profile',
          'status',
          'trace_headers',
        ])
        .expression((eb) =>
          eb
            .selectFrom('certificate')
            .select([
              sql<string>`${randomUUID()}::uuid`.as('id'),
              'certificate.id',
              'certificate.names_key',
              sql<string>`${request.reason}::text`.as('reason'),
              sql<string>`${request.challenge}::text`.as('challenge'),
              sql<string>`${request.keyType}::text`.as('key_type'),
              sql<string | null>`${request.profile ?? null}::text`.as('profile'),
              sql<string>`'queued'`.as('status'),
              sql<string>`${JSON.stringify(currentTraceHeaders())}::jsonb`.as('trace_headers'),
            ]),
        )
        .onConflict((conflict) =>
          conflict
            .column('certificate_id')
            .where('status', 'in', [...openJobStatuses])
            .doNothing(),
        )
        .returning('id'),
    )
    .selectNoFrom((eb) => [
      eb.exists(eb.selectFrom('certificate').select('id')).as('certificate_found'),
      eb.exists(eb.selectFrom('job').select('id')).as('created'),
    ])
    .executeTakeFirstOrThrow();
  if (!certificate_found) return 'no-certificate';
  if (!created) return 'joined';
  if (request.reason === 'manual') {
    await trx
      .updateTable('certificates')
      .set({ failure_count: 0, next_retry_at: null, updated_at: now })
      .where('id', '=', request.certificateId)
      .execute();
  }
  return 'created';
}

/**
 * Claims up to `limit` due jobs for `holder` with a lease. Never two live leases for one name set:
 * candidates are locked with SKIP LOCKED and each name set with an advisory lock, then re-checked
 * for a live lease held elsewhere (check → lock → check again), all in one database function
 * (migration 0017), so a claim is one round trip. An expired lease (a crashed replica) is claimable:
 * its job resumes from the order it persisted.
 */
export async function claimDueJobs(
  db: Db,
  holder: string,
  limit: number,
  leaseMs: number,
): Promise<IssuanceJobRow[]> {
  if (limit <= 0) return [];
  const now = new Date();
  const { rows } = await sql<IssuanceJobRow>`
    select * from gatehouse_claim_issuance_jobs(${holder}, ${limit}, ${[...openJobStatuses]}::text[],
      ${lockNames.issuance('')}, ${now}, ${new Date(now.getTime() + leaseMs)})`.execute(db);
  return rows;
}

/** Extends a lease while work goes on; false when the lease was lost (then the work MUST stop). */
export async function renewLease(db: Db, jobId: string, holder: string, leaseMs: number): Promise<boolean> {
  const result = await db
    .updateTable('issuance_jobs')
    .set({ lease_expires_at: new Date(Date.now() + leaseMs) })
    .where('id', '=', jobId)
    .where('lease_holder', '=', holder)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Gives back jobs this holder claimed but never started: claimable again at once, not when their lease lapses. */
export async function releaseLeases(db: Db, jobIds: readonly string[], holder: string): Promise<void> {
  if (jobIds.length === 0) return;
  await db
    .updateTable('issuance_jobs')
    .set({ lease_holder: null, lease_expires_at: null })
    .where('id', 'in', [...jobIds])
    .where('lease_holder', '=', holder)
    .where('status', '=', 'running')
    .execute();
}

/** A job that ended well: done, its lease released, no deferral. */
export function doneJobColumns(now: Date) {
  return {
    status: 'done' as const,
    lease_holder: null,
    lease_expires_at: null,
    deferred_reason: null,
    updated_at: now,
  };
}

export async function finishJob(
  trx: Transaction<Database> | Db,
  jobId: string,
  outcome:
    | { status: 'done' }
    | { status: 'failed'; kind: IssueErrorKind; message: string }
    | {
        status: 'deferred';
        until: Date;
        reason: string;
        kind?: IssueErrorKind;
        message?: string;
        countAttempt: boolean;
      },
): Promise<void> {
  const now = new Date();
  await trx
    .updateTable('issuance_jobs')
    .set((eb) => ({
      status: outcome.status,
      lease_holder: null,
      lease_expires_at: null,
      updated_at: now,
      ...(outcome.status === 'deferred'
        ? {
            next_attempt_at: outcome.until,
            deferred_reason: outcome.reason,
            attempt: outcome.countAttempt ? eb('attempt', '+', 1) : eb.ref('attempt'),
          }
        : { deferred_reason: null }),
      ...(outcome.status === 'failed' || (outcome.status === 'deferred' && outcome.kind)
        ? { last_error_kind: outcome.kind ?? null, last_error_message: outcome.message ?? null }
        : {}),
    }))
    .where('id', '=', jobId)
    .execute();
}
