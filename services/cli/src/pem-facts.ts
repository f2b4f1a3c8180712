import { X509Certificate } from 'node:crypto';

/** What `gatehouse inspect` shows of one certificate in a chain. */
export interface PemFacts {
  subject: string;
  issuer: string;
  serial: string;
  names: string[];
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  keyType: string;
  fingerprintSha256: string;
  isCa: boolean;
}

/** Splits a PEM bundle into certificates and reads each with node:crypto; a block that does not parse throws. */
export function pemChainFacts(pem: string, now = Date.now()): PemFacts[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => {
    const certificate = new X509Certificate(block);
    const notAfter = new Date(certificate.validTo);
    return {
      subject: certificate.subject.replace(/\n/g, ', '),
      issuer: certificate.issuer.replace(/\n/g, ', '),
      serial: certificate.serialNumber,
      names: (certificate.subjectAltName ?? '')
        .split(', ')
        .filter(Boolean)
        .map((entry) => entry.replace(/^(DNS|IP Address):/, '')),
      notBefore: new Date(certificate.validFrom).toISOString(),
      notAfter: notAfter.toISOString(),
      daysLeft: Math.floor(((notAfter.getTime() - now) / 86_400_000) * 10) / 10,
      keyType: describeKey(certificate),
      fingerprintSha256: certificate.fingerprint256,
      isCa: certificate.ca,
    };
  });
}

function describeKey(certificate: X509Certificate): string {
  const key = certificate.publicKey;
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') return `ECDSA ${details?.namedCurve ?? ''}`.trim();
  if (key.asymmetricKeyType === 'rsa') return `RSA ${details?.modulusLength ?? ''}`.trim();
  return key.asymmetricKeyType ?? 'unknown';
}
