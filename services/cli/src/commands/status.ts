import { type CommandContext, output } from '../context.ts';
import { exitCodes } from '../exit-codes.ts';
import { relative, table } from '../format.ts';
import { collectPages } from '../pages.ts';
import {
  appSchema,
  type CertificateDetail,
  type CertificateView,
  certificateDetailSchema,
  certificatePageSchema,
  parseAnswer,
} from '../views.ts';
import { describeApp } from './apps.ts';
import { certificateTable } from './certs.ts';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `gatehouse status [name|id]`: without an argument, counts by status and every certificate that is not valid;
 * with a certificate id, an app name or a host name, the chain certificate → next renewal/job → attempts, with
 * preflight, rate-limit state and the plain-words hint (like `cmctl status certificate`).
 */
export async function statusCommand(context: CommandContext, args: string[]): Promise<number> {
  const [target] = args;
  if (target === undefined) return overview(context);
  if (uuidPattern.test(target)) {
    const detail = await certificateDetail(context, target);
    output(context, { certificates: [detail] }, () => describeCertificate(detail));
    return exitCodes.ok;
  }
  if (target.includes('.')) {
    const { body } = await context.client.request(
      'GET',
      `/v1/certificates?${new URLSearchParams({ name: target, limit: '100' })}`,
    );
    const page = parseAnswer(certificatePageSchema, body, 'the certificate list');
    const details = await Promise.all(
      page.certificates.map((certificate) => certificateDetail(context, certificate.id)),
    );
    output(context, { name: target, certificates: details }, () =>
      details.length === 0
        ? `no certificate covers ${target}`
        : details.map(describeCertificate).join('\n\n'),
    );
    return exitCodes.ok;
  }
  const { body } = await context.client.request('GET', `/v1/apps/${encodeURIComponent(target)}`);
  const app = parseAnswer(appSchema, body, 'the app');
  const details = await Promise.all(
    app.certificates.map((certificate) => certificateDetail(context, certificate.id)),
  );
  output(context, { app, certificates: details }, () =>
    [
      ...describeApp(app),
      ...(details.length === 0 ? ['  No certificate (no https:// domain).'] : []),
      ...details.map((detail) => `\n${describeCertificate(detail)}`),
    ].join('\n'),
  );
  return exitCodes.ok;
}

async function overview(context: CommandContext): Promise<number> {
  const certificates = await collectPages<CertificateView>(
    context.client,
    '/v1/certificates',
    { sort: 'expiry' },
    certificatePageSchema,
    'certificates',
  );
  const counts: Record<string, number> = {};
  for (const certificate of certificates) counts[certificate.status] = (counts[certificate.status] ?? 0) + 1;
  const attention = certificates.filter((certificate) => certificate.status !== 'valid');
  output(context, { total: certificates.length, counts, attention }, () =>
    [
      `${certificates.length} certificates: ${
        Object.entries(counts)
          .map(([status, count]) => `${count} ${status}`)
          .join(', ') || 'none'
      }`,
      ...(attention.length > 0 ? ['', 'Not valid:', certificateTable(attention)] : []),
    ].join('\n'),
  );
  return exitCodes.ok;
}

async function certificateDetail(context: CommandContext, id: string): Promise<CertificateDetail> {
  const { body } = await context.client.request('GET', `/v1/certificates/${encodeURIComponent(id)}`);
  return parseAnswer(certificateDetailSchema, body, 'the certificate');
}

/** The cmctl-style chain for one certificate. */
export function describeCertificate(detail: CertificateDetail): string {
  const lines = [
    `Certificate ${detail.id}`,
    `  Names:        ${detail.names.join(', ')}`,
    `  Status:       ${detail.status} (source ${detail.source}, key ${detail.keyType})`,
    `  Issuer:       ${detail.issuer ?? '-'}${detail.profile ? ` (profile ${detail.profile})` : ''}`,
    `  Not after:    ${detail.notAfter ? `${detail.notAfter} (${relative(detail.notAfter)})` : 'not issued yet'}`,
    `  Next renewal: ${detail.nextRenewal.at ? `${detail.nextRenewal.at} (${relative(detail.nextRenewal.at)}), ` : ''}${detail.nextRenewal.reason}: ${detail.nextRenewal.detail}`,
    `  Apps:         ${detail.apps.join(', ') || '-'}`,
    `  Job:          ${
      detail.job
        ? `${detail.job.reason}, ${detail.job.status}${detail.job.rounds ? `, ${detail.job.rounds} failed round(s)` : ''}${
            detail.job.nextAttemptAt ? `, next run ${detail.job.nextAttemptAt}` : ''
          }${detail.job.deferredReason ? ` (${detail.job.deferredReason})` : ''}`
        : 'none'
    }`,
  ];
  if (detail.lastError) {
    lines.push(`  Last error:   ${detail.lastError.kind}: ${detail.lastError.message}`);
  }
  if (detail.hint) {
    lines.push(`  Why:          ${detail.hint.what}`);
    lines.push('  Check:', ...detail.hint.check.map((item) => `    - ${item}`));
  }
  if (detail.rateLimit) {
    lines.push(
      `  Rate limit:   ${
        detail.rateLimit.allowed
          ? 'an order is possible now'
          : `spent until ${detail.rateLimit.retryAt} (${detail.rateLimit.reason})`
      }`,
    );
  }
  if (detail.preflight) {
    lines.push(`  Preflight (${detail.preflight.checkedAt}):`);
    for (const result of detail.preflight.results) {
      lines.push(`    ${result.ok ? 'ok  ' : 'FAIL'} ${result.check} ${result.name}: ${result.detail}`);
    }
  }
  const attempts = detail.attempts.slice(-5);
  if (attempts.length > 0) {
    lines.push(`  Attempts (last ${attempts.length} of ${detail.attempts.length}):`);
    lines.push(
      table(
        ['    STARTED', 'CHALLENGE', 'OUTCOME', 'ERROR'],
        attempts.map((attempt) => [
          `    ${attempt.startedAt}`,
          attempt.challengeType ?? '-',
          attempt.outcome,
          attempt.error
            ? `${attempt.error.kind}${attempt.problemType ? ` [${attempt.problemType}]` : ''}: ${attempt.error.message}`
            : '-',
        ]),
      ),
    );
  }
  return lines.join('\n');
}
