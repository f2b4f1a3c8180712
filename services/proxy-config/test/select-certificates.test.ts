import { describe, expect, it } from 'vitest';
import {
  type AppCertificateRow,
  type CustomCertificateRow,
  coverage,
  selectCertificates,
} from '../src/sync/select-certificates.ts';

const now = new Date('2026-11-22T10:00:00Z');
const future = new Date('2026-12-22T10:00:00Z');
const past = new Date('2026-11-01T10:00:00Z');

function acme(overrides: Partial<AppCertificateRow> = {}): AppCertificateRow {
  return {
    id: 'acme-1',
    names: ['shop.test', 'www.shop.test'],
    status: 'valid',
    source: 'acme',
    chainPem: 'ACME-CHAIN',
    keySealed: 'ACME-KEY',
    notAfter: future,
    fallbackChainPem: null,
    fallbackKeySealed: null,
    ...overrides,
  };
}

function custom(
  id: string,
  names: string[],
  overrides: Partial<CustomCertificateRow> = {},
): CustomCertificateRow {
  return { id, names, chainPem: `${id}-CHAIN`, keySealed: `${id}-KEY`, notAfter: future, ...overrides };
}

const keys = (input: Parameters<typeof selectCertificates>[0]) =>
  selectCertificates(input).map((choice) => choice.key);

describe('certificate choice', () => {
  const base = {
    hostnames: ['shop.test', 'www.shop.test'],
    customCertificates: [] as CustomCertificateRow[],
    operatorFallback: undefined,
    now,
  };

  it('certs - a one-label wildcard covers one label only', () => {
    expect(coverage(['*.example.com'], 'a.example.com')).toBe('wildcard');
    expect(coverage(['*.example.com'], 'a.b.example.com')).toBe('none');
    expect(coverage(['*.example.com'], 'example.com')).toBe('none');
    expect(coverage(['a.example.com'], 'a.example.com')).toBe('exact');
    expect(coverage(['*.example.com'], '*.example.com')).toBe('exact');
  });

  it('certs - the last good ACME certificate is served while valid, renewing or failed, nothing while pending', () => {
    for (const status of ['valid', 'renewing', 'failed']) {
      expect(keys({ ...base, appCertificates: [acme({ status })] })).toEqual(['acme-1:chain']);
    }
    expect(
      keys({ ...base, appCertificates: [acme({ status: 'pending', chainPem: null, keySealed: null })] }),
    ).toEqual([]);
  });

  it('certs - an expired or fallback certificate gives way to its self-signed fallback', () => {
    const withFallback = { fallbackChainPem: 'SELF-SIGNED', fallbackKeySealed: 'SELF-KEY' };
    expect(keys({ ...base, appCertificates: [acme({ notAfter: past, ...withFallback })] })).toEqual([
      'acme-1:fallback',
    ]);
    expect(keys({ ...base, appCertificates: [acme({ status: 'fallback', ...withFallback })] })).toEqual([
      'acme-1:fallback',
    ]);
    // Expired with no fallback made yet: nothing listed (Traefik serves the default certificate).
    expect(keys({ ...base, appCertificates: [acme({ notAfter: past })] })).toEqual([]);
    const chosen = selectCertificates({
      ...base,
      appCertificates: [acme({ notAfter: past, ...withFallback })],
    });
    expect(chosen[0]).toMatchObject({ certPem: 'SELF-SIGNED', keySealed: 'SELF-KEY' });
  });

  it("certs - the operator's fallback wildcard replaces the self-signed fallback where it covers the name, and only there", () => {
    const wildcard = custom('wild', ['*.test']);
    const withFallback = {
      status: 'fallback',
      fallbackChainPem: 'SELF-SIGNED',
      fallbackKeySealed: 'SELF-KEY',
    };
    // Covers shop.test but not www.shop.test (two labels): the self-signed one would compete for shop.test
    // (it names it exactly), so it is left out and www.shop.test falls to the default certificate.
    expect(
      keys({
        ...base,
        appCertificates: [acme(withFallback)],
        customCertificates: [wildcard],
        operatorFallback: wildcard,
      }),
    ).toEqual(['wild:chain']);
    const both = custom('wild2', ['*.shop.test', 'shop.test']);
    expect(
      keys({
        ...base,
        appCertificates: [acme(withFallback)],
        customCertificates: [both],
        operatorFallback: both,
      }),
    ).toEqual(['wild2:chain']);
    // While the ACME certificate is fine, the operator's fallback is not used at all.
    expect(
      keys({ ...base, appCertificates: [acme()], customCertificates: [both], operatorFallback: both }),
    ).toEqual(['acme-1:chain']);
  });

  it('certs - a valid custom certificate covering a name wins over ACME, and the two are never listed together', () => {
    const mine = custom('mine', ['shop.test', 'www.shop.test']);
    expect(keys({ ...base, appCertificates: [acme()], customCertificates: [mine] })).toEqual(['mine:chain']);
    const wildcard = custom('wild', ['*.shop.test']);
    // The wildcard covers www.shop.test only; the ACME certificate names it exactly and would win it in
    // Traefik, so it cannot be listed beside: the custom certificate takes what it covers, ACME is dropped.
    expect(keys({ ...base, appCertificates: [acme()], customCertificates: [wildcard] })).toEqual([
      'wild:chain',
    ]);
    const expired = custom('old', ['shop.test', 'www.shop.test'], { notAfter: past });
    expect(keys({ ...base, appCertificates: [acme()], customCertificates: [expired] })).toEqual([
      'acme-1:chain',
    ]);
    // A custom certificate for other names changes nothing.
    expect(
      keys({ ...base, appCertificates: [acme()], customCertificates: [custom('else', ['other.test'])] }),
    ).toEqual(['acme-1:chain']);
  });

  it('certs - a renewed certificate replaces the fallback: the row is valid again, its fallback columns are ignored', () => {
    const renewed = acme({ fallbackChainPem: 'SELF-SIGNED', fallbackKeySealed: 'SELF-KEY', chainPem: 'NEW' });
    const chosen = selectCertificates({ ...base, appCertificates: [renewed] });
    expect(chosen.map((choice) => [choice.key, choice.certPem])).toEqual([['acme-1:chain', 'NEW']]);
  });
});
