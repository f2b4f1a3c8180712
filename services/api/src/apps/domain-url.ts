import type { challengePreferenceSchema, wwwModeSchema } from '@gatehouse/events';
import {
  type CertificateMode,
  certificateModeProblem,
  defaultCertificateMode,
  normalizeName,
  qualifiesForPublicCert,
} from '@gatehouse/pki';
import type { z } from 'zod';

export type ChallengePreference = z.infer<typeof challengePreferenceSchema>;
export type WwwMode = z.infer<typeof wwwModeSchema>;

/** One domain of an app as the API accepts it, parsed: `https://shop.example.com` → hostname + scheme. */
export interface DomainSpec {
  /** Lower-case ASCII (punycode for IDNs). */
  hostname: string;
  https: boolean;
  challenge: ChallengePreference;
  /** How an https domain gets its certificate (pki certificateModes); defaults by name, see defaultCertificateMode. */
  mode: CertificateMode;
  /** The ACME profile its certificate is ordered with (draft-ietf-acme-profiles); null: the installation's default. */
  profile: string | null;
}

/** Why a domain URL was refused: `invalid` input, or a valid name whose certificate `mode` cannot serve it. */
export type DomainRefusal = { ok: false; reason: string; kind: 'invalid' | 'mode' };

/**
 * Parses a domain URL: scheme `http` or `https`, a host name and nothing else (no userinfo, port, path, query
 * or fragment; a lone trailing `/` is allowed). The host is normalized with normalizeName (IDN → punycode).
 * `mode` defaults by name (local-ca for internal names and IPs, else acme); an `https://` host in mode `acme`
 * must qualify for a certificate from the configured CA (IP addresses may: the CA's IP profile decides), and
 * internal DNS names never may (a `mode` refusal). Returns a reason when it fails.
 */
export function parseDomainUrl(
  url: string,
  challenge: ChallengePreference,
  requestedMode?: CertificateMode,
  profile: string | null = null,
): { ok: true; domain: DomainSpec } | DomainRefusal {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s.exec(url.trim());
  if (!match) {
    return fail(`'${url}' is not a URL; give the scheme and host, as in https://shop.example.com`);
  }
  const scheme = match[1]!.toLowerCase();
  const authority = match[2]!;
  const rest = match[3]!;
  if (scheme !== 'http' && scheme !== 'https') {
    return fail(`the scheme must be http or https, not ${scheme}`);
  }
  if (authority.includes('@')) return fail('the URL must not contain a user name or password');
  if (/:[0-9]*$/.test(authority) && !authority.endsWith(']')) {
    return fail('the URL must not contain a port; Gatehouse serves http on 80 and https on 443');
  }
  if (rest !== '' && rest !== '/') {
    return fail('the URL must not contain a path, query or fragment; give only the scheme and host');
  }
  const name = normalizeName(authority);
  if (!name.ok) return fail(`the host name is not valid: ${name.reason}`);
  if (name.isIp && name.name.includes(':')) {
    return fail('an IPv6 IP address cannot be an app domain; give a host name that resolves to it');
  }
  const https = scheme === 'https';
  const mode = requestedMode ?? defaultCertificateMode(name.name);
  if (name.name.startsWith('*.') && challenge === 'http-01' && mode === 'acme') {
    return fail('a wildcard name can only be validated with the dns-01 challenge');
  }
  if (!https && profile !== null) {
    return fail(
      'a profile chooses the kind of certificate, and an http:// domain has none; use https:// or drop it',
    );
  }
  if (https && profile !== null && mode !== 'acme') {
    return fail(
      `a profile chooses what an ACME CA issues, and this domain's mode is ${mode}; use mode acme or drop the profile`,
    );
  }
  if (https) {
    const problem = certificateModeProblem(name.name, mode);
    if (problem !== undefined) return { ok: false, reason: problem, kind: 'mode' };
    const qualifies = qualifiesForPublicCert(name.name);
    if (mode === 'acme' && !name.isIp && !qualifies.ok) return fail(qualifies.reason);
  }
  return { ok: true, domain: { hostname: name.name, https, challenge, mode, profile } };
}

/**
 * The other name a www mode adds for `hostname`: `www.<name>` for an apex, the apex for a `www.` name.
 * Undefined for mode `none` and for wildcards (a wildcard has no www counterpart).
 */
/** The longest DNS name (RFC 1035, without the root dot). */
export const maxHostnameLength = 253;

export function wwwCounterpart(hostname: string, mode: WwwMode): string | undefined {
  if (mode === 'none' || hostname.startsWith('*.')) return undefined;
  return hostname.startsWith('www.') ? hostname.slice(4) : `www.${hostname}`;
}

/** Every host name an app's domains occupy: the domains themselves plus the www counterparts its mode adds. */
export function claimedHostnames(domains: readonly Pick<DomainSpec, 'hostname'>[], mode: WwwMode): string[] {
  const names = new Set<string>();
  for (const { hostname } of domains) {
    names.add(hostname);
    const counterpart = wwwCounterpart(hostname, mode);
    if (counterpart !== undefined) names.add(counterpart);
  }
  return [...names];
}

/**
 * The names the app's certificates must cover: every https host name and, whatever the redirect direction, its
 * www counterpart (a redirect source is always covered, or the browser warns before it can be redirected).
 * With `certificateMode`, only the domains in that mode (each mode's names get a certificate of their own).
 */
export function certificateNames(
  domains: readonly DomainSpec[],
  mode: WwwMode,
  certificateMode?: CertificateMode,
): string[] {
  return claimedHostnames(
    domains.filter(
      (domain) => domain.https && (certificateMode === undefined || domain.mode === certificateMode),
    ),
    mode,
  );
}

/** The challenge for a certificate request: the domains' common preference, or `auto` when they differ. */
export function commonChallenge(
  domains: readonly Pick<DomainSpec, 'https' | 'challenge'>[],
): ChallengePreference {
  const https = domains.filter((domain) => domain.https);
  const first = https[0]?.challenge ?? 'auto';
  return https.every((domain) => domain.challenge === first) ? first : 'auto';
}

/**
 * The ACME profile for an app's certificate: the one its https domains name (parseDomains refuses two different
 * ones, since the domains share one certificate), or null for the installation's default.
 */
export function commonProfile(domains: readonly Pick<DomainSpec, 'https' | 'profile'>[]): string | null {
  return domains.find((domain) => domain.https && domain.profile !== null)?.profile ?? null;
}

function fail(reason: string): DomainRefusal {
  return { ok: false, reason, kind: 'invalid' };
}
