import { createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { isIP } from 'node:net';
import {
  derBitString,
  derBoolean,
  derContextConstructed,
  derContextPrimitive,
  derNull,
  derObjectIdentifier,
  derOctetString,
  derSequence,
  derSet,
  derSmallInteger,
  derUtf8String,
} from './der.ts';
import { ipAddressBytes } from './ip-address-bytes.ts';

/** RFC 5280 upper bound of a commonName (ub-common-name). */
const maxCommonNameLength = 64;

const oid = {
  commonName: derObjectIdentifier('2.5.4.3'),
  extensionRequest: derObjectIdentifier('1.2.840.113549.1.9.14'),
  subjectAltName: derObjectIdentifier('2.5.29.17'),
  ecdsaWithSha256: derObjectIdentifier('1.2.840.10045.4.3.2'),
  ecdsaWithSha384: derObjectIdentifier('1.2.840.10045.4.3.3'),
  sha256WithRsaEncryption: derObjectIdentifier('1.2.840.113549.1.1.11'),
};

/** The signature a key makes: its hash and the AlgorithmIdentifier naming it. */
function signatureAlgorithmOf(key: KeyObject): { hash: 'sha256' | 'sha384'; identifier: Buffer } {
  if (key.asymmetricKeyType === 'rsa') {
    // RFC 4055: sha256WithRSAEncryption carries an explicit NULL parameter.
    return { hash: 'sha256', identifier: derSequence(oid.sha256WithRsaEncryption, derNull()) };
  }
  if (key.asymmetricKeyType === 'ec') {
    // RFC 5758 §3.2: ecdsa-with-SHA* has no parameters; the hash matches the curve's strength.
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { hash: 'sha256', identifier: derSequence(oid.ecdsaWithSha256) };
    if (curve === 'secp384r1') return { hash: 'sha384', identifier: derSequence(oid.ecdsaWithSha384) };
    throw new RangeError(`a CSR key on curve ${curve ?? 'unknown'} is not supported (P-256 and P-384 are)`);
  }
  throw new RangeError(
    `a CSR key of type ${key.asymmetricKeyType ?? 'unknown'} is not supported (EC and RSA are)`,
  );
}

/** A GeneralName: an iPAddress `[7]` for an IPv4/IPv6 address (RFC 8738 §3), a dNSName `[2]` otherwise. */
function generalNameOf(name: string): Buffer {
  if (isIP(name) !== 0) return derContextPrimitive(7, ipAddressBytes(name));
  // dNSName is an IA5String: an internationalized name must arrive as its A-label (punycode) form.
  if (name === '' || !/^[\x21-\x7e]+$/.test(name)) {
    throw new RangeError(`${JSON.stringify(name)} is not an ASCII DNS name or an IP address`);
  }
  return derContextPrimitive(2, Buffer.from(name, 'ascii'));
}

/**
 * A PKCS#10 certificate signing request (RFC 2986) for `names`, signed with `key` (a private key, PEM or
 * KeyObject: ECDSA P-256 with SHA-256, P-384 with SHA-384, RSA with SHA-256), as DER. The names go into one
 * subjectAltName extension in order: IP addresses as iPAddress, everything else as dNSName. The subject is
 * CN = the first name when that is a DNS name of at most 64 characters; otherwise the subject is empty and the
 * subjectAltName is marked critical (RFC 5280 §4.2.1.6). An IP address is never put in the CN: CAs read the CN
 * as a DNS name. No other extension is requested: an ACME CA decides key usage and lifetimes itself.
 */
export function createCsrDer(names: readonly string[], key: string | Buffer | KeyObject): Buffer {
  if (names.length === 0) throw new RangeError('a CSR needs at least one name');
  const privateKey = typeof key === 'string' || Buffer.isBuffer(key) ? createPrivateKey(key) : key;
  if (privateKey.type !== 'private') throw new TypeError('a CSR is signed with a private key');
  const algorithm = signatureAlgorithmOf(privateKey);
  const first = names[0]!;
  const commonName = isIP(first) === 0 && first.length <= maxCommonNameLength ? first : undefined;

  const subject = commonName
    ? derSequence(derSet(derSequence(oid.commonName, derUtf8String(commonName))))
    : derSequence();
  const subjectAltName = derSequence(
    oid.subjectAltName,
    ...(commonName ? [] : [derBoolean(true)]),
    derOctetString(derSequence(...names.map(generalNameOf))),
  );
  const attributes = derContextConstructed(
    0,
    derSequence(oid.extensionRequest, derSet(derSequence(subjectAltName))),
  );
  const publicKeyInfo = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const requestInfo = derSequence(derSmallInteger(0), subject, publicKeyInfo, attributes);
  // ECDSA signatures are DER Ecdsa-Sig-Value (node's default encoding), which X.509 expects.
  const signature = sign(algorithm.hash, requestInfo, privateKey);
  return derSequence(requestInfo, algorithm.identifier, derBitString(signature));
}

/** `createCsrDer` as PEM (`-----BEGIN CERTIFICATE REQUEST-----`, 64-character lines). */
export function createCsrPem(names: readonly string[], key: string | Buffer | KeyObject): string {
  return derToPem(createCsrDer(names, key), 'CERTIFICATE REQUEST');
}

function derToPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
