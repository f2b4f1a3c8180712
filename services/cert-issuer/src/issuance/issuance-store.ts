import { randomUUID } from 'node:crypto';
import type { CertificateRow, Db, IssuanceJobRow, PreflightResult } from '@gatehouse/db';
import type { Envelope } from '@gatehouse/events';
import { enqueue, outboxRows, outboxWakeUp } from '@gatehouse/messaging';
import type { CertificateFacts, SecretBox } from '@gatehouse/pki';
import { sql } from 'kysely';
import type { IssueError } from '../acme/issue-error.ts';
import type { ChallengeType } from '../acme/issuer.ts';
import type { AttemptStep } from './attempt-plan.ts';
import { issuedCertificateColumns } from './issued-certificate-columns.ts';
import { doneJobColumns, finishJob } from './job-queue.ts';

/**
 * Everything an issuance round writes to Postgres: order checkpoints (so a crash resumes the order instead of
 * placing another), attempts, preflight results and the round's outcome with its event (outbox, one
 * transaction). No policy here: the round decides, this records.
 */

/** An order placed earlier for this certificate at one CA that may still be finished (a crashed run). */
export interface OpenOrder {
  orderId: string;
  orderUrl: string;
  /** The certificate key made for it, once made (opened from its sealed column). */
  keyPem: string | undefined;
}

export async function findOpenOrder(
  db: Db,
  box: SecretBox,
  certificateId: string,
  directoryUrl: string,
): Promise<OpenOrder | undefined> {
  const order = await db
    .selectFrom('orders')
    .select(['id', 'order_url', 'key_encrypted'])
    .where('certificate_id', '=', certificateId)
    .where('directory_url', '=', directoryUrl)
    .where('status', '=', 'open')
    .where('order_url', 'is not', null)
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
  if (!order?.order_url) return undefined;
  return {
    orderId: order.id,
    orderUrl: order.order_url,
    keyPem: order.key_encrypted ? box.openText(order.key_encrypted, `order:${order.id}`) : undefined,
  };
}

/**
 * Saves (or advances) an order's checkpoint: its URL and, once made, its key (sealed). With `preflight`, the
 * certificate's preflight results are written in the same statement.
 */
export async function saveCheckpoint(
  db: Db,
  box: SecretBox,
  progress: {
    orderId: string;
    certificateId: string;
    directoryUrl: string;
    accountId: string;
    challenge: ChallengeType;
    orderUrl: string;
    keyPem?: string | undefined;
    preflight?: readonly PreflightResult[] | undefined;
  },
): Promise<void> {
  const keyEncrypted = progress.keyPem ? box.seal(progress.keyPem, `order:${progress.orderId}`) : null;
  const { preflight } = progress;
  await db
    // Without results to store, the CTE matches no row (one statement shape either way).
    .with('preflight', (db) =>
      preflightUpdate(db, progress.certificateId, preflight ?? [])
        .where(sql<boolean>`${preflight !== undefined}::boolean`)
        .returning('id'),
    )
    .insertInto('orders')
    .values({
      id: progress.orderId,
      certificate_id: progress.certificateId,
      directory_url: progress.directoryUrl,
      acme_account_id: progress.accountId,
      order_url: progress.orderUrl,
      status: 'open',
      challenge_type: progress.challenge,
      key_encrypted: keyEncrypted,
    })
    .onConflict((conflict) =>
      conflict.column('id').doUpdateSet({
        order_url: progress.orderUrl,
        updated_at: new Date(),
        ...(keyEncrypted ? { key_encrypted: keyEncrypted } : {}),
      }),
    )
    .execute();
}

/** An order the CA answered with a failure cannot be resumed. */
export async function markOrderInvalid(db: Db, orderId: string): Promise<void> {
  await db
    .updateTable('orders')
    .set({ status: 'invalid', updated_at: new Date() })
    .where('id', '=', orderId)
    .execute();
}

export async function recordPreflight(
  db: Db,
  certificateId: string,
  results: readonly PreflightResult[],
): Promise<void> {
  await preflightUpdate(db, certificateId, results).execute();
}

function preflightUpdate(
  db: Pick<Db, 'updateTable'>,
  certificateId: string,
  results: readonly PreflightResult[],
) {
  return db
    .updateTable('certificates')
    .set({ preflight: JSON.stringify(results), preflight_at: new Date() })
    .where('id', '=', certificateId);
}

/** The identity and timing columns of an `order_attempts` row that ends `now`. */
export function attemptTiming(startedAt: Date, now: Date) {
  return {
    id: randomUUID(),
    started_at: startedAt,
    finished_at: now,
    duration_ms: now.getTime() - startedAt.getTime(),
  };
}

/** A failed attempt (one step of a round), for the certificate's history. */
export async function recordAttempt(
  db: Db,
  attempt: {
    certificate: CertificateRow;
    step: AttemptStep;
    accountId: string | null;
    orderId: string | null;
    startedAt: Date;
    error: IssueError;
  },
): Promise<void> {
  const now = new Date();
  await db
    .insertInto('order_attempts')
    .values({
      ...attemptTiming(attempt.startedAt, now),
      certificate_id: attempt.certificate.id,
      order_id: null,
      directory_url: attempt.step.directoryUrl,
      acme_account_id: attempt.accountId,
      challenge_type: attempt.step.challenge,
      outcome: 'failure',
      error_kind: attempt.error.kind,
      error_message: attempt.error.message.slice(0, 2_000),
      problem_type: attempt.error.problemType ?? null,
    })
    .execute();
}

/** A staging trial that issued (its certificate is thrown away). */
export async function recordStagingSuccess(
  db: Db,
  trial: {
    certificateId: string;
    directoryUrl: string;
    accountId: string;
    challenge: ChallengeType;
    startedAt: Date;
  },
): Promise<void> {
  const now = new Date();
  await db
    .insertInto('order_attempts')
    .values({
      ...attemptTiming(trial.startedAt, now),
      certificate_id: trial.certificateId,
      directory_url: trial.directoryUrl,
      acme_account_id: trial.accountId,
      challenge_type: trial.challenge,
      outcome: 'staging-success',
    })
    .execute();
}

/**
 * Stores an issued certificate and ends its job in one statement (data-modifying CTEs, so atomic without a
 * transaction of its own): the certificate (chain, sealed key, dates, errors cleared), the order valid, the job
 * done, the successful attempt and `event` in the outbox with the relay's wake-up. The job's slot is busy until
 * this commits, and every round trip here is time no order runs in it.
 */
export async function storeIssued(
  db: Db,
  box: SecretBox,
  issued: {
    job: IssuanceJobRow;
    certificate: CertificateRow;
    step: AttemptStep;
    chainPem: string;
    keyPem: string;
    facts: CertificateFacts;
    accountId: string;
    orderId: string;
    startedAt: Date;
    /** The ACME profile the order carried; null: the CA's default. */
    profile: string | null;
    event: Envelope;
  },
): Promise<void> {
  const { facts, certificate } = issued;
  const now = new Date();
  await db
    .with('certificate', (db) =>
      db
        .updateTable('certificates')
        .set({
          ...issuedCertificateColumns({
            certificateId: certificate.id,
            source: 'acme',
            issuer: issued.step.directoryUrl,
            accountId: issued.accountId,
            chainPem: issued.chainPem,
            keyPem: issued.keyPem,
            facts,
            box,
            now,
          }),
          profile: issued.profile,
        })
        .where('id', '=', certificate.id)
        .returning('id'),
    )
    .with('order', (db) =>
      db
        .updateTable('orders')
        .set({ status: 'valid', updated_at: now })
        .where('id', '=', issued.orderId)
        .returning('id'),
    )
    .with('job', (db) =>
      db
        .updateTable('issuance_jobs')
        .set(doneJobColumns(now))
        .where('id', '=', issued.job.id)
        .returning('id'),
    )
    .with('attempt', (db) =>
      db
        .insertInto('order_attempts')
        .values({
          ...attemptTiming(issued.startedAt, now),
          certificate_id: certificate.id,
          order_id: issued.orderId,
          directory_url: issued.step.directoryUrl,
          acme_account_id: issued.accountId,
          challenge_type: issued.step.challenge,
          outcome: 'success',
        })
        .returning('id'),
    )
    .with('queued', (db) => db.insertInto('outbox').values(outboxRows([issued.event])))
    .selectNoFrom(outboxWakeUp.as('notified'))
    .execute();
}

/** Every CA's budget is spent: the job waits for the refill without counting an attempt. */
export async function deferForRateLimit(
  db: Db,
  jobId: string,
  certificateId: string,
  refill: { at: Date; reason: string },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await finishJob(trx, jobId, {
      status: 'deferred',
      until: refill.at,
      reason: refill.reason,
      countAttempt: false,
    });
    await trx
      .updateTable('certificates')
      .set({
        last_error_kind: 'rate-limited',
        last_error_message: refill.reason,
        last_error_at: new Date(),
        next_retry_at: refill.at,
        updated_at: new Date(),
      })
      .where('id', '=', certificateId)
      .execute();
  });
}

/**
 * Records a failed round in one transaction: the certificate's error (a certificate that was valid keeps
 * serving; only one that never was is marked failed), the job deferred to `retryAt` or failed (null), and the
 * event `eventFor` builds from the certificate's new failure count.
 */
export async function recordRoundFailure(
  db: Db,
  round: {
    job: IssuanceJobRow;
    certificate: CertificateRow;
    error: IssueError;
    retryAt: Date | null;
    eventFor: (failureCount: number) => Envelope;
  },
): Promise<void> {
  const { certificate, error, retryAt } = round;
  const kind = error.kind;
  const now = new Date();
  await db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('certificates')
      .set((eb) => ({
        status: certificate.chain_pem ? certificate.status : 'failed',
        failure_count: eb('failure_count', '+', 1),
        next_retry_at: retryAt,
        last_error_kind: kind,
        last_error_message: error.message.slice(0, 2_000),
        last_error_at: now,
        updated_at: now,
      }))
      .where('id', '=', certificate.id)
      .returning('failure_count')
      .executeTakeFirstOrThrow();
    if (retryAt) {
      await finishJob(trx, round.job.id, {
        status: 'deferred',
        until: retryAt,
        reason: `retry after ${kind} failure`,
        kind,
        message: error.message,
        countAttempt: true,
      });
    } else {
      await finishJob(trx, round.job.id, { status: 'failed', kind, message: error.message });
    }
    await enqueue(trx, round.eventFor(updated.failure_count));
  });
}
