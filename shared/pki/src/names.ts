import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { parse as parseDomain } from 'tldts';

/**
 * Certificate names: which strings are names at all, which ones a public CA may be asked for, how a set of names
 * is keyed, and which names a certificate covers. The rules follow CertMagic's SubjectQualifiesForCert and
 * SubjectQualifiesForPublicCert (see DESIGN.md, "Certificates: policy, in short").
 */

/**
 * The outcome of {@link normalizeName}. `name` is lower-case ASCII (IDNs as punycode, IPv6 without brackets in
 * its compressed form); `isIp` flags an IP address, which is a valid name but only ever gets the local CA.
 * `reason` is a sentence for the user saying what is wrong with the input.
 */
export type NameResult = { ok: true; name: string; isIp: boolean } | { ok: false; reason: string };

export class InvalidNameError extends Error {
  override readonly name = 'InvalidNameError';
  readonly input: string;

  constructor(input: string, reason: string) {
    super(`'${input}' is not a valid certificate name: ${reason}`);
    this.input = input;
  }
}

const maxNameLength = 253;
const maxLabelLength = 63;
/** IDNA maps these full stops to '.'; do it before splitting so `bücher。example` has two labels. */
const unicodeDots = /[\u3002\uff0e\uff61]/g;
const asciiLabel = /^[a-z0-9-]+$/;
const wildcardExample = 'as in *.example.com';

/**
 * Trims, lower-cases and converts a name to the form certificates and keys use, or says why it is not a name.
 *
 * Contract: nothing is stripped or rewritten silently beyond trimming, case and IDNA mapping — a trailing dot, a
 * scheme, a port or a path is refused with a reason, never dropped. IPv4 must be dotted-decimal (no `0x7f.1`
 * shorthand); IPv6 may be bracketed.
 */
export function normalizeName(input: string): NameResult {
  const trimmed = input.trim();
  if (trimmed === '') return refuse('the name is empty');

  const ip = normalizeIp(trimmed);
  if (ip !== undefined) return ip;

  const lower = trimmed.toLowerCase().replace(unicodeDots, '.');
  const badChar = findBadCharacter(lower);
  if (badChar !== undefined) return refuse(badChar);

  if (lower.startsWith('.')) return refuse('the name must not start with a dot');
  if (lower.endsWith('.'))
    return refuse(`the name must not end with a dot; write ${lower.replace(/\.+$/, '')}`);

  const labels = lower.split('.');
  const wildcard = checkWildcard(lower, labels);
  if (wildcard !== undefined) return refuse(wildcard);

  const ascii: string[] = [];
  for (const label of labels) {
    if (label === '') return refuse('the name has an empty label (two dots in a row)');
    if (label === '*') {
      ascii.push(label);
      continue;
    }
    const converted = toAsciiLabel(label);
    if (!converted.ok) return converted;
    ascii.push(converted.name);
  }

  for (const label of ascii) {
    if (label.length > maxLabelLength)
      return refuse(`label '${label}' is longer than ${maxLabelLength} characters`);
    if (label.startsWith('-')) return refuse(`label '${label}' starts with a hyphen`);
    if (label.endsWith('-')) return refuse(`label '${label}' ends with a hyphen`);
  }
  const name = ascii.join('.');
  if (name.length > maxNameLength) return refuse(`the name is longer than ${maxNameLength} characters`);
  // An all-digit last label is never a top-level domain; such input is a mistyped or shorthand IP address.
  if (/^[0-9]+$/.test(ascii[ascii.length - 1]!)) {
    return refuse(
      'the name looks like an IP address but is not one; write IPv4 addresses as four numbers, as in 192.0.2.1',
    );
  }
  return { ok: true, name, isIp: false };
}

/**
 * Whether a name is internal: exactly `localhost`, anything under `.localhost`, `.local`, `.home.arpa` or
 * `.internal` (and those zones themselves), or an IP address. Internal names MUST NOT be sent to a public CA;
 * they get a certificate from the local CA. Accepts raw or normalized input.
 */
export function isInternalName(name: string): boolean {
  const normalized = normalizeName(name);
  if (normalized.ok && normalized.isIp) return true;
  const host = normalized.ok ? normalized.name : name.trim().toLowerCase();
  return internalZones.some((zone) => host === zone || host.endsWith(`.${zone}`));
}

const internalZones = ['localhost', 'local', 'home.arpa', 'internal'];

/**
 * Whether a name may be sent to the configured ACME CA: a valid name that is not internal and, for a wildcard,
 * one with a registrable domain under it (CertMagic's "3+ labels" rule, plus no wildcard directly under an
 * ICANN public suffix such as `*.co.uk`, which no CA issues). Every other name qualifies, including reserved
 * test TLDs such as `.test`: a private or test CA (Pebble, step-ca) issues for them and a public CA refuses them
 * with a policy error of its own.
 */
export function qualifiesForPublicCert(name: string): { ok: true } | { ok: false; reason: string } {
  const normalized = normalizeName(name);
  if (!normalized.ok)
    return { ok: false, reason: `'${name.trim()}' is not a valid name: ${normalized.reason}` };
  const host = normalized.name;
  if (normalized.isIp) {
    return {
      ok: false,
      reason: `${host} is an IP address; it gets a certificate from the local CA, never a public one`,
    };
  }
  if (isInternalName(host)) {
    return {
      ok: false,
      reason: `${host} is an internal name; it gets a certificate from the local CA, never a public one`,
    };
  }
  if (host.startsWith('*.')) {
    const base = host.slice(2);
    const parsed = parseDomain(base, tldtsOptions);
    if (!base.includes('.') || (parsed.isIcann === true && parsed.publicSuffix === base)) {
      return {
        ok: false,
        reason: `${host} would cover a whole top-level or public suffix; use a wildcard under your own domain, ${wildcardExample}`,
      };
    }
  }
  return { ok: true };
}

/**
 * Whether a name may go into an ACME order once routing has chosen ACME for it: what {@link qualifiesForPublicCert}
 * allows, plus IP addresses (RFC 8738 `ip` identifiers; a domain whose mode is `acme` may ask for one, and Let's
 * Encrypt issues them under its `shortlived` profile). Internal DNS names stay refused: no CA can validate them.
 */
export function qualifiesForAcmeOrder(name: string): { ok: true } | { ok: false; reason: string } {
  const normalized = normalizeName(name);
  if (normalized.ok && normalized.isIp) return { ok: true };
  return qualifiesForPublicCert(name);
}

/** Whether a name is an IP address (in any form {@link normalizeName} accepts). */
export function isIpName(name: string): boolean {
  const normalized = normalizeName(name);
  return normalized.ok && normalized.isIp;
}

const tldtsOptions = { allowPrivateDomains: true, extractHostname: false, detectIp: false } as const;

/**
 * The registrable domain (eTLD+1 per the Public Suffix List, private suffixes included) that a CA counts rate
 * limits against: `a.b.example.co.uk` → `example.co.uk`, `x.github.io` → `x.github.io`. A wildcard counts as the
 * name under it. Names on TLDs missing from the list (`.test`) take the PSL default rule, so `a.app.test` →
 * `app.test`. A name that has no registrable domain — a public suffix itself (`co.uk`, `github.io`), a single
 * label, an IP address — is returned as it is: it is its own bucket. Never throws: input that is not a valid
 * name is trimmed and lower-cased and treated the same way, so a bucket always exists.
 */
export function registeredDomain(name: string): string {
  const normalized = normalizeName(name);
  const host = normalized.ok ? normalized.name : name.trim().toLowerCase();
  if (normalized.ok && normalized.isIp) return host;
  const base = host.startsWith('*.') ? host.slice(2) : host;
  return parseDomain(base, tldtsOptions).domain ?? base;
}

/**
 * The normalized names, de-duplicated and sorted by code unit (locale-independent). Throws
 * {@link InvalidNameError} for a name that does not normalize: validate user input with {@link normalizeName}.
 */
export function sortNames(names: readonly string[]): string[] {
  const unique = new Set<string>();
  for (const input of names) {
    const normalized = normalizeName(input);
    if (!normalized.ok) throw new InvalidNameError(input, normalized.reason);
    unique.add(normalized.name);
  }
  return [...unique].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The canonical key of a name set: {@link sortNames} joined with ','. Keys are stored (certificates.names_key,
 * lock names, rate-limit scopes), so this format MUST NOT change. Throws {@link InvalidNameError} like sortNames.
 */
export function namesKey(names: readonly string[]): string {
  return sortNames(names).join(',');
}

/**
 * Whether a certificate for `certNames` covers `name`: an exact match, or a wildcard exactly one label deep
 * (`*.example.com` covers `a.example.com`, not `example.com` nor `a.b.example.com`). Names are compared
 * normalized; names that do not normalize cover nothing and are covered by nothing.
 */
export function covers(certNames: readonly string[], name: string): boolean {
  const wanted = normalizeName(name);
  if (!wanted.ok) return false;
  // The parent a wildcard must name to cover `wanted`; IPs, wildcards and single labels have none.
  const dot = wanted.name.indexOf('.');
  const parent =
    wanted.isIp || wanted.name.startsWith('*.') || dot < 0 ? undefined : wanted.name.slice(dot + 1);
  return certNames.some((certName) => {
    const held = normalizeName(certName);
    if (!held.ok) return false;
    return held.name === wanted.name || (parent !== undefined && held.name === `*.${parent}`);
  });
}

function refuse(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

/** IP addresses in their canonical form, a refusal for malformed bracketed input, or undefined for other names. */
function normalizeIp(trimmed: string): NameResult | undefined {
  const bracketed = trimmed.startsWith('[') && trimmed.endsWith(']');
  const inner = bracketed ? trimmed.slice(1, -1) : trimmed;
  if (isIPv6(inner)) {
    if (inner.includes('%'))
      return refuse('an IPv6 zone (the part after %) does not belong in a certificate name');
    // The WHATWG URL parser yields the compressed lower-case form, so `2001:DB8:0::1` and `2001:db8::1` are one name.
    return { ok: true, name: new URL(`http://[${inner}]`).hostname.slice(1, -1), isIp: true };
  }
  if (bracketed) return refuse('brackets are only for IPv6 addresses, as in [2001:db8::1]');
  if (isIPv4(inner)) return { ok: true, name: inner, isIp: true };
  return undefined;
}

/**
 * A reason for the first character that can never be part of a name, checked before IDNA conversion because
 * the WHATWG host parser would otherwise cut `a/b.com` down to `a` without a word.
 */
function findBadCharacter(lower: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(lower)) {
    return `the name includes a scheme ('${lower.slice(0, lower.indexOf('://') + 3)}'); give only the host name, as in example.com`;
  }
  for (const char of lower) {
    if (/\s/u.test(char)) return 'the name contains a space';
    // Non-ASCII characters are judged by the IDNA conversion, per label.
    if (/[a-z0-9.*-]/.test(char) || char.charCodeAt(0) > 0x7f) continue;
    if (char === '/') return "the name contains '/'; give only the host name, without a path";
    if (char === ':') return "the name contains ':'; give the name without a port";
    if (char === '_') return "the name contains '_'; underscores are not allowed in certificate names";
    return `the name contains '${char}'; only letters, digits, hyphens and dots are allowed, plus a leading '*.' for a wildcard`;
  }
  return undefined;
}

/** A reason when '*' is anywhere but the whole left-most label of a name with at least one more label. */
function checkWildcard(lower: string, labels: readonly string[]): string | undefined {
  const stars = lower.split('*').length - 1;
  if (stars === 0) return undefined;
  if (lower === '*')
    return `a bare '*' is not a name; a wildcard needs a domain under it, ${wildcardExample}`;
  if (stars > 1) return `a name may contain only one '*', as the whole left-most label, ${wildcardExample}`;
  if (labels[0] !== '*') return `the wildcard must be the whole left-most label, ${wildcardExample}`;
  return undefined;
}

/** One Unicode or ASCII label as ASCII; punycode labels (`xn--…`) must decode and re-encode to themselves. */
function toAsciiLabel(label: string): NameResult {
  if (label.startsWith('xn--')) {
    // domainToASCII passes undecodable punycode through unchanged, so check the round trip instead.
    const decoded = domainToUnicode(label);
    if (decoded === label || domainToASCII(decoded) !== label)
      return refuse(`label '${label}' is not valid punycode`);
    return { ok: true, name: label, isIp: false };
  }
  if ([...label].every((char) => char.charCodeAt(0) <= 0x7f)) return { ok: true, name: label, isIp: false };
  // Converted one label at a time so the host parser cannot reinterpret the whole name (as an IPv4 number, say).
  const converted = domainToASCII(label);
  if (!asciiLabel.test(converted)) {
    return refuse(`label '${label}' is not a valid internationalized label`);
  }
  return { ok: true, name: converted, isIp: false };
}
