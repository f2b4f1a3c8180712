import { X509Certificate } from 'node:crypto';
import { connect, createServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { splitCertificateChain } from './certificate.ts';
import {
  createLocalCaIntermediate,
  createLocalCaRoot,
  intermediateRotateAt,
  signLocalCaLeaf,
} from './local-ca.ts';

describe('local CA', () => {
  it('local CA - a leaf signed by the intermediate verifies against the root alone in a TLS handshake, for names and IPs', async () => {
    const rootPair = await createLocalCaRoot();
    const root = { ...rootPair, notAfter: new Date(new X509Certificate(rootPair.certPem).validTo) };
    const intermediatePair = await createLocalCaIntermediate(root);
    const intermediate = {
      ...intermediatePair,
      notAfter: new Date(new X509Certificate(intermediatePair.certPem).validTo),
    };
    const leaf = await signLocalCaLeaf({
      names: ['app.internal', '127.0.0.1'],
      keyType: 'ecdsa-p256',
      intermediate,
    });
    const [leafCert, chainedIntermediate] = splitCertificateChain(leaf.certPem);
    expect(chainedIntermediate?.fingerprint256).toBe(
      new X509Certificate(intermediatePair.certPem).fingerprint256,
    );
    if (!leafCert) throw new Error('no leaf');
    const lifetimeDays = (Date.parse(leafCert.validTo) - Date.parse(leafCert.validFrom)) / 86_400_000;
    expect(lifetimeDays).toBeGreaterThan(6.9);
    expect(lifetimeDays).toBeLessThan(7.1);
    expect(
      new X509Certificate(intermediatePair.certPem).checkIssued(new X509Certificate(rootPair.certPem)),
    ).toBe(true);

    for (const servername of ['app.internal', '127.0.0.1']) {
      const authorized = await handshake(leaf, root.certPem, servername);
      expect(authorized, servername).toBe(true);
    }
    await expect(handshake(leaf, root.certPem, 'other.internal')).rejects.toThrow(/altnames|Hostname/);
    const strangerRoot = await createLocalCaRoot();
    await expect(handshake(leaf, strangerRoot.certPem, 'app.internal')).rejects.toThrow(/certificate/);
  });

  it('local CA - an intermediate is rotated after two thirds of its lifetime', () => {
    const from = new Date('2026-01-01T00:00:00Z');
    const to = new Date('2026-01-31T00:00:00Z');
    expect(intermediateRotateAt(from, to).toISOString()).toBe('2026-01-21T00:00:00.000Z');
  });
});

async function handshake(pair: { certPem: string; keyPem: string }, rootPem: string, servername: string) {
  const server = createServer({ cert: pair.certPem, key: pair.keyPem }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<boolean>((resolve, reject) => {
      const host = servername.includes('.') && /^[0-9.]+$/.test(servername) ? servername : '127.0.0.1';
      const socket = connect(
        { host, port, servername: /^[0-9.]+$/.test(servername) ? undefined : servername, ca: rootPem },
        () => {
          resolve(socket.authorized);
          socket.end();
        },
      );
      socket.on('error', reject);
    });
  } finally {
    server.close();
  }
}
