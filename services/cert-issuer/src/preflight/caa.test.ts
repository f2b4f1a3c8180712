import { describe, expect, it } from 'vitest';
import { caaLookupNames, evaluateCaa } from './caa.ts';

const pebble = { caaIdentities: ['pebble.letsencrypt.org'] };
const issue = (value: string, flags = 0) => ({ flags, tag: 'issue', value });
const issuewild = (value: string, flags = 0) => ({ flags, tag: 'issuewild', value });

describe('caa evaluation', () => {
  it('caa - an issue property naming the CA permits it, whatever the case and parameters', () => {
    expect(
      evaluateCaa([issue(' Pebble.LetsEncrypt.ORG ; accounturi=https://x/acct/1')], {
        ...pebble,
        wildcard: false,
      }),
    ).toEqual({ permitted: true, reason: 'listed', issuer: 'pebble.letsencrypt.org' });
  });

  it('caa - issue properties naming only other CAs forbid it and list who is allowed', () => {
    expect(
      evaluateCaa([issue('letsencrypt.org'), issue('sectigo.com')], { ...pebble, wildcard: false }),
    ).toEqual({
      permitted: false,
      reason: 'not-listed',
      tag: 'issue',
      allowed: ['letsencrypt.org', 'sectigo.com'],
    });
  });

  it('caa - an empty issuer domain forbids every CA but does not cancel a listed one', () => {
    expect(evaluateCaa([issue(';')], { ...pebble, wildcard: false })).toEqual({
      permitted: false,
      reason: 'forbids-all',
      tag: 'issue',
    });
    expect(
      evaluateCaa([issue(';'), issue('pebble.letsencrypt.org')], { ...pebble, wildcard: false }).permitted,
    ).toBe(true);
  });

  it('caa - issuewild governs wildcards when present, issue otherwise', () => {
    const records = [issue('pebble.letsencrypt.org'), issuewild('letsencrypt.org')];
    expect(evaluateCaa(records, { ...pebble, wildcard: true })).toMatchObject({
      permitted: false,
      tag: 'issuewild',
    });
    expect(evaluateCaa(records, { ...pebble, wildcard: false }).permitted).toBe(true);
    expect(evaluateCaa([issue('letsencrypt.org')], { ...pebble, wildcard: true })).toMatchObject({
      permitted: false,
      tag: 'issue',
    });
    expect(evaluateCaa([issuewild(';')], { ...pebble, wildcard: false }).permitted).toBe(true);
  });

  it('caa - a set without issue properties permits any CA', () => {
    expect(
      evaluateCaa([{ flags: 0, tag: 'iodef', value: 'mailto:x@y.test' }], { ...pebble, wildcard: false }),
    ).toEqual({ permitted: true, reason: 'no-property' });
  });

  it('caa - a critical unknown property forbids issuance; a critical known one does not', () => {
    expect(
      evaluateCaa([issue('pebble.letsencrypt.org'), { flags: 128, tag: 'tbs', value: 'x' }], {
        ...pebble,
        wildcard: false,
      }),
    ).toMatchObject({ permitted: false, reason: 'critical' });
    expect(
      evaluateCaa([issue('pebble.letsencrypt.org', 128)], { ...pebble, wildcard: false }).permitted,
    ).toBe(true);
    expect(
      evaluateCaa([issue('pebble.letsencrypt.org'), { flags: 0, tag: 'tbs', value: 'x' }], {
        ...pebble,
        wildcard: false,
      }).permitted,
    ).toBe(true);
  });

  it('caa - validationmethods (RFC 8657) restricts the challenge type', () => {
    const records = [issue('pebble.letsencrypt.org; validationmethods=dns-01')];
    expect(evaluateCaa(records, { ...pebble, wildcard: false, challenge: 'http-01' })).toEqual({
      permitted: false,
      reason: 'method',
      issuer: 'pebble.letsencrypt.org',
      methods: ['dns-01'],
    });
    expect(evaluateCaa(records, { ...pebble, wildcard: false, challenge: 'dns-01' }).permitted).toBe(true);
  });

  it('caa - the lookup climbs from the name (without its wildcard label) to the top', () => {
    expect(caaLookupNames('*.a.b.test')).toEqual(['a.b.test', 'b.test', 'test']);
    expect(caaLookupNames('shop.test')).toEqual(['shop.test', 'test']);
  });
});
