import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AriCertIdError, ariCertId } from './ari-cert-id.ts';

const dir = mkdtempSync(join(tmpdir(), 'ari-cert-id-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate from openssl (AKI keyid = its SKI), so the DER comes from an independent encoder. */
function certificate(serial: string, extensions: string[]): string {
  const out = join(dir, `${serial}.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, `${serial}.key`),
      '-subj',
      '/CN=ari-test',
      '-days',
      '1',
      '-set_serial',
      serial,
      ...extensions.flatMap((extension) => ['-addext', extension]),
      '-out',
      out,
    ],
    { stdio: 'pipe' },
  );
  return readFileSync(out, 'utf8');
}

describe('ari cert id', () => {
  it('ari - the RFC 9773 §4.1 example: AKI 69:88:…:D4 and serial 0x87654321 (leading zero kept)', () => {
    const pem = certificate('0x87654321', [
      'subjectKeyIdentifier=69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4',
      'authorityKeyIdentifier=keyid:always',
    ]);
    expect(ariCertId(pem)).toBe('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  });

  it('ari - a serial without the high bit set has no leading zero', () => {
    const pem = certificate('0x0102', [
      'subjectKeyIdentifier=01:02:03:04',
      'authorityKeyIdentifier=keyid:always',
    ]);
    expect(ariCertId(pem)).toBe(
      `${Buffer.from([1, 2, 3, 4]).toString('base64url')}.${Buffer.from([1, 2]).toString('base64url')}`,
    );
  });

  it('ari - a certificate without an authority key identifier is refused with the reason', () => {
    const pem = certificate('0x05', ['subjectKeyIdentifier=none', 'authorityKeyIdentifier=none']);
    expect(() => ariCertId(pem)).toThrow(AriCertIdError);
    expect(() => ariCertId(pem)).toThrow('no authority key identifier');
    expect(() => ariCertId('not a certificate')).toThrow('no PEM certificate found');
  });
});
