import { describe, expect, it } from 'vitest';
import {
  covers,
  InvalidNameError,
  isInternalName,
  isIpName,
  type NameResult,
  namesKey,
  normalizeName,
  qualifiesForAcmeOrder,
  qualifiesForPublicCert,
  registeredDomain,
  sortNames,
} from './names.ts';

function nameOf(result: NameResult): string {
  if (!result.ok) throw new Error(`expected a valid name, got: ${result.reason}`);
  return result.name;
}

function reasonOf(result: NameResult | { ok: true } | { ok: false; reason: string }): string {
  if (result.ok) throw new Error('expected a refusal');
  return result.reason;
}

describe('names', () => {
  it('names - trims and lower-cases', () => {
    expect(normalizeName('  WWW.Example.COM\t')).toEqual({ ok: true, name: 'www.example.com', isIp: false });
  });

  it('names - converts IDNs to punycode and keeps valid punycode', () => {
    expect(nameOf(normalizeName('bücher.example'))).toBe('xn--bcher-kva.example');
    expect(nameOf(normalizeName('BÜCHER.Example'))).toBe('xn--bcher-kva.example');
    expect(nameOf(normalizeName('a.пример.рф'))).toBe('a.xn--e1afmkfd.xn--p1ai');
    expect(nameOf(normalizeName('bücher\u3002example'))).toBe('xn--bcher-kva.example');
    expect(nameOf(normalizeName('*.bücher.example'))).toBe('*.xn--bcher-kva.example');
    expect(nameOf(normalizeName('XN--BCHER-KVA.example'))).toBe('xn--bcher-kva.example');
  });

  it('names - refuses punycode that does not decode', () => {
    expect(reasonOf(normalizeName('xn--zz.com'))).toBe("label 'xn--zz' is not valid punycode");
    expect(reasonOf(normalizeName('xn--abc-.com'))).toMatch(/not valid punycode/);
  });

  it('names - refuses an empty name', () => {
    expect(reasonOf(normalizeName(''))).toBe('the name is empty');
    expect(reasonOf(normalizeName('   '))).toBe('the name is empty');
  });

  it('names - refuses characters that are not letters, digits, hyphens or dots, with a reason per character', () => {
    expect(reasonOf(normalizeName('a b.com'))).toBe('the name contains a space');
    expect(reasonOf(normalizeName('a\u00a0b.com'))).toBe('the name contains a space');
    expect(reasonOf(normalizeName('exa_mple.com'))).toMatch(/contains '_'/);
    expect(reasonOf(normalizeName('a/b.com'))).toMatch(/contains '\/'.*without a path/);
    expect(reasonOf(normalizeName('example.com:8443'))).toMatch(/without a port/);
    expect(reasonOf(normalizeName('https://example.com'))).toMatch(/scheme \('https:\/\/'\)/);
    expect(reasonOf(normalizeName('ex@mple.com'))).toMatch(
      /contains '@'; only letters, digits, hyphens and dots/,
    );
  });

  it('names - refuses a leading or trailing dot instead of stripping it', () => {
    expect(reasonOf(normalizeName('.example.com'))).toBe('the name must not start with a dot');
    expect(reasonOf(normalizeName('example.com.'))).toBe(
      'the name must not end with a dot; write example.com',
    );
  });

  it('names - refuses empty labels', () => {
    expect(reasonOf(normalizeName('a..example.com'))).toBe('the name has an empty label (two dots in a row)');
  });

  it('names - accepts a wildcard only as the whole left-most label', () => {
    expect(nameOf(normalizeName('*.Example.com'))).toBe('*.example.com');
    const leftMost = 'the wildcard must be the whole left-most label, as in *.example.com';
    expect(reasonOf(normalizeName('a*.example.com'))).toBe(leftMost);
    expect(reasonOf(normalizeName('x.*.example.com'))).toBe(leftMost);
    expect(reasonOf(normalizeName('example.*'))).toBe(leftMost);
    expect(reasonOf(normalizeName('*.*.example.com'))).toMatch(/only one '\*'/);
    expect(reasonOf(normalizeName('*'))).toMatch(/a bare '\*' is not a name/);
  });

  it('names - enforces label and name lengths', () => {
    const label63 = 'a'.repeat(63);
    expect(nameOf(normalizeName(`${label63}.com`))).toBe(`${label63}.com`);
    const label64 = 'a'.repeat(64);
    expect(reasonOf(normalizeName(`${label64}.com`))).toBe(`label '${label64}' is longer than 63 characters`);
    // 4 × 63 + 1 = 253 characters with the dots: the longest name; one more is too long.
    const longest = [label63, label63, label63, 'a'.repeat(61)].join('.');
    expect(longest).toHaveLength(253);
    expect(nameOf(normalizeName(longest))).toBe(longest);
    expect(reasonOf(normalizeName(`a.${longest}`))).toBe('the name is longer than 253 characters');
    // The limit applies to the punycode form: 40 characters of Japanese are more than 63 in punycode.
    const japanese = '日本語のドメイン名例'.repeat(4);
    expect(japanese).toHaveLength(40);
    expect(reasonOf(normalizeName(`${japanese}.jp`))).toMatch(
      /^label 'xn--.*' is longer than 63 characters$/,
    );
  });

  it('names - refuses labels that start or end with a hyphen', () => {
    expect(reasonOf(normalizeName('-a.example.com'))).toBe("label '-a' starts with a hyphen");
    expect(reasonOf(normalizeName('a-.example.com'))).toBe("label 'a-' ends with a hyphen");
    expect(nameOf(normalizeName('my-site.example.com'))).toBe('my-site.example.com');
  });

  it('names - accepts IP addresses, bracketed IPv6 included, and flags them', () => {
    expect(normalizeName('192.0.2.1')).toEqual({ ok: true, name: '192.0.2.1', isIp: true });
    expect(normalizeName('::1')).toEqual({ ok: true, name: '::1', isIp: true });
    expect(normalizeName('[::1]')).toEqual({ ok: true, name: '::1', isIp: true });
    expect(normalizeName(' [2001:DB8:0:0::1] ')).toEqual({ ok: true, name: '2001:db8::1', isIp: true });
    expect(normalizeName('example.com')).toMatchObject({ isIp: false });
  });

  it('names - refuses IP shorthands and IPv6 zones instead of reinterpreting them', () => {
    for (const shorthand of ['1.2.3', '0x7f.1', '01.02.03.04', '127.1']) {
      expect(reasonOf(normalizeName(shorthand))).toMatch(/looks like an IP address but is not one/);
    }
    expect(reasonOf(normalizeName('fe80::1%eth0'))).toMatch(/IPv6 zone/);
    expect(reasonOf(normalizeName('[example.com]'))).toMatch(/brackets are only for IPv6/);
  });

  it('names - recognizes internal names and IP addresses', () => {
    for (const name of [
      'localhost',
      'LOCALHOST',
      'app.localhost',
      '*.localhost',
      'printer.local',
      'nas.home.arpa',
      'db.internal',
      '10.0.0.1',
      '203.0.113.7',
      '[::1]',
    ]) {
      expect(isInternalName(name), name).toBe(true);
    }
    for (const name of [
      'example.com',
      'localhost.example.com',
      'local.example.com',
      'app.test',
      'internal.io',
    ]) {
      expect(isInternalName(name), name).toBe(false);
    }
  });

  it('names - internal names and IPs never qualify for a public certificate, with the reason', () => {
    expect(reasonOf(qualifiesForPublicCert('localhost'))).toBe(
      'localhost is an internal name; it gets a certificate from the local CA, never a public one',
    );
    expect(reasonOf(qualifiesForPublicCert('NAS.home.arpa'))).toMatch(/^nas\.home\.arpa is an internal name/);
    expect(reasonOf(qualifiesForPublicCert('*.localhost'))).toMatch(/internal name/);
    expect(reasonOf(qualifiesForPublicCert('192.0.2.1'))).toMatch(/^192\.0\.2\.1 is an IP address.*local CA/);
    expect(reasonOf(qualifiesForPublicCert('a b.com'))).toBe(
      "'a b.com' is not a valid name: the name contains a space",
    );
  });

  it('names - an ACME order (routing chose ACME) may carry IP addresses, never internal DNS names', () => {
    for (const name of ['192.0.2.1', '127.0.0.1', '2001:db8::1', '[::1]', 'app.test'])
      expect(qualifiesForAcmeOrder(name), name).toEqual({ ok: true });
    expect(reasonOf(qualifiesForAcmeOrder('localhost'))).toMatch(/internal name/);
    expect(reasonOf(qualifiesForAcmeOrder('*.com'))).toMatch(/whole top-level or public suffix/);
    expect(reasonOf(qualifiesForAcmeOrder('0x7f.1'))).toMatch(/not a valid name/);
    expect([isIpName('2001:DB8:0::1'), isIpName('192.0.2.1'), isIpName('app.test')]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('names - every other valid name qualifies, .test names included', () => {
    for (const name of [
      'example.com',
      'bücher.example',
      'app.test',
      '*.app.test',
      '*.example.co.uk',
      'x.github.io',
    ]) {
      expect(qualifiesForPublicCert(name), name).toEqual({ ok: true });
    }
  });

  it('names - a wildcard directly under a top-level domain or ICANN public suffix does not qualify', () => {
    expect(reasonOf(qualifiesForPublicCert('*.com'))).toMatch(/whole top-level or public suffix/);
    expect(reasonOf(qualifiesForPublicCert('*.test'))).toMatch(/whole top-level or public suffix/);
    expect(reasonOf(qualifiesForPublicCert('*.co.uk'))).toMatch(/whole top-level or public suffix/);
  });

  it('names - registeredDomain is eTLD+1 per the Public Suffix List, private suffixes included', () => {
    expect(registeredDomain('a.b.example.co.uk')).toBe('example.co.uk');
    expect(registeredDomain('www.example.com')).toBe('example.com');
    expect(registeredDomain('example.com')).toBe('example.com');
    expect(registeredDomain('x.github.io')).toBe('x.github.io');
    expect(registeredDomain('deep.x.github.io')).toBe('x.github.io');
    expect(registeredDomain('WWW.Bücher.example')).toBe('xn--bcher-kva.example');
  });

  it('names - registeredDomain counts a wildcard as the name under it', () => {
    expect(registeredDomain('*.example.com')).toBe('example.com');
    expect(registeredDomain('*.a.example.co.uk')).toBe('example.co.uk');
  });

  it('names - registeredDomain for names off the list or without a registrable domain', () => {
    expect(registeredDomain('app.test')).toBe('app.test');
    expect(registeredDomain('a.b.app.test')).toBe('app.test');
    expect(registeredDomain('co.uk')).toBe('co.uk');
    expect(registeredDomain('github.io')).toBe('github.io');
    expect(registeredDomain('localhost')).toBe('localhost');
    expect(registeredDomain('192.0.2.1')).toBe('192.0.2.1');
  });

  it('names - sortNames normalizes, de-duplicates and sorts', () => {
    expect(sortNames(['www.example.com', 'Example.com', 'example.com ', 'bücher.example'])).toEqual([
      'example.com',
      'www.example.com',
      'xn--bcher-kva.example',
    ]);
  });

  it('names - namesKey is the same for the same set in any order or spelling', () => {
    const key = namesKey(['www.example.com', 'example.com']);
    expect(key).toBe('example.com,www.example.com');
    expect(namesKey(['EXAMPLE.com', 'www.example.com', 'example.com'])).toBe(key);
    expect(namesKey(['*.example.com', 'example.com'])).toBe('*.example.com,example.com');
  });

  it('names - namesKey and sortNames refuse invalid names', () => {
    expect(() => namesKey(['example.com', 'bad name'])).toThrow(InvalidNameError);
    expect(() => sortNames(['example.com.'])).toThrow(/'example\.com\.' is not a valid certificate name/);
  });

  it('names - covers exact names', () => {
    expect(covers(['example.com', 'www.example.com'], 'www.example.com')).toBe(true);
    expect(covers(['Example.COM'], 'example.com')).toBe(true);
    expect(covers(['xn--bcher-kva.example'], 'bücher.example')).toBe(true);
    expect(covers(['example.com'], 'www.example.com')).toBe(false);
    expect(covers([], 'example.com')).toBe(false);
  });

  it('names - a wildcard covers exactly one label deep', () => {
    expect(covers(['*.example.com'], 'a.example.com')).toBe(true);
    expect(covers(['*.example.com'], 'example.com')).toBe(false);
    expect(covers(['*.example.com'], 'a.b.example.com')).toBe(false);
    expect(covers(['*.example.com'], '*.example.com')).toBe(true);
    expect(covers(['*.example.com'], '*.a.example.com')).toBe(false);
    expect(covers(['*.a.example.com'], '*.example.com')).toBe(false);
    expect(covers(['a.example.com'], '*.example.com')).toBe(false);
  });

  it('names - covers IP addresses only exactly', () => {
    expect(covers(['[::1]'], '::1')).toBe(true);
    expect(covers(['192.0.2.1'], '192.0.2.1')).toBe(true);
    expect(covers(['192.0.2.1'], '192.0.2.2')).toBe(false);
  });

  it('names - invalid names cover nothing and are covered by nothing', () => {
    expect(covers(['bad name', 'example.com'], 'bad name')).toBe(false);
    expect(covers(['*.com.'], 'example.com.')).toBe(false);
  });
});
