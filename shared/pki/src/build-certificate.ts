// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import { createPrivateKey, generateKeyPair, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import type { KeyType } from '@gatehouse/events';
import * as x509 from '@peculiar/x509';

// @peculiar/x509 signs through WebCrypto; Node's implementation runs key generation and signing on libuv's thread
// pool, so building a certificate never blocks the event loop (the openssl subprocess it replaces did).
const crypto = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[1];
type CryptoKey = webcrypto.CryptoKey;

export interface PemPair {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
}

/** The signer of a certificate: a CA certificate and its PKCS#8 key, both PEM. */
export interface CertificateIssuer {
  certPem: string;
  keyPem: string;
}

export interface CertificateSpec {
  /** Subject common name. */
  commonName: string;
  /** subjectAltName entries: host names (DNS) and IPv4/IPv6 addresses (IP), told apart by their form. */
  names?: string[];
  notBefore?: Date;
  notAfter: Date;
  /** The new certificate's key. Default ECDSA P-256. */
  keyType?: KeyType;
  /** A CA certificate (basicConstraints cA, keyCertSign); `pathLength` limits the CAs below it. */
  ca?: { pathLength?: number };
  /** Signs the certificate; without one it is self-signed. */
  issuer?: CertificateIssuer;
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** A fresh private key in PKCS#8 PEM, made on the thread pool. A new key for every certificate. */
export async function generatePrivateKeyPem(keyType: KeyType): Promise<string> {
  const { privateKey } =
    keyType === 'rsa-2048' || keyType === 'rsa-4096'
      ? await generateKeyPairAsync('rsa', { modulusLength: keyType === 'rsa-2048' ? 2048 : 4096 })
      : await generateKeyPairAsync('ec', { namedCurve: keyType === 'ecdsa-p384' ? 'P-384' : 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * Builds an X.509 v3 certificate: a leaf (serverAuth, the names as subjectAltName) or a CA, self-signed or signed
 * by `issuer`. Extensions follow what browsers and Node's TLS verify: basicConstraints (critical), keyUsage
 * (critical), subject and authority key identifiers; a random 128-bit positive serial.
 */
export async function buildCertificate(spec: CertificateSpec): Promise<PemPair> {
  const keyPem = await generatePrivateKeyPem(spec.keyType ?? 'ecdsa-p256');
  const keys = await importKeyPair(keyPem);
  const signer = spec.issuer ? await importIssuer(spec.issuer) : undefined;
  const signingKey = signer?.privateKey ?? keys.privateKey;

  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(spec.ca !== undefined, spec.ca?.pathLength, true),
    new x509.KeyUsagesExtension(
      spec.ca
        ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature
        : x509.KeyUsageFlags.digitalSignature |
            (keys.publicKey.algorithm.name === 'RSASSA-PKCS1-v1_5' ? x509.KeyUsageFlags.keyEncipherment : 0),
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
    await x509.AuthorityKeyIdentifierExtension.create(signer?.publicKey ?? keys.publicKey, false, crypto),
  ];
  if (!spec.ca)
    extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false));
  if (spec.names?.length) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        spec.names.map((name): x509.JsonGeneralName => ({ type: isIP(name) ? 'ip' : 'dns', value: name })),
        false,
      ),
    );
  }

  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: [{ CN: [spec.commonName] }],
      issuer: signer?.subject ?? [{ CN: [spec.commonName] }],
      notBefore: spec.notBefore ?? new Date(),
      notAfter: spec.notAfter,
      publicKey: keys.publicKey,
      signingKey,
      signingAlgorithm: signingAlgorithmFor(signingKey),
      extensions,
    },
    crypto,
  );
  // Ends with a newline like every PEM file, so chains can be concatenated as they are.
  return { certPem: `${certificate.toString('pem').trimEnd()}\n`, keyPem };
}

/** 16 random bytes with the high bit cleared: positive, never zero-padded, under RFC 5280's 20-octet cap. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

interface ImportedIssuer {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The issuer's subject, which becomes the new certificate's issuer name (chains match on it). */
  subject: string;
}

async function importIssuer(issuer: CertificateIssuer): Promise<ImportedIssuer> {
  const certificate = new x509.X509Certificate(issuer.certPem);
  const { privateKey } = await importKeyPair(issuer.keyPem);
  return {
    privateKey,
    publicKey: await certificate.publicKey.export(privateKey.algorithm, ['verify'], crypto),
    subject: certificate.subject,
  };
}

/** Imports a PKCS#8 PEM key into WebCrypto as a signing key with its public half. */
async function importKeyPair(keyPem: string): Promise<webcrypto.CryptoKeyPair> {
  const key = createPrivateKey(keyPem);
  const algorithm: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams =
    key.asymmetricKeyType === 'rsa'
      ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
      : {
          name: 'ECDSA',
          namedCurve: key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256',
        };
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const jwk = key.export({ format: 'jwk' });
  const { d: _private, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
  return {
    privateKey: await crypto.subtle.importKey('pkcs8', pkcs8, algorithm, true, ['sign']),
    publicKey: await crypto.subtle.importKey('jwk', publicJwk, algorithm, true, ['verify']),
  };
}

function signingAlgorithmFor(key: CryptoKey): { name: string; hash?: string } {
  if (key.algorithm.name === 'ECDSA') {
    const curve = (key.algorithm as webcrypto.EcKeyAlgorithm).namedCurve;
    return { name: 'ECDSA', hash: curve === 'P-384' ? 'SHA-384' : 'SHA-256' };
  }
  return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}
