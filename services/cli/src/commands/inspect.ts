import { type CommandContext, output } from '../context.ts';
import { CliError, exitCodes } from '../exit-codes.ts';
import { pemChainFacts } from '../pem-facts.ts';
import { certificateDetailSchema, parseAnswer } from '../views.ts';

/** `gatehouse inspect <id>`: the issued chain read from its PEM (SANs, issuer, key, days left, each CA). */
export async function inspectCommand(context: CommandContext, args: string[]): Promise<number> {
  const [id] = args;
  if (id === undefined || args.length > 1)
    throw new CliError('usage: gatehouse inspect <certificate id>', exitCodes.usage);
  const { body } = await context.client.request('GET', `/v1/certificates/${encodeURIComponent(id)}`);
  const detail = parseAnswer(certificateDetailSchema, body, 'the certificate');
  const pem = await context.client.text(`/v1/certificates/${encodeURIComponent(id)}/chain`);
  const chain = pemChainFacts(pem);
  if (chain.length === 0)
    throw new CliError(`certificate ${id}: the api returned no PEM certificate`, exitCodes.failed);
  const leaf = chain[0]!;
  output(
    context,
    { id: detail.id, status: detail.status, source: detail.source, leaf, chain: chain.slice(1) },
    () =>
      [
        `Certificate ${detail.id} (${detail.status}, ${detail.source})`,
        `  Subject:     ${leaf.subject}`,
        `  SANs:        ${leaf.names.join(', ')}`,
        `  Issuer:      ${leaf.issuer}`,
        `  Serial:      ${leaf.serial}`,
        `  Key:         ${leaf.keyType}`,
        `  Not before:  ${leaf.notBefore}`,
        `  Not after:   ${leaf.notAfter} (${leaf.daysLeft} days left)`,
        `  SHA-256:     ${leaf.fingerprintSha256}`,
        `  Chain:       ${chain.length - 1} more certificate(s)`,
        ...chain
          .slice(1)
          .map(
            (entry, index) =>
              `    ${index + 1}. ${entry.subject} (issued by ${entry.issuer}, until ${entry.notAfter})`,
          ),
      ].join('\n'),
  );
  return exitCodes.ok;
}
