import { isInternalName, normalizeName } from './names.ts';

/**
 * How a domain gets its certificate (issue 15, DESIGN.md "per-domain mode"):
 * - `acme`: ordered from the configured ACME CA and renewed by Gatehouse (the default for public names);
 * - `custom`: an operator uploads it (`POST /v1/certificates`); Gatehouse never orders one;
 * - `fallback-only`: the operator's fallback wildcard, or a self-signed certificate; no CA is ever contacted;
 * - `local-ca`: signed by the installation's own CA (the default for internal names, which no public CA issues).
 */
export const certificateModes = ['acme', 'custom', 'fallback-only', 'local-ca'] as const;
export type CertificateMode = (typeof certificateModes)[number];

/** The mode a domain gets when none is given: `local-ca` for internal names and IP addresses, else `acme`. */
export function defaultCertificateMode(hostname: string): CertificateMode {
  return isInternalName(hostname) ? 'local-ca' : 'acme';
}

/**
 * Why `mode` cannot serve `hostname`, as a sentence that says what to do, or undefined when it can.
 * Internal DNS names (`localhost`, `*.internal`, …) never go to an ACME CA (DESIGN.md policy). IP addresses may:
 * a CA that offers IP identifiers (the `shortlived` profile) issues for them, so `acme` is allowed there.
 */
export function certificateModeProblem(hostname: string, mode: CertificateMode): string | undefined {
  if (mode !== 'acme') return undefined;
  const normalized = normalizeName(hostname);
  if (normalized.ok && normalized.isIp) return undefined;
  if (!isInternalName(hostname)) return undefined;
  return (
    `${hostname} is an internal name, which no ACME CA issues for and Gatehouse never sends to one; ` +
    `use mode local-ca (the default for internal names), custom or fallback-only`
  );
}
