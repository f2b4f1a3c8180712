import { parseArgs } from 'node:util';
import { ApiRefusal } from '../api-client.ts';
import { type CommandContext, output } from '../context.ts';
import { parseDuration } from '../duration.ts';
import { CliError, exitCodes } from '../exit-codes.ts';
import { collectPages } from '../pages.ts';
import { type CertificateView, certificatePageSchema } from '../views.ts';

/** Renewal requests in flight at once for `--all` and `--expiring-within`. */
const renewConcurrency = 4;

interface RenewOutcome {
  id: string;
  names: string[];
  /** 202, or the refusal's status. */
  status: number;
  message: string;
  retryAfter: string | null;
}

/**
 * `gatehouse renew <id> | --all | --expiring-within 7d`: asks for a manual renewal of each certificate
 * (uploaded ones are skipped in bulk: Gatehouse does not renew them). Exit 0 when every request was accepted,
 * 5 when some were refused by a rate limit only, 1 when some failed otherwise.
 */
export async function renewCommand(context: CommandContext, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { all: { type: 'boolean', default: false }, 'expiring-within': { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  const modes = [positionals.length > 0, values.all, values['expiring-within'] !== undefined].filter(Boolean);
  if (modes.length !== 1 || positionals.length > 1) {
    throw new CliError('usage: gatehouse renew <id> | --all | --expiring-within <7d|12h|…>', exitCodes.usage);
  }
  let targets: Array<Pick<CertificateView, 'id' | 'names'>>;
  if (positionals[0] !== undefined) {
    targets = [{ id: positionals[0], names: [] }];
  } else {
    const within = values['expiring-within'];
    const horizon = within === undefined ? undefined : parseDuration(within);
    if (within !== undefined && horizon === undefined) {
      throw new CliError(
        `--expiring-within ${within}: give a duration such as 7d, 12h or 90m`,
        exitCodes.usage,
      );
    }
    const until = horizon === undefined ? undefined : Date.now() + horizon;
    const certificates = await collectPages<CertificateView>(
      context.client,
      '/v1/certificates',
      { sort: 'expiry' },
      certificatePageSchema,
      'certificates',
      // Sorted by expiry: past the horizon (or at the never-issued tail), nothing further qualifies.
      (certificate) =>
        until !== undefined && (certificate.notAfter === null || Date.parse(certificate.notAfter) > until),
    );
    targets = certificates.filter((certificate) => certificate.source === 'acme');
  }

  const renewOne = async (target: Pick<CertificateView, 'id' | 'names'>): Promise<RenewOutcome> => {
    try {
      const { status, body } = await context.client.request(
        'POST',
        `/v1/certificates/${encodeURIComponent(target.id)}/renew`,
      );
      const names = (body as { names?: string[] } | undefined)?.names ?? target.names;
      return { id: target.id, names, status, message: 'renewal requested', retryAfter: null };
    } catch (error) {
      if (!(error instanceof ApiRefusal) || (targets.length === 1 && error.status !== 429)) throw error;
      return {
        id: target.id,
        names: target.names,
        status: error.status,
        message: error.message,
        retryAfter: error.problem.retryAfter ?? null,
      };
    }
  };
  // A few at a time: a fleet renews in minutes, without a burst that would queue the api's database pool.
  const outcomes: RenewOutcome[] = [];
  for (let start = 0; start < targets.length; start += renewConcurrency) {
    outcomes.push(...(await Promise.all(targets.slice(start, start + renewConcurrency).map(renewOne))));
  }
  output(context, { renewals: outcomes }, () =>
    outcomes.length === 0
      ? 'nothing to renew'
      : outcomes
          .map((outcome) =>
            outcome.status === 202
              ? `${outcome.id} ${outcome.names.join(',')}: renewal requested (202)`
              : `${outcome.id} ${outcome.names.join(',')}: refused (${outcome.status}) ${outcome.message}${
                  outcome.retryAfter ? `; next slot at ${outcome.retryAfter}` : ''
                }`,
          )
          .join('\n'),
  );
  if (outcomes.every((outcome) => outcome.status === 202)) return exitCodes.ok;
  if (outcomes.every((outcome) => outcome.status === 202 || outcome.status === 429))
    return exitCodes.rateLimited;
  return exitCodes.failed;
}
