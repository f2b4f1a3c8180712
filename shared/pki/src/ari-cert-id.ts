/**
 * The ARI certificate identifier (RFC 9773 §4.1): base64url(AuthorityKeyIdentifier keyIdentifier) "."
 * base64url(serial number), where the serial is the DER INTEGER's content bytes (a leading 0x00 included
 * when the CA's encoding has one). It names the certificate in `renewalInfo` URLs and in a new order's
 * `replaces` field.
 *
 * Node's X509Certificate exposes neither the AKI nor the serial's exact bytes, so this reads the few DER
 * fields it needs (RFC 5280 §4.1: Certificate → tbsCertificate → serialNumber, extensions [3]).
 */

/** Thrown when a certificate has no AKI keyIdentifier (then it has no ARI identifier) or is not DER. */
export class AriCertIdError extends Error {
  override readonly name = 'AriCertIdError';
}

/** The ARI identifier of the first certificate in `pem` (the leaf of a chain). */
export function ariCertId(pem: string): string {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!match) throw new AriCertIdError('no PEM certificate found');
  return ariCertIdFromDer(Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64'));
}

export function ariCertIdFromDer(der: Buffer): string {
  const certificate = readTlv(der, 0, 0x30);
  const tbs = readTlv(der, certificate.contentStart, 0x30);
  let offset = tbs.contentStart;
  if (der[offset] === 0xa0) offset = readTlv(der, offset, 0xa0).end; // version [0] EXPLICIT, optional
  const serial = readTlv(der, offset, 0x02);
  const serialBytes = der.subarray(serial.contentStart, serial.end);

  // Skip signature, issuer, validity, subject, subjectPublicKeyInfo; then optional [1], [2], [3].
  offset = serial.end;
  for (let skipped = 0; skipped < 5; skipped++) offset = readTlv(der, offset).end;
  let keyIdentifier: Buffer | undefined;
  while (offset < tbs.end) {
    const field = readTlv(der, offset);
    if (der[offset] === 0xa3) keyIdentifier = findAuthorityKeyId(der, field.contentStart, field.end);
    offset = field.end;
  }
  if (!keyIdentifier) throw new AriCertIdError('the certificate has no authority key identifier');
  return `${keyIdentifier.toString('base64url')}.${serialBytes.toString('base64url')}`;
}

/** id-ce-authorityKeyIdentifier, 2.5.29.35, as DER OID content bytes. */
const akiOid = Buffer.from([0x55, 0x1d, 0x23]);

function findAuthorityKeyId(der: Buffer, start: number, end: number): Buffer | undefined {
  const extensions = readTlv(der, start, 0x30);
  for (let offset = extensions.contentStart; offset < extensions.end; ) {
    const extension = readTlv(der, offset, 0x30);
    const oid = readTlv(der, extension.contentStart, 0x06);
    if (der.subarray(oid.contentStart, oid.end).equals(akiOid)) {
      let next = oid.end;
      if (der[next] === 0x01) next = readTlv(der, next, 0x01).end; // critical BOOLEAN, optional
      const value = readTlv(der, next, 0x04);
      const aki = readTlv(der, value.contentStart, 0x30);
      // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... }
      if (aki.contentStart < aki.end && der[aki.contentStart] === 0x80) {
        const keyId = readTlv(der, aki.contentStart, 0x80);
        return der.subarray(keyId.contentStart, keyId.end);
      }
      return undefined;
    }
    offset = extension.end;
  }
  if (extensions.end > end) throw new AriCertIdError('malformed extensions');
  return undefined;
}

/** One DER TLV at `offset` (definite lengths only, as DER requires). */
function readTlv(der: Buffer, offset: number, expectedTag?: number) {
  const tag = der[offset];
  if (tag === undefined || (expectedTag !== undefined && tag !== expectedTag)) {
    throw new AriCertIdError(
      `malformed certificate: expected tag ${expectedTag} at byte ${offset}, got ${tag}`,
    );
  }
  let length = der[offset + 1];
  let contentStart = offset + 2;
  if (length === undefined) throw new AriCertIdError('malformed certificate: truncated');
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4) throw new AriCertIdError('malformed certificate: bad length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (der[offset + 2 + i] ?? 0);
    contentStart += bytes;
  }
  const end = contentStart + length;
  if (end > der.length) throw new AriCertIdError('malformed certificate: truncated');
  return { contentStart, end };
}
