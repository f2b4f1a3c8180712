import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tlsHandshake } from '@gatehouse/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { ariCertId } from './ari-cert-id.ts';
import { buildCertificate } from './build-certificate.ts';
import { certificateFacts, keyMatchesCertificate } from './certificate.ts';
import { createSelfSignedCertificate } from './self-signed.ts';

const dir = mkdtempSync(join(tmpdir(), 'build-certificate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const days = (n: number) => new Date(Date.now() + n * 86_400_000);

function writePair(name: string, certPem: string, keyPem: string) {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, certPem);
  writeFileSync(keyFile, keyPem);
  return { certFile, keyFile };
}

describe('build certificate', () => {
  it('pki - a root, an intermediate and a leaf chain verify in a real TLS handshake, by DNS name and by IP', async () => {
    const root = await buildCertificate({ commonName: 'Test Root', notAfter: days(3650), ca: {} });
    const intermediate = await buildCertificate({
      commonName: 'Test Intermediate',
      notAfter: days(30),
      ca: { pathLength: 0 },
      issuer: root,
    });
    const leaf = await buildCertificate({
      commonName: 'app.internal',
      names: ['app.internal', '127.0.0.1', '::1'],
      notAfter: days(7),
      issuer: intermediate,
    });

    const files = writePair('leaf', `${leaf.certPem}${intermediate.certPem}`, leaf.keyPem);
    const byName = await tlsHandshake(files, 'app.internal', root.certPem);
    expect(byName.authorized).toBe(true);
    expect(byName.peer.subjectaltname).toBe(
      'DNS:app.internal, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );

    // Trust is real: another root does not verify the chain, and a name outside the SANs is refused.
    const stranger = await buildCertificate({ commonName: 'Other Root', notAfter: days(10), ca: {} });
    await expect(tlsHandshake(files, 'app.internal', stranger.certPem)).rejects.toThrow();
    await expect(tlsHandshake(files, 'other.internal', root.certPem)).rejects.toThrow(/altnames|Hostname/i);

    const leafX509 = new X509Certificate(leaf.certPem);
    expect(leafX509.checkIssued(new X509Certificate(intermediate.certPem))).toBe(true);
    expect(leafX509.ca).toBe(false);
    expect(new X509Certificate(intermediate.certPem).ca).toBe(true);
    expect(keyMatchesCertificate(leafX509, leaf.keyPem)).toBe(true);
  });

  it('pki - extensions read back by openssl: CA constraints, key usage, serverAuth, key identifiers', async () => {
    const root = await buildCertificate({ commonName: 'Ext Root', notAfter: days(10), ca: {} });
    const intermediate = await buildCertificate({
      commonName: 'Ext Intermediate',
      notAfter: days(10),
      ca: { pathLength: 0 },
      issuer: root,
    });
    const leaf = await buildCertificate({
      commonName: 'x.test',
      names: ['x.test'],
      notAfter: days(1),
      keyType: 'rsa-2048',
      issuer: intermediate,
    });
    const text = (pem: string) =>
      execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem, encoding: 'utf8' });
    expect(text(intermediate.certPem)).toMatch(/CA:TRUE, pathlen:0/);
    expect(text(intermediate.certPem)).toMatch(/Certificate Sign, CRL Sign/);
    const leafText = text(leaf.certPem);
    expect(leafText).toMatch(/CA:FALSE/);
    expect(leafText).toMatch(/Digital Signature, Key Encipherment/);
    expect(leafText).toMatch(/TLS Web Server Authentication/);
    expect(leafText).toMatch(/Public-Key: \(2048 bit\)/);
    expect(leafText).toMatch(/Issuer: CN ?= ?Ext Intermediate/);
    // The leaf's AKI is the intermediate's SKI, which is what ARI identifiers and chain building use.
    const ski = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(text(intermediate.certPem))?.[1];
    expect(ski).toBeDefined();
    expect(ariCertId(leaf.certPem).split('.')[0]).toBe(
      Buffer.from(ski!.replaceAll(':', ''), 'hex').toString('base64url'),
    );
  });

  it('pki - a self-signed fallback covers its names for the days asked, with its own key', async () => {
    const pair = await createSelfSignedCertificate({
      commonName: 'a.test',
      dnsNames: ['a.test', '*.a.test'],
      days: 30,
    });
    const facts = certificateFacts(new X509Certificate(pair.certPem));
    expect(facts.names.sort()).toEqual(['*.a.test', 'a.test']);
    const lifetimeDays = (facts.notAfter.getTime() - facts.notBefore.getTime()) / 86_400_000;
    expect(lifetimeDays).toBeCloseTo(30, 3);
    expect(pair.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(keyMatchesCertificate(new X509Certificate(pair.certPem), pair.keyPem)).toBe(true);
  });
});
