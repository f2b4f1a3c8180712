import { randomUUID } from 'node:crypto';
import type { CertificateRow, Db, IssuanceJobRow, PreflightResult } from '@gatehouse/db';
import { certsIssued, certsIssueFailed, createEvent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import {
  ariCertId,
  certificateFacts,
  certificateKeyContext,
  keyMatchesCertificate,
  lifetimeRenewAt,
  qualifiesForAcmeOrder,
  type SecretBox,
  splitCertificateChain,
} from '@gatehouse/pki';
import { contextFromHeaders, type Logger, withSpan } from '@gatehouse/telemetry';

import { IssueError, type IssueErrorKind } from '../acme/issue-error.ts';
import type { ChallengeSolver, ChallengeType, IssuedCertificate, Issuer, KeyType } from '../acme/issuer.ts';
import type { Dns01Solver } from '../challenges/dns01-solver.ts';
import { issueFromLocalCa } from '../local-ca/issue-from-local-ca.ts';
import { issuanceMetrics } from '../metrics.ts';
import { type AttemptStep, challengeOrder, decideAfterFailure, planRound } from './attempt-plan.ts';
import { holdFromAcme, namesHeldFromAcme } from './held-from-acme.ts';
import { finishJob } from './job-queue.ts';
import { chooseProfile } from './profile-choice.ts';
import { giveUpAfterMs, retryDelayMs } from './retry-ladder.ts';

/** Whether and when an order may be placed, from the rate-limit ledger. */
export type BudgetDecision =
  | {
      allowed: true;
      /**
       * Hands back what an attempt did not use: `not-ordered` (the order never reached the CA) returns every
       * slot, `not-issued` (the CA took the order, no certificate came of it) the certificate budgets.
       */
      release?: (outcome: 'not-ordered' | 'not-issued') => Promise<void>;
    }
  | { allowed: false; retryAt: Date; reason: string };

export interface IssuanceDeps {
  db: Db;
  box: SecretBox;
  logger: Logger;
  /** CA directories in fallback order. */
  directoryUrls: readonly string[];
  /**
   * A staging CA to prove a fix on before production is tried again (Caddy's approach): after a
   * failed round, the next round first orders a throw-away certificate from staging, and only
   * when that succeeds spends the production CA's budget.
   */
  stagingDirectoryUrl?: string | undefined;
  /** The issuer (with its account) for a directory; may throw a classified IssueError. */
  issuerFor(directoryUrl: string): Promise<{ issuer: Issuer; accountId: string; accountUrl: string }>;
  /** Drops an account the CA no longer knows, so the next attempt registers again. */
  forgetAccount(directoryUrl: string): Promise<void>;
  solvers: { 'http-01': ChallengeSolver; 'dns-01'?: Dns01Solver | undefined };
  /** Preflight for the names before an order; `ok: false` defers instead of ordering. */
  preflight(
    names: string[],
    challenge: ChallengeType,
    issuer: Issuer,
  ): Promise<{ ok: boolean; results: PreflightResult[]; blocking: PreflightResult[] }>;
  /** Reserves the CA's budgets for one new order (new orders, certificates per domain, duplicates). */
  reserveOrderBudget(
    directoryUrl: string,
    accountUrl: string,
    names: string[],
    namesKey: string,
  ): Promise<BudgetDecision>;
  /** Counts failed authorizations (they have a budget of their own at the CA). */
  recordFailedAuthorizations(directoryUrl: string, accountUrl: string, names: string[]): Promise<void>;
  /** Waits for room in the account's ACME request budget (called before each ACME request). */
  throttleRequest(directoryUrl: string, accountUrl: string, signal?: AbortSignal): Promise<void>;
  /** Checks the failed-authorization budget before ordering. */
  checkFailedAuthorizationBudget(
    directoryUrl: string,
    accountUrl: string,
    names: string[],
  ): Promise<BudgetDecision>;
  quickRetryDelayMs: number;
  retryLadderMs: readonly number[];
  /** The certificate profile to order where the CA offers it (ACME_PROFILE); a job's own profile wins. */
  profile?: string | undefined;
  /** Source name for events. */
  source: string;
  /** Stops work when the lease is lost or the service drains. */
  signal: AbortSignal;
  /**
   * Called once the CA work of the job is over and only storing the certificate is left, so the worker
   * can claim the next job meanwhile (the slot limits orders at the CA, not database writes).
   */
  onOrderDone?: (() => void) | undefined;
}

/**
 * One round of issuance for a claimed job: check again → qualify names → per step: budgets →
 * preflight → order → persist at once. Ends the job as done, failed (policy: never retried) or
 * deferred (retry ladder or rate-limit refill), and emits `certs.issued` / `certs.issue-failed`.
 */
export async function processJob(job: IssuanceJobRow, deps: IssuanceDeps): Promise<void> {
  await withSpan(
    'issue certificate',
    {
      parent: contextFromHeaders(job.trace_headers),
      attributes: { 'gatehouse.certificate_id': job.certificate_id },
    },
    () => processJobInSpan(job, deps),
  );
}

async function processJobInSpan(job: IssuanceJobRow, deps: IssuanceDeps): Promise<void> {
  const { db, logger } = deps;
  const log = logger.child({ cert_id: job.certificate_id, job_id: job.id });
  const certificate = await db
    .selectFrom('certificates')
    .selectAll()
    .where('id', '=', job.certificate_id)
    .executeTakeFirst();
  if (!certificate) {
    await finishJob(db, job.id, {
      status: 'failed',
      kind: 'internal',
      message: 'the certificate no longer exists',
    });
    return;
  }
  const names = certificate.names;

  // Check again: another run may have issued it since the request (a duplicate request, a crash).
  if (job.reason !== 'manual' && hasCurrentCertificate(certificate)) {
    log.info('certificate already valid, nothing to order');
    await finishJob(db, job.id, { status: 'done' });
    return;
  }

  // The issuer follows the domain's mode (issue 15): the local CA signs its own certificates; a domain in another
  // mode than acme never has its old ACME certificate renewed. IP addresses may go to ACME (RFC 8738).
  if (certificate.source === 'local-ca') return issueFromLocalCa(job, certificate, deps);
  const held = await namesHeldFromAcme(db, names);
  if (held.length > 0) return holdFromAcme(db, job, certificate, held, log);

  for (const name of names) {
    const verdict = qualifiesForAcmeOrder(name);
    if (!verdict.ok) return fail(job, certificate, deps, new IssueError('policy', verdict.reason), null);
  }

  // Wildcards and dns-01 domains always plan DNS-01 (a missing provider then fails its round, and the
  // retry ladder picks up a provider added later); `auto` adds it only when a provider covers every name.
  const dnsSolver = deps.solvers['dns-01'];
  const preference = job.challenge as 'http-01' | 'dns-01' | 'auto';
  const needsDns = preference === 'dns-01' || names.some((name) => name.startsWith('*.'));
  const dnsAvailable =
    dnsSolver !== undefined && (needsDns || (preference === 'auto' && (await dnsSolver.covers(names))));
  const challenges = challengeOrder(names, preference, dnsAvailable);
  if ('error' in challenges)
    return fail(job, certificate, deps, new IssueError('policy', challenges.error), null);

  if (deps.stagingDirectoryUrl && job.attempt > 0) {
    const trial = await stagingTrial(deps.stagingDirectoryUrl, challenges[0]!, certificate, deps, log);
    if (trial) {
      const retryAt = new Date(Date.now() + retryDelayMs(job.attempt + 1, deps.retryLadderMs));
      return fail(job, certificate, deps, trial, retryAt);
    }
  }

  let lastError: IssueError | undefined;
  let earliestRefill: { at: Date; reason: string } | undefined;
  const skippedCas = new Set<string>();
  const skippedChallenges = new Set<ChallengeType>();
  for (const step of planRound(deps.directoryUrls, challenges)) {
    if (deps.signal.aborted) return; // Lease lost or draining: the job stays claimable and resumes.
    if (skippedCas.has(step.directoryUrl) || skippedChallenges.has(step.challenge)) continue;
    if (step.quickRetry) {
      await new Promise((resolve) => setTimeout(resolve, deps.quickRetryDelayMs));
    }
    const outcome = await attempt(step, job, certificate, deps, log);
    if (outcome.kind === 'issued') return;
    if (outcome.kind === 'budget') {
      if (!earliestRefill || outcome.retryAt < earliestRefill.at)
        earliestRefill = { at: outcome.retryAt, reason: outcome.reason };
      skippedCas.add(step.directoryUrl);
      continue;
    }
    lastError = outcome.error;
    // No CA can help this challenge type until DNS or routing is fixed; another type (auto: DNS-01 after
    // HTTP-01) may still work.
    if (outcome.kind === 'preflight') {
      skippedChallenges.add(step.challenge);
      continue;
    }
    const decision = decideAfterFailure(outcome.error.kind, step);
    if (decision === 'abandon') return fail(job, certificate, deps, outcome.error, null);
    if (decision === 'next-ca') skippedCas.add(step.directoryUrl);
  }

  if (!lastError && earliestRefill) {
    // Every CA's budget is spent: wait for the refill, without an attempt against the CA.
    log.warn(
      { retry_at: earliestRefill.at.toISOString(), reason: earliestRefill.reason },
      'issuance deferred by rate limit',
    );
    await db.transaction().execute(async (trx) => {
      await finishJob(trx, job.id, {
        status: 'deferred',
        until: earliestRefill.at,
        reason: earliestRefill.reason,
        countAttempt: false,
      });
      await trx
        .updateTable('certificates')
        .set({
          last_error_kind: 'rate-limited',
          last_error_message: earliestRefill.reason,
          last_error_at: new Date(),
          next_retry_at: earliestRefill.at,
          updated_at: new Date(),
        })
        .where('id', '=', certificate.id)
        .execute();
    });
    issuanceMetrics.rounds.inc({ outcome: 'rate-limited', error_kind: 'rate-limited' });
    return;
  }
  const failure = lastError ?? new IssueError('internal', 'no issuance step could run');
  const failedRounds = job.attempt + 1;
  const firstFailure = job.created_at.getTime();
  const retryAt =
    Date.now() - firstFailure > giveUpAfterMs
      ? null
      : new Date(Date.now() + retryDelayMs(failedRounds, deps.retryLadderMs));
  return fail(job, certificate, deps, failure, retryAt);
}

type AttemptOutcome =
  | { kind: 'issued' }
  | { kind: 'budget'; retryAt: Date; reason: string }
  | { kind: 'preflight'; error: IssueError }
  | { kind: 'failed'; error: IssueError };

async function attempt(
  step: AttemptStep,
  job: IssuanceJobRow,
  certificate: CertificateRow,
  deps: IssuanceDeps,
  log: Logger,
): Promise<AttemptOutcome> {
  const { db } = deps;
  const startedAt = new Date();
  let accountId: string | null = null;
  let orderId: string | null = null;
  let reservation: Extract<BudgetDecision, { allowed: true }> | undefined;
  let orderCreated = false;
  try {
    const { issuer, accountId: account, accountUrl } = await deps.issuerFor(step.directoryUrl);
    accountId = account;

    const failedAuthz = await deps.checkFailedAuthorizationBudget(
      step.directoryUrl,
      accountUrl,
      certificate.names,
    );
    if (!failedAuthz.allowed)
      return { kind: 'budget', retryAt: failedAuthz.retryAt, reason: failedAuthz.reason };

    const resume = await findOpenOrder(db, deps.box, certificate.id, step.directoryUrl);
    if (!resume) {
      // Providers and credentials first: a wrong DNS secret must not cost an order at the CA.
      if (step.challenge === 'dns-01') await deps.solvers['dns-01']?.prepare(certificate.names);
      const preflight = await deps.preflight(certificate.names, step.challenge, issuer);
      await db
        .updateTable('certificates')
        .set({ preflight: JSON.stringify(preflight.results), preflight_at: new Date() })
        .where('id', '=', certificate.id)
        .execute();
      if (!preflight.ok) {
        const detail = preflight.blocking.map((result) => result.detail).join('; ');
        const error = new IssueError('preflight', `preflight failed, no order placed: ${detail}`);
        await recordAttempt(db, { certificate, step, accountId, orderId, startedAt, error });
        return { kind: 'preflight', error };
      }
      const budget = await deps.reserveOrderBudget(
        step.directoryUrl,
        accountUrl,
        certificate.names,
        certificate.names_key,
      );
      if (!budget.allowed) return { kind: 'budget', retryAt: budget.retryAt, reason: budget.reason };
      reservation = budget;
    }
    orderId = resume?.orderId ?? randomUUID();
    const currentOrderId = orderId;
    const issued = await issuer.issue({
      names: certificate.names,
      keyType: certificate.key_type as KeyType,
      solver: deps.solvers[step.challenge]!,
      replaces: replacedCertificateId(certificate, step.directoryUrl, account, log),
      profile: chooseProfile({
        requested: job.profile,
        installationDefault: deps.profile,
        names: certificate.names,
        offered: (await issuer.facts()).profiles,
      }),
      resume: resume ? { orderUrl: resume.orderUrl, keyPem: resume.keyPem } : undefined,
      beforeRequest: () => deps.throttleRequest(step.directoryUrl, accountUrl, deps.signal),
      checkpoint: (progress) => {
        orderCreated = true;
        return saveCheckpoint(db, deps.box, {
          orderId: currentOrderId,
          certificateId: certificate.id,
          directoryUrl: step.directoryUrl,
          accountId: account,
          challenge: step.challenge,
          orderUrl: progress.orderUrl,
          keyPem: progress.keyPem,
        });
      },
    });
    await storeIssued(job, certificate, step, deps, { issued, accountId: account, orderId, startedAt });
    log.info(
      { directory_url: step.directoryUrl, challenge: step.challenge, profile: issued.profile ?? null },
      'certificate issued',
    );
    return { kind: 'issued' };
  } catch (caught) {
    const error =
      caught instanceof IssueError
        ? caught
        : new IssueError('internal', String((caught as Error)?.message ?? caught), { cause: caught });
    log.warn(
      { directory_url: step.directoryUrl, challenge: step.challenge, kind: error.kind, err: error.message },
      'issuance attempt failed',
    );
    await recordAttempt(db, { certificate, step, accountId, orderId, startedAt, error });
    await reservation?.release?.(orderCreated ? 'not-issued' : 'not-ordered');
    if (error.problemType?.endsWith(':accountDoesNotExist')) await deps.forgetAccount(step.directoryUrl);
    if (orderId && error.kind !== 'connection') {
      // The CA answered and the order failed: it cannot be resumed. After a connection error it may be.
      await db
        .updateTable('orders')
        .set({ status: 'invalid', updated_at: new Date() })
        .where('id', '=', orderId)
        .execute();
    }
    if ((error.kind === 'validation' || error.kind === 'dns') && accountId) {
      const { accountUrl } = await deps.issuerFor(step.directoryUrl);
      await deps.recordFailedAuthorizations(step.directoryUrl, accountUrl, certificate.names);
    }
    return { kind: 'failed', error };
  }
}

/** Orders a certificate from staging and throws it away; returns the failure, if any. */
async function stagingTrial(
  directoryUrl: string,
  challenge: ChallengeType,
  certificate: CertificateRow,
  deps: IssuanceDeps,
  log: Logger,
): Promise<IssueError | undefined> {
  const step: AttemptStep = { directoryUrl, challenge, quickRetry: false };
  const startedAt = new Date();
  let accountId: string | null = null;
  try {
    const { issuer, accountId: account, accountUrl } = await deps.issuerFor(directoryUrl);
    accountId = account;
    await issuer.issue({
      names: certificate.names,
      keyType: certificate.key_type as KeyType,
      solver: deps.solvers[challenge]!,
      checkpoint: async () => {},
      beforeRequest: () => deps.throttleRequest(directoryUrl, accountUrl, deps.signal),
    });
    const now = new Date();
    await deps.db
      .insertInto('order_attempts')
      .values({
        id: randomUUID(),
        certificate_id: certificate.id,
        directory_url: directoryUrl,
        acme_account_id: account,
        challenge_type: challenge,
        outcome: 'staging-success',
        started_at: startedAt,
        finished_at: now,
        duration_ms: now.getTime() - startedAt.getTime(),
      })
      .execute();
    log.info({ directory_url: directoryUrl }, 'staging trial succeeded, trying production');
    return undefined;
  } catch (caught) {
    const error =
      caught instanceof IssueError
        ? caught
        : new IssueError('internal', String((caught as Error)?.message ?? caught));
    await recordAttempt(deps.db, { certificate, step, accountId, orderId: null, startedAt, error });
    log.warn({ directory_url: directoryUrl, kind: error.kind, err: error.message }, 'staging trial failed');
    return error;
  }
}

/**
 * The ARI identifier of the certificate this order renews, only when that certificate came from the same
 * CA directory and the same ACME account (RFC 9773 §5: a CA can only link an order to a certificate it
 * issued to that account). A certificate whose identifier cannot be read is renewed without `replaces`.
 */
function replacedCertificateId(
  certificate: CertificateRow,
  directoryUrl: string,
  accountId: string,
  log: Logger,
): string | undefined {
  if (!certificate.chain_pem || certificate.issuer !== directoryUrl) return undefined;
  if (certificate.acme_account_id !== accountId) return undefined;
  try {
    return ariCertId(certificate.chain_pem);
  } catch (error) {
    log.warn({ err: (error as Error).message }, 'no ari identifier for the replaced certificate');
    return undefined;
  }
}

function hasCurrentCertificate(certificate: CertificateRow): boolean {
  const now = Date.now();
  return (
    certificate.status === 'valid' &&
    certificate.chain_pem !== null &&
    certificate.not_after !== null &&
    certificate.not_after.getTime() > now &&
    (certificate.renew_at === null || certificate.renew_at.getTime() > now)
  );
}

async function findOpenOrder(db: Db, box: SecretBox, certificateId: string, directoryUrl: string) {
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

async function saveCheckpoint(
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
  },
): Promise<void> {
  const keyEncrypted = progress.keyPem ? box.seal(progress.keyPem, `order:${progress.orderId}`) : null;
  await db
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

async function storeIssued(
  job: IssuanceJobRow,
  certificate: CertificateRow,
  step: AttemptStep,
  deps: IssuanceDeps,
  result: { issued: IssuedCertificate; accountId: string; orderId: string; startedAt: Date },
): Promise<void> {
  const chain = splitCertificateChain(result.issued.chainPem);
  const leaf = chain[0]!;
  if (!keyMatchesCertificate(leaf, result.issued.keyPem)) {
    throw new IssueError('ca-server', 'the CA returned a certificate that does not match our key');
  }
  const facts = certificateFacts(leaf);
  // Only database writes are left. Should they fail (Postgres down), the round goes on to its next step
  // while the worker may already run another job: one order above `concurrency` until this one ends.
  deps.onOrderDone?.();
  const now = new Date();
  await deps.db.transaction().execute(async (trx) => {
    // One statement for the four row changes (data-modifying CTEs): the job's slot is busy until this
    // commits, and every round trip here is time no order runs in it.
    await trx
      .with('certificate', (db) =>
        db
          .updateTable('certificates')
          .set({
            status: 'valid',
            issuer: step.directoryUrl,
            acme_account_id: result.accountId,
            serial: facts.serial,
            chain_pem: result.issued.chainPem,
            private_key_encrypted: deps.box.seal(result.issued.keyPem, certificateKeyContext(certificate.id)),
            not_before: facts.notBefore,
            not_after: facts.notAfter,
            renew_at: lifetimeRenewAt(facts.notBefore, facts.notAfter),
            renew_reason: 'lifetime',
            profile: result.issued.profile ?? null,
            failure_count: 0,
            next_retry_at: null,
            last_error_kind: null,
            last_error_message: null,
            last_error_at: null,
            updated_at: now,
          })
          .where('id', '=', certificate.id)
          .returning('id'),
      )
      .with('order', (db) =>
        db
          .updateTable('orders')
          .set({ status: 'valid', updated_at: now })
          .where('id', '=', result.orderId)
          .returning('id'),
      )
      .with('job', (db) =>
        db
          .updateTable('issuance_jobs')
          .set({
            status: 'done',
            lease_holder: null,
            lease_expires_at: null,
            deferred_reason: null,
            updated_at: now,
          })
          .where('id', '=', job.id)
          .returning('id'),
      )
      .insertInto('order_attempts')
      .values({
        id: randomUUID(),
        certificate_id: certificate.id,
        order_id: result.orderId,
        directory_url: step.directoryUrl,
        acme_account_id: result.accountId,
        challenge_type: step.challenge,
        outcome: 'success',
        started_at: result.startedAt,
        finished_at: now,
        duration_ms: now.getTime() - result.startedAt.getTime(),
      })
      .execute();
    await enqueue(
      trx,
      createEvent(certsIssued, {
        source: deps.source,
        subject: certificate.id,
        data: {
          certificateId: certificate.id,
          names: certificate.names,
          issuer: step.directoryUrl,
          serial: facts.serial,
          notBefore: facts.notBefore.toISOString(),
          notAfter: facts.notAfter.toISOString(),
          ...(result.issued.profile ? { profile: result.issued.profile } : {}),
        },
      }),
    );
  });
  issuanceMetrics.rounds.inc({ outcome: 'issued', error_kind: '' });
}

async function recordAttempt(
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
      id: randomUUID(),
      certificate_id: attempt.certificate.id,
      order_id: null,
      directory_url: attempt.step.directoryUrl,
      acme_account_id: attempt.accountId,
      challenge_type: attempt.step.challenge,
      outcome: 'failure',
      error_kind: attempt.error.kind,
      error_message: attempt.error.message.slice(0, 2_000),
      problem_type: attempt.error.problemType ?? null,
      started_at: attempt.startedAt,
      finished_at: now,
      duration_ms: now.getTime() - attempt.startedAt.getTime(),
    })
    .execute();
}

/** Ends a round in failure: records it on the certificate, defers or fails the job, emits the event. */
async function fail(
  job: IssuanceJobRow,
  certificate: CertificateRow,
  deps: IssuanceDeps,
  error: IssueError,
  retryAt: Date | null,
): Promise<void> {
  const now = new Date();
  const kind: IssueErrorKind = error.kind;
  deps.logger.warn(
    { cert_id: certificate.id, kind, err: error.message, retry_at: retryAt?.toISOString() ?? null },
    'issuance round failed',
  );
  await deps.db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('certificates')
      .set((eb) => ({
        // A certificate that was valid keeps serving; only one that never was is marked failed.
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
      await finishJob(trx, job.id, {
        status: 'deferred',
        until: retryAt,
        reason: `retry after ${kind} failure`,
        kind,
        message: error.message,
        countAttempt: true,
      });
    } else {
      await finishJob(trx, job.id, { status: 'failed', kind, message: error.message });
    }
    await enqueue(
      trx,
      createEvent(certsIssueFailed, {
        source: deps.source,
        subject: certificate.id,
        data: {
          certificateId: certificate.id,
          names: certificate.names,
          kind,
          message: error.message.slice(0, 2_000),
          attempt: updated.failure_count,
          retryAt: retryAt?.toISOString() ?? null,
        },
      }),
    );
  });
  issuanceMetrics.rounds.inc({ outcome: retryAt ? 'retrying' : 'failed', error_kind: kind });
}
