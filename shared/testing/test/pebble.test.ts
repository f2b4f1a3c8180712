import { generateKeyPairSync, type KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { challtestsrv } from '../src/challtestsrv.ts';
import { startPebble, type TestPebble } from '../src/pebble.ts';
import { freePort } from '../src/ports.ts';

// These tests only start Pebbles and talk to their directory and management API; issuance is tested elsewhere.

const started: TestPebble[] = [];
afterAll(async () => {
  await Promise.all(started.map((pebble) => pebble.stop()));
});

async function pebble(options: Partial<Parameters<typeof startPebble>[0]> = {}): Promise<TestPebble> {
  const instance = await startPebble({ httpPort: await freePort(), ...options });
  started.push(instance);
  return instance;
}

async function directory(instance: TestPebble): Promise<Record<string, string>> {
  const response = await instance.request(instance.directoryUrl);
  expect(response.status).toBe(200);
  return JSON.parse(response.body);
}

const unique = () => `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

const dns = () => {
  const resolver = new Resolver({ timeout: 2_000, tries: 1 });
  resolver.setServers([process.env.CHALLTESTSRV_DNS ?? '127.0.0.1:8053']);
  return resolver;
};

// --- a minimal ACME JWS client: just enough to make an account and ask for an order -----------------------

const b64u = (data: string | Buffer) => Buffer.from(data).toString('base64url');

async function acmeAccount(instance: TestPebble) {
  const dir = await directory(instance);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  let nonce = (await instance.request(dir.newNonce!, { method: 'HEAD' })).headers['replay-nonce'] as string;

  async function post(url: string, payload: unknown, key: { jwk: unknown } | { kid: string }) {
    const protectedHeader = b64u(JSON.stringify({ alg: 'ES256', nonce, url, ...key }));
    const body = b64u(JSON.stringify(payload));
    const signature = sign('sha256', Buffer.from(`${protectedHeader}.${body}`), {
      key: privateKey as KeyObject,
      dsaEncoding: 'ieee-p1363',
    });
    const response = await instance.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/jose+json' },
      body: JSON.stringify({ protected: protectedHeader, payload: body, signature: b64u(signature) }),
    });
    nonce = response.headers['replay-nonce'] as string;
    return response;
  }

  const created = await post(dir.newAccount!, { termsOfServiceAgreed: true }, { jwk: { crv, kty, x, y } });
  expect(created.status).toBe(201);
  const kid = created.headers.location as string;
  return {
    newOrder: (name: string) => post(dir.newOrder!, { identifiers: [{ type: 'dns', value: name }] }, { kid }),
  };
}

describe('pebble', () => {
  it('pebble - two instances start side by side on their own ports and both serve /dir', async () => {
    const [a, b] = await Promise.all([pebble(), pebble()]);
    expect(a.directoryUrl).not.toBe(b.directoryUrl);
    expect(a.managementUrl).not.toBe(b.managementUrl);
    expect(a.directoryUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/dir$/);
    const [dirA, dirB] = await Promise.all([directory(a), directory(b)]);
    expect(dirA.newAccount).toMatch(new RegExp(`^${new URL(a.directoryUrl).origin}/`));
    expect(dirB.newAccount).toMatch(new RegExp(`^${new URL(b.directoryUrl).origin}/`));
    // The listener is signed by the CA the instance reports.
    expect(readFileSync(a.listenerCaPath, 'utf8')).toBe(a.listenerCaPem);
    expect(new X509Certificate(a.listenerCaPem).ca).toBe(true);
  });

  it('pebble - rootPem and intermediatePem return the PEM certificates that sign issued certs', async () => {
    const instance = await pebble();
    const rootPem = await instance.rootPem();
    expect(rootPem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n?$/);
    const root = new X509Certificate(rootPem);
    expect(root.ca).toBe(true);
    expect(root.checkIssued(root)).toBe(true);
    const intermediate = new X509Certificate(await instance.intermediatePem());
    expect(intermediate.ca).toBe(true);
    expect(intermediate.checkIssued(root) && intermediate.verify(root.publicKey)).toBe(true);
    // chainLength reaches Pebble: with 2 intermediates the root no longer signs the leaf-signing one.
    const longer = await pebble({ chainLength: 2 });
    const longerRoot = new X509Certificate(await longer.rootPem());
    expect(new X509Certificate(await longer.intermediatePem()).checkIssued(longerRoot)).toBe(false);
    await expect(instance.certStatusBySerial('00ff')).rejects.toThrow(
      /cert-status-by-serial\/00ff answered 404/,
    );
  });

  it('pebble - kill makes /dir unreachable and start brings it back with a new root', async () => {
    const instance = await pebble();
    const rootBefore = await instance.rootPem();
    await instance.kill();
    await expect(instance.request(instance.directoryUrl)).rejects.toThrow(/ECONNREFUSED/);
    await instance.start();
    expect((await directory(instance)).newAccount).toBeTruthy();
    expect(await instance.rootPem()).not.toBe(rootBefore);
    await instance.start(); // a no-op while it runs
    expect(new URL(instance.directoryUrl).port).toBe(new URL((await directory(instance)).newAccount!).port);
  });

  it('pebble - domainBlocklist reaches the config and Pebble rejects those names', async () => {
    const instance = await pebble({
      domainBlocklist: ['blocked.test'],
      certificateValiditySeconds: 120,
      nonceRejectPercent: 0,
    });
    const config = JSON.parse(readFileSync(instance.configPath, 'utf8')).pebble;
    expect(config.domainBlocklist).toEqual(['blocked.test']);
    expect(config.certificateValidityPeriod).toBe(120);
    expect(config.httpPort).toBe(instance.httpPort);
    expect(config.tlsPort).toBe(instance.tlsPort);

    const account = await acmeAccount(instance);
    const rejected = await account.newOrder('www.blocked.test');
    expect(rejected.status).toBe(400);
    expect(JSON.parse(rejected.body).type).toBe('urn:ietf:params:acme:error:rejectedIdentifier');
    const allowed = await account.newOrder(`${unique()}.allowed.test`);
    expect(allowed.status).toBe(201);
  });

  it('pebble - stop removes the config and a stopped instance cannot start', async () => {
    const instance = await startPebble({ httpPort: await freePort() });
    await instance.stop();
    expect(() => readFileSync(instance.configPath)).toThrow(/ENOENT/);
    await expect(instance.start()).rejects.toThrow(/stopped/);
  });

  it('pebble - challtestsrv setTxt is visible over DNS and clearTxt removes it', async () => {
    const name = `_acme-challenge.${unique()}.example.test`;
    const resolver = dns();
    try {
      await challtestsrv.setTxt(name, 'first-token');
      await challtestsrv.setTxt(name.toUpperCase(), 'second-token');
      expect((await resolver.resolveTxt(name)).flat().sort()).toEqual(['first-token', 'second-token']);
      await challtestsrv.clearTxt(`${name}.`);
      await expect(resolver.resolveTxt(name)).rejects.toMatchObject({
        code: expect.stringMatching(/ENODATA|ENOTFOUND/),
      });
    } finally {
      await challtestsrv.clearTxt(name);
    }
  });

  it('pebble - challtestsrv A, CAA, CNAME, SERVFAIL mocks and the request history', async () => {
    const host = `${unique()}.example.test`;
    const resolver = dns();
    try {
      expect(await resolver.resolve4(host)).toEqual(['127.0.0.1']); // the default for every name
      await challtestsrv.addA(host, ['127.0.0.2', '127.0.0.3']);
      expect((await resolver.resolve4(host)).sort()).toEqual(['127.0.0.2', '127.0.0.3']);
      await challtestsrv.clearA(host);
      expect(await resolver.resolve4(host)).toEqual(['127.0.0.1']);

      await challtestsrv.addCaa(host, [{ tag: 'issue', value: 'pebble.letsencrypt.org' }]);
      expect(await resolver.resolveCaa(host)).toMatchObject([
        { critical: 0, issue: 'pebble.letsencrypt.org' },
      ]);
      await challtestsrv.clearCaa(host);
      await expect(resolver.resolveCaa(host)).rejects.toMatchObject({ code: 'ENODATA' });

      await challtestsrv.setCname(`alias.${host}`, host);
      expect(await resolver.resolveCname(`alias.${host}`)).toEqual([host]);
      await challtestsrv.clearCname(`alias.${host}`);
      await expect(resolver.resolveCname(`alias.${host}`)).rejects.toMatchObject({ code: 'ENODATA' });

      await challtestsrv.setServfail(host);
      await expect(resolver.resolve4(host)).rejects.toMatchObject({ code: 'ESERVFAIL' });
      await challtestsrv.clearServfail(host);
      expect(await resolver.resolve4(host)).toEqual(['127.0.0.1']);

      const history = await challtestsrv.dnsRequestHistory(host);
      expect(history.length).toBeGreaterThan(0);
      expect(history.every((event) => event.Question.Name === `${host}.`)).toBe(true);
      expect(history.some((event) => event.Question.Qtype === 257)).toBe(true);
      await challtestsrv.clearDnsRequestHistory(host);
      expect(await challtestsrv.dnsRequestHistory(host)).toEqual([]);
    } finally {
      await Promise.allSettled([
        challtestsrv.clearA(host),
        challtestsrv.clearCaa(host),
        challtestsrv.clearCname(`alias.${host}`),
        challtestsrv.clearServfail(host),
      ]);
    }
  });
});
