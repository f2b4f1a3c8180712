import type { DnsLookup } from './dns-lookup.ts';

/** At most this many CNAME hops are followed (a loop or a very long chain is a misconfiguration). */
const MAX_CNAME_HOPS = 8;

/** `_acme-challenge.<name>`; a wildcard's record lives at its base name. */
export function dns01RecordName(name: string): string {
  return `_acme-challenge.${name.replace(/^\*\./, '')}`.toLowerCase();
}

/**
 * Where the TXT of a DNS-01 challenge is written. `recordName` is what the CA asks for; `target` is where
 * the value must actually be (the end of its CNAME chain, or the operator's alias); `via` says why.
 */
export interface ChallengeRecord {
  recordName: string;
  target: string;
  via: 'direct' | 'cname' | 'alias';
}

/**
 * Operator overrides, `DNS01_ALIASES`: for names in `zone`, the record is written at `_acme-challenge.<name>`
 * with the zone suffix replaced by `alias` (as acme.sh's challenge alias), without looking at DNS. For a
 * split-horizon setup where this host cannot see the CNAME the CA will follow.
 */
export type ChallengeAliases = ReadonlyArray<{ zone: string; alias: string }>;

export async function locateChallengeRecord(
  name: string,
  lookup: DnsLookup,
  aliases: ChallengeAliases = [],
): Promise<ChallengeRecord> {
  const recordName = dns01RecordName(name);
  const alias = aliases
    .filter(({ zone }) => recordName === zone || recordName.endsWith(`.${zone}`))
    .sort((a, b) => b.zone.length - a.zone.length)[0];
  if (alias) {
    const target = `${recordName.slice(0, recordName.length - alias.zone.length)}${alias.alias}`;
    return { recordName, target, via: 'alias' };
  }
  const seen = new Set([recordName]);
  let target = recordName;
  for (let hops = 0; ; hops++) {
    const next = await lookup.cnameOf(target);
    if (!next) break;
    if (seen.has(next)) throw new Error(`the CNAME chain of ${recordName} loops at ${next}`);
    if (hops === MAX_CNAME_HOPS)
      throw new Error(`the CNAME chain of ${recordName} is longer than ${MAX_CNAME_HOPS} hops`);
    seen.add(next);
    target = next;
  }
  return { recordName, target, via: target === recordName ? 'direct' : 'cname' };
}

/** `zone=alias,zone=alias`, as DNS01_ALIASES is written. */
export function parseChallengeAliases(value: string): { zone: string; alias: string }[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const match = /^([a-z0-9.-]+)=([a-z0-9._-]+)$/i.exec(entry);
      if (!match) throw new Error(`"${entry}" is not zone=alias (for example example.com=acme.example.net)`);
      return {
        zone: match[1]!.replace(/\.$/, '').toLowerCase(),
        alias: match[2]!.replace(/\.$/, '').toLowerCase(),
      };
    });
}
