import { makeCertificateChain } from '@gatehouse/testing';
import { describe, expect, it } from 'vitest';
import { validateCertificateUpload } from './uploaded-certificate.ts';

describe('uploaded certificate validation', () => {
  const good = makeCertificateChain(['shop.example.com', '*.shop.example.com']);

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
    const other = makeCertificateChain(['other.example.com']);
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
        /certificate 2 \(CN=shop\.example\.com root\) did not sign certificate 1 .*order the chain leaf first/,
      ),
    });
  });

  it('pki - an expired certificate is refused; one with days left is accepted with a warning', () => {
    // openssl here cannot back-date a certificate; the validator's clock moves forward instead.
    const expired = makeCertificateChain(['old.example.com'], { days: 1 });
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
    const soon = makeCertificateChain(['soon.example.com'], { days: 3 });
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
