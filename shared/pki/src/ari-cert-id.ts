import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

/**
 * The ARI certificate identifier (RFC 9773 §4.1): base64url(AuthorityKeyIdentifier keyIdentifier) "."
 * base64url(serial number), where the serial is the DER INTEGER's content bytes. It names the certificate in
 * `renewalInfo` URLs and in a new order's `replaces` field.
 */

/** Thrown when a certificate has no AKI keyIdentifier (then it has no ARI identifier) or does not parse. */
export class AriCertIdError extends Error {
  override readonly name = 'AriCertIdError';
}

const pemCertificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/** The ARI identifier of the first certificate in `pem` (the leaf of a chain). */
export function ariCertId(pem: string): string {
  const block = pemCertificate.exec(pem)?.[0];
  if (block === undefined) throw new AriCertIdError('no PEM certificate found');
  let certificate: x509.X509Certificate;
  try {
    certificate = new x509.X509Certificate(block);
  } catch (error) {
    throw new AriCertIdError('the certificate does not parse', { cause: error });
  }
  const keyId = certificate.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
  if (keyId === undefined) throw new AriCertIdError('the certificate has no authority key identifier');
  const hex = (text: string) => Buffer.from(text, 'hex').toString('base64url');
  return `${hex(keyId)}.${hex(derIntegerContent(certificate.serialNumber))}`;
}

/**
 * The DER content bytes of a positive INTEGER from its hex value (@peculiar/x509 gives the serial without the
 * sign byte): DER's minimal two's-complement form has a leading 0x00 exactly when the top bit would be set.
 */
function derIntegerContent(hexValue: string): string {
  const even = hexValue.length % 2 === 1 ? `0${hexValue}` : hexValue;
  return Number.parseInt(even.slice(0, 2), 16) >= 0x80 ? `00${even}` : even;
}
