import { randomBytes } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { PreflightResult } from '@gatehouse/db';
import { assertNever } from '@gatehouse/runtime';
import { DnsQueryError, type DnsResolver } from './resolver.ts';

export interface ResolvesCheckOptions {
  resolver: DnsResolver;
  /** This server's public addresses (`PUBLIC_IPS`); when given, one resolved address must be among them. */
  expectedAddresses?: readonly string[] | undefined;
}

/**
 * The name a CA would look up for `name`: the name itself, or for `*.x` a random label under `x`
 * (a wildcard record answers it; a record at `x` alone does not).
 */
export function lookupNameFor(name: string): string {
  return name.startsWith('*.') ? `gh-${randomBytes(5).toString('hex')}${name.slice(1)}` : name;
}

/** Check `dns`: `name` has A or AAAA records and, when expected addresses are set, points here. */
export async function checkResolves(name: string, options: ResolvesCheckOptions): Promise<PreflightResult> {
  const result = (ok: boolean, detail: string): PreflightResult => ({ name, check: 'dns', ok, detail });
  const lookup = lookupNameFor(name);
  const subject = lookup === name ? name : `${name} (checked as ${lookup})`;
  const via = options.resolver.description;
  const fix = name.startsWith('*.')
    ? `create a wildcard A or AAAA record ${name}`
    : 'create an A or AAAA record';

  let addresses: string[];
  try {
    addresses = await options.resolver.resolveAddresses(lookup);
  } catch (error) {
    if (!(error instanceof DnsQueryError)) throw error;
    switch (error.failure) {
      case 'nxdomain':
        return result(
          false,
          `${subject} does not resolve (NXDOMAIN) via ${via}: ${fix} pointing at this server`,
        );
      case 'nodata':
        return result(false, `${subject} has no A or AAAA record via ${via}: ${fix} pointing at this server`);
      case 'servfail':
      case 'refused':
      case 'error':
        return result(
          false,
          `${subject} could not be resolved (${error.failure.toUpperCase()}) via ${via}: check the name's DNS servers`,
        );
      case 'timeout':
      case 'unreachable':
        return result(
          false,
          `${subject} could not be resolved: ${via} did not answer (${error.failure}); check DNS_RESOLVERS and the name's DNS servers`,
        );
      default:
        return assertNever(error.failure);
    }
  }

  const expected = options.expectedAddresses ?? [];
  if (expected.length === 0) return result(true, `${subject} resolves to ${addresses.join(', ')}`);
  const ours = new BlockList();
  for (const address of expected) ours.addAddress(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  const matching = addresses.filter((address) => ours.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4'));
  if (matching.length > 0) {
    return result(
      true,
      `${subject} resolves to ${addresses.join(', ')}, including this server (${matching.join(', ')})`,
    );
  }
  return result(
    false,
    `${subject} resolves to ${addresses.join(', ')}, not to this server (${expected.join(', ')}): ` +
      'point its A or AAAA records at this server',
  );
}
