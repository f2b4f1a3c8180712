import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { freePort, startPebble, type TestPebble } from '@gatehouse/testing';
import acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureAcmeHttp } from '../src/acme/acme-http.ts';
import { createAcmeIssuer } from '../src/acme/acme-issuer.ts';
import type { ChallengeSolver, Issuer, KeyType } from '../src/acme/issuer.ts';

/**
 * The CSR cert-issuer builds itself (`createCsrPem` in @gatehouse/pki) and the JWS it signs with a KeyObject,
 * through a real Pebble: every certificate key type, a DNS name and an IP address in one order.
 */
describe('acme issuer key types', () => {
  let pebble: TestPebble;
  let server: Server;
  let issuer: Issuer;
  const tokens = new Map<string, string>();
  const solver: ChallengeSolver = {
    type: 'http-01',
    async present(_name, token, keyAuthorization) {
      tokens.set(token, keyAuthorization);
    },
    async cleanup(_name, token) {
      tokens.delete(token);
    },
  };

  beforeAll(async () => {
    const httpPort = await freePort();
    server = createServer((request, response) => {
      const token = /^\/\.well-known\/acme-challenge\/([^/?#]+)$/.exec(request.url ?? '')?.[1];
      const keyAuthorization = token ? tokens.get(token) : undefined;
      if (keyAuthorization) response.writeHead(200).end(keyAuthorization);
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(httpPort, '127.0.0.1', resolve));
    pebble = await startPebble({ httpPort });
    const http = configureAcmeHttp({ caBundlePem: pebble.listenerCaPem });
    // An RSA account key: ES256 account keys are what the other issuance tests use.
    const accountKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const registration = new acme.Client({ directoryUrl: pebble.directoryUrl, accountKey });
    await registration.createAccount({ termsOfServiceAgreed: true });
    issuer = createAcmeIssuer({
      account: {
        id: 'key-types',
        directoryUrl: pebble.directoryUrl,
        accountUrl: registration.getAccountUrl(),
        keyPem: accountKey,
      },
      http,
    });
  }, 60_000);
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await pebble?.stop();
  });

  const keyTypes: Array<{ keyType: KeyType; algorithm: string; detail: Record<string, unknown> }> = [
    { keyType: 'ecdsa-p256', algorithm: 'ec', detail: { namedCurve: 'prime256v1' } },
    { keyType: 'ecdsa-p384', algorithm: 'ec', detail: { namedCurve: 'secp384r1' } },
    { keyType: 'rsa-2048', algorithm: 'rsa', detail: { modulusLength: 2048 } },
    { keyType: 'rsa-4096', algorithm: 'rsa', detail: { modulusLength: 4096 } },
  ];
  for (const { keyType, algorithm, detail } of keyTypes) {
    it(`acme - a ${keyType} certificate for a DNS name and an IP address is issued from our own CSR`, async () => {
      const name = `${keyType}-${Date.now().toString(36)}.key-types.test`;
      const issued = await issuer.issue({
        names: [name, '127.0.0.1'],
        keyType,
        solver,
        checkpoint: async () => {},
      });
      const leaf = new X509Certificate(issued.chainPem);
      const key = createPrivateKey(issued.keyPem);
      expect(leaf.checkPrivateKey(key)).toBe(true);
      expect(key.asymmetricKeyType).toBe(algorithm);
      expect(key.asymmetricKeyDetails).toMatchObject(detail);
      expect(leaf.subjectAltName?.split(', ').sort()).toEqual([`DNS:${name}`, 'IP Address:127.0.0.1']);
      expect(tokens.size).toBe(0); // Every presented token was cleaned up.
    }, 60_000);
  }
});
