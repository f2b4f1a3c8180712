import { parseArgs } from 'node:util';
import { type CommandContext, output } from '../context.ts';
import { CliError, exitCodes } from '../exit-codes.ts';
import { lifetimeUsed, relative, table } from '../format.ts';
import { collectPages } from '../pages.ts';
import { type CertificateView, certificatePageSchema, certificateSchema, parseAnswer } from '../views.ts';

/** `gatehouse certs ls [--status s] [--app a] [--name host] [--search text] [--sort created|expiry] [--limit n]` */
export async function certsCommand(context: CommandContext, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'ls') throw new CliError('usage: gatehouse certs ls [options]', exitCodes.usage);
  const { values } = parseArgs({
    args: rest,
    options: {
      status: { type: 'string' },
      app: { type: 'string' },
      name: { type: 'string' },
      search: { type: 'string' },
      sort: { type: 'string', default: 'expiry' },
      limit: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const query: Record<string, string> = { sort: values.sort };
  if (values.status) query.status = values.status;
  if (values.app) query.app = values.app;
  if (values.name) query.name = values.name;
  if (values.search) query.q = values.search;
  let certificates: CertificateView[];
  if (values.limit !== undefined) {
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new CliError('--limit must be a whole number from 1 to 1000', exitCodes.usage);
    const { body } = await context.client.request(
      'GET',
      `/v1/certificates?${new URLSearchParams({ ...query, limit: String(limit) })}`,
    );
    certificates = parseAnswer(certificatePageSchema, body, 'the certificate list').certificates;
  } else {
    certificates = await collectPages(
      context.client,
      '/v1/certificates',
      query,
      certificatePageSchema,
      'certificates',
    );
  }
  output(context, { certificates }, () => certificateTable(certificates));
  return exitCodes.ok;
}

export function certificateTable(certificates: readonly CertificateView[]): string {
  if (certificates.length === 0) return 'no certificates';
  return table(
    ['ID', 'NAMES', 'STATUS', 'SOURCE', 'NOT AFTER', 'USED', 'NEXT RENEWAL'],
    certificates.map((certificate) => {
      const used = lifetimeUsed(certificate.notBefore, certificate.notAfter);
      return [
        certificate.id,
        certificate.names.join(','),
        certificate.status,
        certificate.source,
        certificate.notAfter
          ? `${certificate.notAfter.slice(0, 16)}Z (${relative(certificate.notAfter)})`
          : '-',
        used === null ? '-' : `${Math.round(used * 100)}%`,
        certificate.nextRenewal.at
          ? `${relative(certificate.nextRenewal.at)} (${certificate.nextRenewal.reason})`
          : certificate.nextRenewal.reason,
      ];
    }),
  );
}

export { certificateSchema };
