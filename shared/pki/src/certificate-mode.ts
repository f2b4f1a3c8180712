import { type CertificateMode, certificateModeSchema } from '@gatehouse/events';
import { isInternalName, normalizeName } from './names.ts';

/** The modes (defined with the bus contracts in @gatehouse/events, so the database schema can name them too). */
export const certificateModes = certificateModeSchema.options;
export type { CertificateMode };

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
