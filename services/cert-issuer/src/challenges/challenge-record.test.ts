import { describe, expect, it } from 'vitest';
import { dns01RecordName, locateChallengeRecord, parseChallengeAliases } from './challenge-record.ts';
import type { DnsLookup } from './dns-lookup.ts';

/** A DNS with only CNAMEs, as a map; everything else is absent. */
function cnames(map: Record<string, string>): DnsLookup {
  return {
    cnameOf: async (name) => map[name],
    zoneOf: async () => undefined,
    nameserverAddresses: async () => [],
    txtAt: async () => [],
  };
}

describe('challenge record', () => {
  it('challenge record - a wildcard shares its base name’s record; names are lowercased', () => {
    expect(dns01RecordName('*.Example.test')).toBe('_acme-challenge.example.test');
    expect(dns01RecordName('a.example.test')).toBe('_acme-challenge.a.example.test');
  });

  it('challenge record - without a CNAME the record is written where the CA asks', async () => {
    expect(await locateChallengeRecord('a.example.test', cnames({}))).toEqual({
      recordName: '_acme-challenge.a.example.test',
      target: '_acme-challenge.a.example.test',
      via: 'direct',
    });
  });

  it('challenge record - a CNAME chain is followed to its end', async () => {
    const lookup = cnames({
      '_acme-challenge.a.example.test': 'hop.other.test',
      'hop.other.test': 'final.delegated.test',
    });
    expect(await locateChallengeRecord('a.example.test', lookup)).toMatchObject({
      target: 'final.delegated.test',
      via: 'cname',
    });
  });

  it('challenge record - a CNAME loop and an overlong chain are refused with the name', async () => {
    await expect(
      locateChallengeRecord(
        'a.example.test',
        cnames({ '_acme-challenge.a.example.test': 'x.test', 'x.test': '_acme-challenge.a.example.test' }),
      ),
    ).rejects.toThrow(/CNAME chain of _acme-challenge\.a\.example\.test loops/);
    const long: Record<string, string> = { '_acme-challenge.a.example.test': 'h0.test' };
    for (let index = 0; index < 20; index++) long[`h${index}.test`] = `h${index + 1}.test`;
    await expect(locateChallengeRecord('a.example.test', cnames(long))).rejects.toThrow(/longer than 8 hops/);
  });

  it('challenge record - an alias replaces the zone without a lookup; the longest zone wins', async () => {
    const aliases = parseChallengeAliases(
      'example.test=acme.delegated.test, shop.example.test=shop.delegated.test',
    );
    const lookup = cnames({ '_acme-challenge.a.example.test': 'ignored.test' });
    expect(await locateChallengeRecord('a.example.test', lookup, aliases)).toEqual({
      recordName: '_acme-challenge.a.example.test',
      target: '_acme-challenge.a.acme.delegated.test',
      via: 'alias',
    });
    expect((await locateChallengeRecord('*.shop.example.test', lookup, aliases)).target).toBe(
      '_acme-challenge.shop.delegated.test',
    );
  });

  it('challenge record - DNS01_ALIASES entries that are not zone=alias are refused', () => {
    expect(() => parseChallengeAliases('example.test')).toThrow(/"example.test" is not zone=alias/);
    expect(parseChallengeAliases(' ')).toEqual([]);
  });
});
