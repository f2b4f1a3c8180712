import { isIP } from 'node:net';

/** An ACME identifier (RFC 8555 §7.1.4; `ip` from RFC 8738). */
export interface AcmeIdentifier {
  type: 'dns' | 'ip';
  value: string;
}

/**
 * The identifier for a certificate name. Names arrive normalized (`normalizeName`: IPv4 dotted-decimal, IPv6 in
 * RFC 5952 form without brackets), which is also the textual form RFC 8738 §3 asks for, so the value is the name.
 */
export function acmeIdentifierOf(name: string): AcmeIdentifier {
  return { type: isIP(name) === 0 ? 'dns' : 'ip', value: name };
}
