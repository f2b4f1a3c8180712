import { randomUUID } from 'node:crypto';
import type { CertificateRow, IssuanceJobRow, PreflightResult } from '@gatehouse/db';
import { ariCertId, certificateFacts, keyMatchesCertificate, splitCertificateChain } from '@gatehouse/pki';
import type { Logger } from '@gatehouse/telemetry';
import { IssueError } from '../acme/issue-error.ts';
import type { ChallengeType, IssuedCertificate, KeyType } from '../acme/issuer.ts';
import { issuanceMetrics } from '../metrics.ts';
import type { AttemptStep } from './attempt-plan.ts';
import type { BudgetDecision, IssuanceDeps } from './issuance-deps.ts';
import { issuedEvent } from './issuance-events.ts';
import {
  markOrderInvalid,
  recordAttempt,
  recordPreflight,
  recordStagingSuccess,
  saveCheckpoint,
  storeIssued,
} from './issuance-store.ts';
import { chooseProfile } from './profile-choice.ts';
import type { RoundContext } from './round-context.ts';

/** How one step of a round ended; the round policy (process-job.ts) decides what comes next. */
export type AttemptOutcome =
  | { kind: 'issued' }
  | { kind: 'budget'; retryAt: Date; reason: string }
  | { kind: 'preflight'; error: IssueError }
  | { kind: 'failed'; error: IssueError };

/**
 * One step of a round at one CA with one challenge type: failed-authorization budget → (for a new order)
 * DNS provider, preflight, order budgets → order (or resume a crashed run's order) → store. Every failure is
 * recorded as an attempt, unused budget handed back, and an order the CA answered with a failure closed.
 */
export async function attempt(
  step: AttemptStep,
  job: IssuanceJobRow,
  context: RoundContext & { keyType: KeyType },
  deps: IssuanceDeps,
  log: Logger,
): Promise<AttemptOutcome> {
  const { db } = deps;
  const { certificate } = context;
  const startedAt = new Date();
  let accountId: string | null = null;
  let orderId: string | null = null;
  let reservation: Extract<BudgetDecision, { allowed: true }> | undefined;
  let orderCreated = false;
  let unsavedPreflight: readonly PreflightResult[] | undefined;
  try {
    const { issuer, accountId: account, accountUrl } = await deps.issuerFor(step.directoryUrl);
    accountId = account;

    const resume = await context.openOrder(step.directoryUrl);
    if (resume) {
      // A new order checks the failed-authorization budget with its reservation, after the preflight.
      const failedAuthz = await deps.checkFailedAuthorizationBudget(
        step.directoryUrl,
        accountUrl,
        certificate.names,
      );
      if (!failedAuthz.allowed)
        return { kind: 'budget', retryAt: failedAuthz.retryAt, reason: failedAuthz.reason };
    } else {
      // Providers and credentials first: a wrong DNS secret must not cost an order at the CA.
      if (step.challenge === 'dns-01') await deps.solvers['dns-01']?.prepare(certificate.names);
      // Preflight before the budgets, not beside them: a reservation held while a preflight fails would be
      // handed back a moment later, but another order refused meanwhile would wait for the window's refill.
      const preflight = await deps.preflight(certificate.names, step.challenge, issuer);
      if (!preflight.ok) {
        await recordPreflight(db, certificate.id, preflight.results);
        const detail = preflight.blocking.map((result) => result.detail).join('; ');
        const error = new IssueError('preflight', `preflight failed, no order placed: ${detail}`);
        await recordAttempt(db, { certificate, step, accountId, orderId, startedAt, error });
        return { kind: 'preflight', error };
      }
      // A passed preflight is stored with the order's first checkpoint (one round trip fewer), or when the
      // step ends before one.
      unsavedPreflight = preflight.results;
      const budget = await deps.reserveOrderBudget(
        step.directoryUrl,
        accountUrl,
        certificate.names,
        certificate.names_key,
      );
      if (!budget.allowed) {
        await recordPreflight(db, certificate.id, unsavedPreflight);
        return { kind: 'budget', retryAt: budget.retryAt, reason: budget.reason };
      }
      reservation = budget;
    }
    orderId = resume?.orderId ?? randomUUID();
    const currentOrderId = orderId;
    const issued = await issuer.issue({
      names: certificate.names,
      keyType: context.keyType,
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
        const preflightResults = unsavedPreflight;
        unsavedPreflight = undefined;
        return saveCheckpoint(db, deps.box, {
          preflight: preflightResults,
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
    await storeIssuedCertificate(job, certificate, step, deps, {
      issued,
      accountId: account,
      orderId,
      startedAt,
    });
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
    if (unsavedPreflight) await recordPreflight(db, certificate.id, unsavedPreflight);
    await recordAttempt(db, { certificate, step, accountId, orderId, startedAt, error });
    await reservation?.release?.(orderCreated ? 'not-issued' : 'not-ordered');
    if (error.problemType?.endsWith(':accountDoesNotExist')) await deps.forgetAccount(step.directoryUrl);
    if (orderId && error.kind !== 'connection') {
      // The CA answered and the order failed: it cannot be resumed. After a connection error it may be.
      await markOrderInvalid(db, orderId);
    }
    if ((error.kind === 'validation' || error.kind === 'dns') && accountId) {
      const { accountUrl } = await deps.issuerFor(step.directoryUrl);
      await deps.recordFailedAuthorizations(step.directoryUrl, accountUrl, certificate.names);
    }
    return { kind: 'failed', error };
  }
}

/** Orders a certificate from staging and throws it away; returns the failure, if any. */
export async function stagingTrial(
  directoryUrl: string,
  challenge: ChallengeType,
  certificate: CertificateRow,
  keyType: KeyType,
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
      keyType,
      solver: deps.solvers[challenge]!,
      checkpoint: async () => {},
      beforeRequest: () => deps.throttleRequest(directoryUrl, accountUrl, deps.signal),
    });
    await recordStagingSuccess(deps.db, {
      certificateId: certificate.id,
      directoryUrl,
      accountId: account,
      challenge,
      startedAt,
    });
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

/** Checks the CA's answer against our key, then stores it with its `certs.issued` event. */
async function storeIssuedCertificate(
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
  await storeIssued(deps.db, deps.box, {
    job,
    certificate,
    step,
    chainPem: result.issued.chainPem,
    keyPem: result.issued.keyPem,
    facts,
    accountId: result.accountId,
    orderId: result.orderId,
    startedAt: result.startedAt,
    profile: result.issued.profile ?? null,
    event: issuedEvent(deps.source, certificate, step.directoryUrl, facts, result.issued.profile),
  });
  issuanceMetrics.rounds.inc({ outcome: 'issued', error_kind: '' });
}
