import type { CertificateRow, IssuanceJobRow } from '@gatehouse/db';
import { sleep } from '@gatehouse/messaging';
import { qualifiesForAcmeOrder } from '@gatehouse/pki';
import { contextFromHeaders, withSpan } from '@gatehouse/telemetry';
import { IssueError, type IssueErrorKind } from '../acme/issue-error.ts';
import type { ChallengeType } from '../acme/issuer.ts';
import { issueFromLocalCa } from '../local-ca/issue-from-local-ca.ts';
import { issuanceMetrics } from '../metrics.ts';
import { challengeOrder, decideAfterFailure, planRound } from './attempt-plan.ts';
import { holdCertificate } from './hold-certificate.ts';
import type { IssuanceDeps } from './issuance-deps.ts';
import { issueFailedEvent } from './issuance-events.ts';
import { deferForRateLimit, recordRoundFailure } from './issuance-store.ts';
import { finishJob } from './job-queue.ts';
import { attempt, stagingTrial } from './order-attempt.ts';
import { orderableKeyType } from './orderable-key-type.ts';
import { giveUpAfterMs, retryDelayMs } from './retry-ladder.ts';
import { loadRoundContext } from './round-context.ts';

// The round policy only: which steps run, in what order, and how the round ends. One step at a CA is
// `order-attempt.ts`; every write is `issuance-store.ts`; the events are built in `issuance-events.ts`.
export type { BudgetDecision, IssuanceDeps } from './issuance-deps.ts';

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
  const context = await loadRoundContext(db, deps.box, job.certificate_id);
  if (!context) {
    await finishJob(db, job.id, {
      status: 'failed',
      kind: 'internal',
      message: 'the certificate no longer exists',
    });
    return;
  }
  const { certificate } = context;
  const names = certificate.names;

  // No app uses it any more: its names may point elsewhere now, so a renewal or a first issuance still queued (or
  // on the retry ladder) ends here instead of failing for days. Only an operator's renewal goes on.
  if (certificate.released_at !== null && job.reason !== 'manual') {
    return holdCertificate(
      db,
      job,
      certificate,
      { why: 'released', releasedAt: certificate.released_at },
      log,
    );
  }

  // Check again: another run may have issued it since the request (a duplicate request, a crash).
  if (job.reason !== 'manual' && hasCurrentCertificate(certificate)) {
    log.info('certificate already valid, nothing to order');
    await finishJob(db, job.id, { status: 'done' });
    return;
  }

  // The issuer follows the domain's mode (issue 15): the local CA signs its own certificates; a domain in another
  // mode than acme never has its old ACME certificate renewed. IP addresses may go to ACME (RFC 8738).
  const keyType = orderableKeyType(certificate.key_type);
  if (!keyType) {
    const error = new IssueError('policy', `key type ${certificate.key_type} is not one Gatehouse orders`);
    return fail(job, certificate, deps, error, null);
  }
  if (certificate.source === 'local-ca') return issueFromLocalCa(job, certificate, keyType, deps);
  if (context.heldFromAcme.length > 0)
    return holdCertificate(
      db,
      job,
      certificate,
      { why: 'mode', names: context.heldFromAcme, source: 'acme' },
      log,
    );

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
    const trial = await stagingTrial(
      deps.stagingDirectoryUrl,
      challenges[0]!,
      certificate,
      keyType,
      deps,
      log,
    );
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
      await sleep(deps.quickRetryDelayMs);
    }
    const outcome = await attempt(step, job, { ...context, keyType }, deps, log);
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
    await deferForRateLimit(db, job.id, certificate.id, earliestRefill);
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

/** Ends a round in failure: records it on the certificate, defers or fails the job, emits the event. */
async function fail(
  job: IssuanceJobRow,
  certificate: CertificateRow,
  deps: IssuanceDeps,
  error: IssueError,
  retryAt: Date | null,
): Promise<void> {
  const kind: IssueErrorKind = error.kind;
  deps.logger.warn(
    { cert_id: certificate.id, kind, err: error.message, retry_at: retryAt?.toISOString() ?? null },
    'issuance round failed',
  );
  await recordRoundFailure(deps.db, {
    job,
    certificate,
    error,
    retryAt,
    eventFor: (failureCount) => issueFailedEvent(deps.source, certificate, error, failureCount, retryAt),
  });
  issuanceMetrics.rounds.inc({ outcome: retryAt ? 'retrying' : 'failed', error_kind: kind });
}
