import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateCertificateUpload } from './uploaded-certificate.ts';

const dir = mkdtempSync(join(tmpdir(), 'gh-upload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}
const read = (name: string) => readFileSync(join(dir, name), 'utf8');

/** root → intermediate → leaf (ECDSA P-256), the leaf for `names`, valid for `days`. */
function makeChain(
  tag: string,
  names: string[],
  validity: { start?: string; end?: string; days?: number } = {},
) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    `${tag}-root.key`,
    '-out',
    `${tag}-root.pem`,
    '-subj',
    `/CN=${tag} root`,
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  openssl(
    'req',
    ...ec,
    '-keyout',
    `${tag}-int.key`,
    '-out',
    `${tag}-int.csr`,
    '-subj',
    `/CN=${tag} intermediate`,
  );
  writeFileSync(
    join(dir, `${tag}-int.ext`),
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    `${tag}-int.csr`,
    '-CA',
    `${tag}-root.pem`,
    '-CAkey',
    `${tag}-root.key`,
    '-CAcreateserial',
    '-out',
    `${tag}-int.pem`,
    '-days',
    '30',
    '-extfile',
    `${tag}-int.ext`,
  );
  openssl('req', ...ec, '-keyout', `${tag}-leaf.key`, '-out', `${tag}-leaf.csr`, '-subj', `/CN=${names[0]}`);
  writeFileSync(
    join(dir, `${tag}-leaf.ext`),
    `subjectAltName=${names.map((name) => `DNS:${name}`).join(',')}\n`,
  );
  const period = ['-days', String(validity.days ?? 20)];
  openssl(
    'x509',
    '-req',
    '-in',
    `${tag}-leaf.csr`,
    '-CA',
    `${tag}-int.pem`,
    '-CAkey',
    `${tag}-int.key`,
    '-CAcreateserial',
    '-out',
    `${tag}-leaf.pem`,
    ...period,
    '-extfile',
    `${tag}-leaf.ext`,
  );
  return {
    leaf: read(`${tag}-leaf.pem`),
    intermediate: read(`${tag}-int.pem`),
    root: read(`${tag}-root.pem`),
    key: read(`${tag}-leaf.key`),
  };
}

describe('uploaded certificate validation', () => {
  const good = makeChain('good', ['shop.example.com', '*.shop.example.com']);

  it('pki - a leaf with its chain in order and its own key is accepted, names and dates read', () => {
    const verdict = validateCertificateUpload({
      certificate: good.leaf,
      chain: good.intermediate,
      privateKey: good.key,
    });
    expect(verdict.ok).toBe(true);
    if (!verdict.ok) return;
    expect(verdict.certificate.facts.names).toEqual(['*.shop.example.com', 'shop.example.com']);
    expect(verdict.certificate.keyType).toBe('ecdsa-p256');
    expect(verdict.certificate.chainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(verdict.certificate.warnings).toEqual([]);
  });

  it('pki - a key that belongs to another certificate is refused, naming the key', () => {
    const other = makeChain('other', ['other.example.com']);
    const verdict = validateCertificateUpload({
      certificate: good.leaf,
      chain: good.intermediate,
      privateKey: other.key,
    });
    expect(verdict).toEqual({
      ok: false,
      errors: [
        {
          field: 'privateKey',
          message: expect.stringMatching(
            /does not belong to the certificate .*shop\.example\.com; upload the key/,
          ),
        },
      ],
    });
  });

  it('pki - a chain out of order is refused, saying which certificate did not sign which', () => {
    const verdict = validateCertificateUpload({
      certificate: good.leaf,
      chain: `${good.root}${good.intermediate}`,
      privateKey: good.key,
    });
    expect(verdict.ok).toBe(false);
    if (verdict.ok) return;
    expect(verdict.errors[0]).toEqual({
      field: 'chain',
      message: expect.stringMatching(
        /certificate 2 \(CN=good root\) did not sign certificate 1 .*order the chain leaf first/,
      ),
    });
  });

  it('pki - an expired certificate is refused; one with days left is accepted with a warning', () => {
    // openssl here cannot back-date a certificate; the validator's clock moves forward instead.
    const expired = makeChain('expired', ['old.example.com'], { days: 1 });
    const later = new Date(Date.now() + 3 * 86_400_000);
    const refused = validateCertificateUpload(
      { certificate: expired.leaf, chain: expired.intermediate, privateKey: expired.key },
      later,
    );
    expect(refused).toEqual({
      ok: false,
      errors: [
        {
          field: 'certificate',
          message: expect.stringMatching(/^expired on 20\d\d-.*; upload a current certificate$/),
        },
      ],
    });
    const soon = makeChain('soon', ['soon.example.com'], { days: 3 });
    const warned = validateCertificateUpload({
      certificate: soon.leaf,
      chain: soon.intermediate,
      privateKey: soon.key,
    });
    expect(warned.ok && warned.certificate.warnings[0]).toMatch(
      /^expires in \d+ hours .*upload its successor soon$/,
    );
  });

  it('pki - garbage instead of PEM is refused for each field, with what to paste', () => {
    const verdict = validateCertificateUpload({ certificate: 'hello', privateKey: 'not a key' });
    expect(verdict).toEqual({
      ok: false,
      errors: [
        {
          field: 'certificate',
          message: expect.stringMatching(/^no PEM certificate found .*BEGIN\/END lines$/),
        },
        { field: 'privateKey', message: expect.stringMatching(/^is not a PEM private key/) },
      ],
    });
    const broken = good.leaf.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!');
    const bad = validateCertificateUpload({ certificate: broken, privateKey: good.key });
    expect(bad.ok).toBe(false);
  });
});
