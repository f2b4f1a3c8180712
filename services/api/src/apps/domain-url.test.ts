import { describe, expect, it } from 'vitest';
import {
  certificateNames,
  claimedHostnames,
  commonChallenge,
  commonProfile,
  parseDomainUrl,
  wwwCounterpart,
} from './domain-url.ts';
import { describeBadImageReference } from './image-reference.ts';

describe('api domain urls', () => {
  it('api - a domain URL keeps only scheme and host, normalized to punycode', () => {
    expect(parseDomainUrl('HTTPS://Shop.Example.COM/', 'auto')).toEqual({
      ok: true,
      domain: { hostname: 'shop.example.com', https: true, challenge: 'auto', mode: 'acme', profile: null },
    });
    expect(parseDomainUrl('http://bücher.example', 'http-01')).toEqual({
      ok: true,
      domain: {
        hostname: 'xn--bcher-kva.example',
        https: false,
        challenge: 'http-01',
        mode: 'acme',
        profile: null,
      },
    });
  });

  it('api - a domain URL with anything beyond scheme and host is refused with a reason', () => {
    const reasons = [
      ['shop.example.com', /not a URL/],
      ['ftp://shop.example.com', /http or https/],
      ['https://shop.example.com:443', /port/],
      ['https://user@shop.example.com', /user name/],
      ['https://shop.example.com/a', /path/],
      ['https://shop.example.com?x=1', /query/],
      ['https://shop.example.com#top', /fragment/],
      ['https://shop_1.example.com', /underscore/],
      ['https://', /empty/],
      ['https://*.example.com', undefined],
    ] as const;
    for (const [url, reason] of reasons) {
      const parsed = parseDomainUrl(url, 'auto');
      if (reason === undefined) expect(parsed.ok, url).toBe(true);
      else expect(parsed.ok ? 'accepted' : parsed.reason, url).toMatch(reason);
    }
    expect(parseDomainUrl('https://*.example.com', 'http-01')).toMatchObject({ ok: false, reason: /dns-01/ });
    expect(parseDomainUrl('http://localhost', 'auto').ok).toBe(true);
  });

  it('api - internal names and IPs default to the local CA; acme is refused for internal DNS names only', () => {
    expect(parseDomainUrl('https://app.internal', 'auto')).toMatchObject({
      ok: true,
      domain: { mode: 'local-ca' },
    });
    expect(parseDomainUrl('https://192.0.2.1', 'auto')).toMatchObject({
      ok: true,
      domain: { mode: 'local-ca' },
    });
    expect(parseDomainUrl('https://localhost', 'auto', 'acme')).toMatchObject({
      ok: false,
      kind: 'mode',
      reason: /internal name.*local-ca/,
    });
    expect(parseDomainUrl('https://192.0.2.1', 'auto', 'acme')).toMatchObject({
      ok: true,
      domain: { mode: 'acme' },
    });
    expect(parseDomainUrl('https://shop.example.com', 'auto', 'custom')).toMatchObject({
      ok: true,
      domain: { mode: 'custom' },
    });
    expect(parseDomainUrl('https://*.com', 'dns-01')).toMatchObject({ ok: false, kind: 'invalid' });
  });

  it('api - www modes add the counterpart, which the certificate always covers', () => {
    expect(wwwCounterpart('shop.test', 'none')).toBeUndefined();
    expect(wwwCounterpart('shop.test', 'redirect-to-www')).toBe('www.shop.test');
    expect(wwwCounterpart('www.shop.test', 'redirect-to-apex')).toBe('shop.test');
    expect(wwwCounterpart('*.shop.test', 'both')).toBeUndefined();
    const domains = [
      {
        hostname: 'shop.test',
        https: true,
        challenge: 'http-01' as const,
        mode: 'acme' as const,
        profile: null,
      },
      {
        hostname: 'plain.test',
        https: false,
        challenge: 'dns-01' as const,
        mode: 'acme' as const,
        profile: null,
      },
    ];
    expect(claimedHostnames(domains, 'both').sort()).toEqual([
      'plain.test',
      'shop.test',
      'www.plain.test',
      'www.shop.test',
    ]);
    expect(certificateNames(domains, 'redirect-to-apex')).toEqual(['shop.test', 'www.shop.test']);
    expect(certificateNames(domains, 'none')).toEqual(['shop.test']);
    expect(commonChallenge(domains)).toBe('http-01');
    expect(
      commonChallenge([
        ...domains,
        {
          hostname: 'b.test',
          https: true,
          challenge: 'dns-01' as const,
          mode: 'acme' as const,
          profile: null,
        },
      ]),
    ).toBe('auto');
  });

  it('api - a domain’s ACME profile is kept for https:// and refused for http:// or a mode other than acme; the app’s certificate takes it', () => {
    expect(parseDomainUrl('https://shop.example.com', 'auto', undefined, 'shortlived')).toMatchObject({
      ok: true,
      domain: { profile: 'shortlived' },
    });
    expect(parseDomainUrl('http://shop.example.com', 'auto', undefined, 'classic')).toMatchObject({
      ok: false,
      reason: /http:\/\/ domain has none/,
    });
    expect(parseDomainUrl('https://wiki.internal', 'auto', undefined, 'classic')).toMatchObject({
      ok: false,
      reason: /mode is local-ca/,
    });
    expect(
      commonProfile([
        { https: false, profile: null },
        { https: true, profile: null },
        { https: true, profile: 'tlsserver' },
      ]),
    ).toBe('tlsserver');
    expect(commonProfile([{ https: true, profile: null }])).toBeNull();
  });

  it('api - image references follow the Docker grammar', () => {
    for (const image of [
      'nginx',
      'nginx:1.27-alpine',
      'library/nginx',
      'ghcr.io/acme/shop:v2',
      'localhost:5000/team/app_name:latest',
      `busybox@sha256:${'a'.repeat(64)}`,
      `registry.example.com/a/b/c:1.0@sha256:${'0'.repeat(64)}`,
    ]) {
      expect(describeBadImageReference(image), image).toBeUndefined();
    }
    expect(describeBadImageReference('nginx latest')).toMatch(/space/);
    expect(describeBadImageReference('')).toMatch(/empty/);
    expect(describeBadImageReference('ghcr.io/Acme/Shop')).toMatch(/lower-case/);
    expect(describeBadImageReference('nginx@sha256:xyz')).toMatch(/digest/);
    expect(describeBadImageReference('nginx:')).toMatch(/not a Docker image reference/);
    expect(describeBadImageReference('-nginx')).toMatch(/not a Docker image reference/);
  });
});
