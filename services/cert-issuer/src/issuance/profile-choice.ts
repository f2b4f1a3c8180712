import { isIP } from 'node:net';

/** Let's Encrypt's profile for IP-address certificates (it issues them under no other). */
export const ipAddressProfile = 'shortlived';

export interface ProfileChoiceInput {
  /** The domain's own profile (carried by its issuance job); wins when set. */
  requested: string | null | undefined;
  /** The installation's `ACME_PROFILE`. */
  installationDefault: string | undefined;
  /** The certificate's names (normalized). */
  names: readonly string[];
  /** The CA's directory `meta.profiles`. */
  offered: readonly string[];
}

/**
 * Which profile to ask the CA for: the domain's choice, else `shortlived` for a certificate with an IP address
 * when the CA offers it (RFC 8738 certificates at Let's Encrypt exist only under it), else `ACME_PROFILE`.
 * The issuer still sends a profile only when the CA lists it, and drops it on `invalidProfile`.
 */
export function chooseProfile(input: ProfileChoiceInput): string | undefined {
  if (input.requested) return input.requested;
  const hasIp = input.names.some((name) => isIP(name) !== 0);
  if (hasIp && input.offered.includes(ipAddressProfile)) return ipAddressProfile;
  return input.installationDefault;
}
