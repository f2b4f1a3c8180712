import { buildCertificate, type PemPair } from './build-certificate.ts';

/**
 * A self-signed ECDSA P-256 certificate (the fallback a site serves instead of going dark); `dnsNames` become the
 * subjectAltName. Valid from now for `days` (default 10 years).
 */
export function createSelfSignedCertificate(options: {
  commonName: string;
  dnsNames?: string[];
  days?: number;
}): Promise<PemPair> {
  const now = new Date();
  return buildCertificate({
    commonName: options.commonName,
    names: options.dnsNames,
    notBefore: now,
    notAfter: new Date(now.getTime() + (options.days ?? 3650) * 86_400_000),
  });
}
