import { createPrivateKey, createPublicKey, type KeyObject, verify } from 'node:crypto';

/**
 * The part of acme-client's internal HTTP client this module relies on (acme-client 5.x `HttpClient`): the
 * account key it signs every JWS with, and the signing itself.
 */
interface AcmeClientSigner {
  accountKey: unknown;
  jwk: unknown;
  createSignedBody(
    url: string,
    payload: unknown,
    options: { nonce: string; kid: string },
  ): { protected: string; payload: string; signature: string };
}

/**
 * Makes acme-client sign with the account key parsed once into a `KeyObject`, instead of the PEM it holds,
 * which node:crypto parses again for every signature (every signed ACME request).
 *
 * `client` is acme-client's `Client`; its `http` member is internal. The swap is kept only when a test
 * signature made through it verifies with the account's public key; otherwise (another acme-client major whose
 * internals differ, or that uses the key in a way a KeyObject does not fit) the PEM is put back and acme-client
 * signs as it always did. Returns whether the KeyObject is in use.
 */
export function signWithAccountKeyObject(client: object, accountKeyPem: string): boolean {
  const http = (client as { http?: Partial<AcmeClientSigner> }).http;
  if (!http || typeof http.createSignedBody !== 'function' || http.accountKey === undefined) return false;
  const original = http.accountKey;
  const originalJwk = http.jwk;
  let key: KeyObject;
  try {
    key = createPrivateKey(accountKeyPem);
  } catch {
    return false;
  }
  http.accountKey = key;
  http.jwk = null; // Derived again from the KeyObject on first use; the same public key, so the same JWK.
  if (signsVerifiably(http as AcmeClientSigner, key)) return true;
  http.accountKey = original;
  http.jwk = originalJwk;
  return false;
}

/** Signs a throwaway JWS through acme-client and checks it against the key's public half. */
function signsVerifiably(http: AcmeClientSigner, key: KeyObject): boolean {
  try {
    const body = http.createSignedBody('https://acme.invalid/probe', {}, { nonce: 'probe', kid: 'probe' });
    const algorithm = (
      JSON.parse(Buffer.from(body.protected, 'base64url').toString('utf8')) as { alg?: unknown }
    ).alg;
    const hash = typeof algorithm === 'string' ? hashOf(algorithm) : undefined;
    if (!hash) return false;
    return verify(
      hash,
      Buffer.from(`${body.protected}.${body.payload}`),
      { key: createPublicKey(key), dsaEncoding: 'ieee-p1363' },
      Buffer.from(body.signature, 'base64url'),
    );
  } catch {
    return false;
  }
}

/** The hash of each RFC 7518 §3.1 JWS algorithm acme-client signs account requests with. */
const jwsHashes: Record<string, string> = {
  RS256: 'sha256',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
};

function hashOf(algorithm: string): string | undefined {
  return jwsHashes[algorithm];
}
