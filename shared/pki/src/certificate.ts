import { createPrivateKey, X509Certificate } from 'node:crypto';

/** What Gatehouse keeps about a certificate, read from its PEM. */
export interface CertificateFacts {
  /** DNS names from the subjectAltName, lower-case, sorted. */
  names: string[];
  notBefore: Date;
  notAfter: Date;
  /** Serial number, lower-case hex without separators. */
  serial: string;
  issuer: string;
  subject: string;
}

const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Splits a PEM bundle into its certificates, in order; throws on anything that does not parse. */
export function splitCertificateChain(pem: string): X509Certificate[] {
  const blocks = pem.match(pemBlock) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate found (expected -----BEGIN CERTIFICATE-----)');
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new Error(`certificate ${index + 1} in the chain does not parse`, { cause: error });
    }
  });
}

export function certificateFacts(certificate: X509Certificate): CertificateFacts {
  const names = (certificate.subjectAltName ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase())
    .sort();
  return {
    names,
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
    serial: certificate.serialNumber.toLowerCase().replace(/[^0-9a-f]/g, ''),
    issuer: certificate.issuer,
    subject: certificate.subject,
  };
}

/** Whether `keyPem` is the private key of `certificate`. */
export function keyMatchesCertificate(certificate: X509Certificate, keyPem: string): boolean {
  try {
    return certificate.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}
