import { createPublicKey, generateKeyPairSync, KeyObject, verify } from 'node:crypto';
import acme from 'acme-client';
import { describe, expect, it } from 'vitest';
import { signWithAccountKeyObject } from './account-key-object.ts';

type Http = {
  accountKey: unknown;
  getJwk(): Record<string, string>;
  createSignedBody(
    url: string,
    payload: unknown,
    options: { nonce: string; kid: string },
  ): { protected: string; payload: string; signature: string };
};

const pemOf = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
const accountKeys = {
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  ES384: () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
  RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
};

describe('account key object', () => {
  for (const [alg, makeKey] of Object.entries(accountKeys)) {
    it(`acme - an ${alg} account key is handed to acme-client as a KeyObject and its JWS still verifies`, async () => {
      const key = makeKey();
      const pem = pemOf(key);
      const client = new acme.Client({ directoryUrl: 'https://acme.invalid/dir', accountKey: pem });
      const http = (client as unknown as { http: Http }).http;
      const jwkFromPem = http.getJwk();
      const challenge = { type: 'http-01', token: 'tok', url: 'https://acme.invalid/c', status: 'pending' };
      const keyAuthorizationFromPem = await client.getChallengeKeyAuthorization(
        challenge as Parameters<typeof client.getChallengeKeyAuthorization>[0],
      );

      expect(signWithAccountKeyObject(client, pem)).toBe(true);
      expect(http.accountKey).toBeInstanceOf(KeyObject);
      expect(http.getJwk()).toEqual(jwkFromPem);

      const body = http.createSignedBody(
        'https://acme.invalid/new-order',
        { a: 1 },
        { nonce: 'n', kid: 'k' },
      );
      const header = JSON.parse(Buffer.from(body.protected, 'base64url').toString()) as Record<
        string,
        unknown
      >;
      expect(header).toMatchObject({ alg, nonce: 'n', kid: 'k', url: 'https://acme.invalid/new-order' });
      const signed = Buffer.from(`${body.protected}.${body.payload}`);
      const signature = Buffer.from(body.signature, 'base64url');
      const publicKey = { key: createPublicKey(key), dsaEncoding: 'ieee-p1363' as const };
      expect(verify(alg === 'ES384' ? 'sha384' : 'sha256', signed, publicKey, signature)).toBe(true);
      // The key authorization (the JWK's thumbprint) is unchanged too.
      expect(
        await client.getChallengeKeyAuthorization(
          challenge as Parameters<typeof client.getChallengeKeyAuthorization>[0],
        ),
      ).toBe(keyAuthorizationFromPem);
    });
  }

  it('acme - internals that do not sign with a KeyObject keep the PEM (another acme-client version)', () => {
    const pem = pemOf(accountKeys.ES256());
    // A signer that, like a hypothetical future acme-client, needs the key as bytes.
    const http = {
      accountKey: Buffer.from(pem),
      jwk: null,
      createSignedBody(_url: string, _payload: unknown, _options: unknown) {
        const bytes = Buffer.concat([this.accountKey as Buffer]);
        return { protected: 'e30', payload: '', signature: bytes.toString('base64url') };
      },
    };
    expect(signWithAccountKeyObject({ http }, pem)).toBe(false);
    expect(http.accountKey).toEqual(Buffer.from(pem));

    // A signature that does not verify keeps the PEM as well.
    const wrong = {
      accountKey: Buffer.from(pem),
      jwk: null,
      createSignedBody: () => ({
        protected: Buffer.from('{"alg":"ES256"}').toString('base64url'),
        payload: '',
        signature: 'AAAA',
      }),
    };
    expect(signWithAccountKeyObject({ http: wrong }, pem)).toBe(false);
    expect(wrong.accountKey).toEqual(Buffer.from(pem));
  });

  it('acme - a client without the internal http member is left alone', () => {
    expect(signWithAccountKeyObject({}, pemOf(accountKeys.ES256()))).toBe(false);
    expect(signWithAccountKeyObject({ http: { accountKey: 'x' } }, pemOf(accountKeys.ES256()))).toBe(false);
  });
});
