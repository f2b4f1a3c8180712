import type { ChallengeSolver } from '../acme/issuer.ts';
import type { DnsProvider } from './dns-provider.ts';

/** `_acme-challenge.<name>`; a wildcard's record lives at its base name. */
export function dns01RecordName(name: string): string {
  return `_acme-challenge.${name.replace(/^\*\./, '')}`;
}

/** DNS-01 through a DNS provider: the TXT value is the digest the issuer hands to `present`. */
export function createDns01Solver(provider: DnsProvider): ChallengeSolver {
  return {
    type: 'dns-01',
    present: (name, _token, txtValue) => provider.present(dns01RecordName(name), txtValue),
    cleanup: (name, _token, txtValue) => provider.cleanup(dns01RecordName(name), txtValue),
  };
}
