import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCsrDer, createCsrPem } from './csr.ts';

/**
 * `openssl req -verify -noout -text` on a PEM request: whether it parsed and its signature verified, and
 * everything it printed. OpenSSL 3.0 exits 0 on a bad signature too, so its verdict is read from the text.
 */
function opensslReadRequest(pem: string): { ok: boolean; text: string } {
  const run = spawnSync('openssl', ['req', '-verify', '-noout', '-text'], { input: pem, encoding: 'utf8' });
  if (run.error) throw run.error; // No openssl: the test fails, it does not skip.
  const text = `${run.stdout}${run.stderr}`;
  return { ok: run.status === 0 && /self-signature verify OK/.test(text), text };
}

const keys: Record<string, () => KeyObject> = {
  'ecdsa-p256': () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  'ecdsa-p384': () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
  'rsa-2048': () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  'rsa-4096': () => generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey,
};
const signatureAlgorithms: Record<string, string> = {
  'ecdsa-p256': 'ecdsa-with-SHA256',
  'ecdsa-p384': 'ecdsa-with-SHA384',
  'rsa-2048': 'sha256WithRSAEncryption',
  'rsa-4096': 'sha256WithRSAEncryption',
};

describe('csr', () => {
  for (const [keyType, makeKey] of Object.entries(keys)) {
    it(`csr - a ${keyType} request verifies in openssl with its names, CN and signature algorithm`, () => {
      const key = makeKey();
      const pem = createCsrPem(['app.example.com', 'www.example.com', '192.0.2.7', '2001:db8::1'], key);
      const { ok, text } = opensslReadRequest(pem);
      expect(ok, text).toBe(true);
      expect(text).toMatch(/Subject: CN\s?=\s?app\.example\.com\n/);
      expect(text).toContain(
        'DNS:app.example.com, DNS:www.example.com, IP Address:192.0.2.7, IP Address:2001:DB8:0:0:0:0:0:1\n',
      );
      expect(text).toContain(`Signature Algorithm: ${signatureAlgorithms[keyType]}`);
      // The SAN is not critical when a CN names the subject.
      expect(text).not.toContain('X509v3 Subject Alternative Name: critical');
    });
  }

  it('csr - a PKCS#8 PEM key signs the same way as a KeyObject', () => {
    const key = keys['ecdsa-p256']!();
    const pem = createCsrPem(['pem.example.com'], key.export({ type: 'pkcs8', format: 'pem' }).toString());
    const { ok, text } = opensslReadRequest(pem);
    expect(ok, text).toBe(true);
    expect(text).toContain('DNS:pem.example.com');
  });

  it('csr - an IP address first or a name longer than 64 characters leaves the subject empty and the SAN critical', () => {
    const key = keys['ecdsa-p256']!();
    const long = `${'a'.repeat(60)}.example.com`;
    for (const names of [['192.0.2.9', 'app.example.com'], ['::1'], [long]]) {
      const { ok, text } = opensslReadRequest(createCsrPem(names, key));
      expect(ok, text).toBe(true);
      expect(text).toMatch(/Subject:\s*\n/);
      expect(text).toContain('X509v3 Subject Alternative Name: critical');
    }
    const exactly64 = `${'b'.repeat(52)}.example.com`;
    expect(exactly64).toHaveLength(64);
    expect(opensslReadRequest(createCsrPem([exactly64], key)).text).toContain(`CN = ${exactly64}`);
  });

  it('csr - IPv6 forms are encoded as their 16 bytes (RFC 8738)', () => {
    const key = keys['ecdsa-p256']!();
    const { text } = opensslReadRequest(
      createCsrPem(['h.example.com', '::', 'fe80::1:2', '::ffff:198.51.100.3'], key),
    );
    expect(text).toContain(
      'IP Address:0:0:0:0:0:0:0:0, IP Address:FE80:0:0:0:0:0:1:2, IP Address:0:0:0:0:0:FFFF:C633:6403',
    );
  });

  it('csr - a changed byte breaks the signature (openssl refuses it)', () => {
    const der = createCsrDer(['tamper.example.com'], keys['ecdsa-p256']!());
    // The DNS name's first letter sits inside the signed request info.
    const at = der.indexOf(Buffer.from('tamper.example.com'));
    der[at] = 'T'.charCodeAt(0);
    const base64Lines = der
      .toString('base64')
      .match(/.{1,64}/g)
      ?.join('\n');
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${base64Lines}\n-----END CERTIFICATE REQUEST-----\n`;
    const { ok, text } = opensslReadRequest(pem);
    expect(text).toContain('self-signature verify failure');
    expect(ok).toBe(false);
  });

  it('csr - no names, a non-ASCII name, a public key or an unsupported curve are refused', () => {
    const key = keys['ecdsa-p256']!();
    expect(() => createCsrDer([], key)).toThrow(/at least one name/);
    expect(() => createCsrDer(['bücher.example'], key)).toThrow(/not an ASCII DNS name/);
    expect(() =>
      createCsrDer(['a.example'], generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
    ).toThrow(/private key/);
    const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey;
    expect(() => createCsrDer(['a.example'], p521)).toThrow(/curve secp521r1 is not supported/);
    const ed = generateKeyPairSync('ed25519').privateKey;
    expect(() => createCsrDer(['a.example'], ed)).toThrow(/type ed25519 is not supported/);
  });
});
