import { randomUUID } from 'node:crypto';
import type { CertificateSource, CertificateStatus } from '@gatehouse/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

const day = 24 * 60 * 60 * 1000;

/** A certificate row as an earlier issuance (or upload) would have left it. */
function certificateRow(
  names: string[],
  overrides: { source?: CertificateSource; status?: CertificateStatus; notAfter: Date },
) {
  return {
    id: randomUUID(),
    names,
    names_key: [...names].sort().join(','),
    status: overrides.status ?? 'valid',
    source: overrides.source ?? 'acme',
    issuer: 'CN=Test CA',
    chain_pem: '-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n',
    private_key_encrypted: 'sealed',
    not_before: new Date(Date.now() - day),
    not_after: overrides.notAfter,
  };
}

function app(name: string, domains: string[]) {
  return { name, image: 'ghcr.io/acme/shop:v1', port: 8080, domains };
}

describe('api certificate reuse', () => {
  let api: ApiHarness;
  const wildcard = certificateRow(['*.covered.test', 'covered.test'], {
    notAfter: new Date(Date.now() + 60 * day),
  });
  const custom = certificateRow(['*.custom.test'], {
    source: 'custom',
    notAfter: new Date(Date.now() + 60 * day),
  });
  const expiring = certificateRow(['*.soon.test'], { notAfter: new Date(Date.now() + 2 * day) });
  const pendingWildcard = certificateRow(['*.pending.test'], {
    status: 'pending',
    notAfter: new Date(Date.now() + 60 * day),
  });
  beforeAll(async () => {
    api = await startApiHarness('api_certs_reuse');
    await api.db.insertInto('certificates').values([wildcard, custom, expiring, pendingWildcard]).execute();
  });
  afterAll(async () => {
    await api?.close();
  });

  async function create(name: string, domains: string[]) {
    const before = (await api.events('certs.requested')).length;
    const response = await api.call('POST', '/v1/apps', { body: app(name, domains) });
    expect(response.status).toBe(201);
    const requested = (await api.events('certs.requested')).length - before;
    return { response, requested };
  }

  it('api - a subdomain covered by a valid ACME wildcard is linked to it, no new order', async () => {
    const { response, requested } = await create('a', ['https://a.covered.test']);
    expect(requested).toBe(0);
    expect(response.body.certificates).toEqual([{ id: wildcard.id, status: 'valid' }]);
    const shown = await api.call('GET', '/v1/apps/{name}', { params: { name: 'a' } });
    expect(shown.body.certificates).toEqual([{ id: wildcard.id, status: 'valid' }]);
  });

  it('api - apex and subdomain together are covered by one certificate listing both', async () => {
    const { response, requested } = await create('both', ['https://covered.test', 'https://b.covered.test']);
    expect(requested).toBe(0);
    expect(response.body.certificates).toEqual([{ id: wildcard.id, status: 'valid' }]);
  });

  it('api - a valid custom wildcard is reused too', async () => {
    const { response, requested } = await create('c', ['https://shop.custom.test']);
    expect(requested).toBe(0);
    expect(response.body.certificates).toEqual([{ id: custom.id, status: 'valid' }]);
  });

  it('api - a wildcard covers one label only: a deeper name or the uncovered apex orders a new certificate', async () => {
    const deeper = await create('deep', ['https://x.y.custom.test']);
    expect(deeper.requested).toBe(1);
    expect(deeper.response.body.certificates[0].id).not.toBe(custom.id);
    const apex = await create('apex', ['https://custom.test']);
    expect(apex.requested).toBe(1);
  });

  it('api - a certificate expiring within the margin, or still pending, is not reused', async () => {
    const soon = await create('soon', ['https://a.soon.test']);
    expect(soon.requested).toBe(1);
    expect(soon.response.body.certificates[0].id).not.toBe(expiring.id);
    const pending = await create('pend', ['https://a.pending.test']);
    expect(pending.requested).toBe(1);
    expect(pending.response.body.certificates[0].id).not.toBe(pendingWildcard.id);
  });

  it('api - names only partly covered order a new certificate for the whole set', async () => {
    const { response, requested } = await create('partial', ['https://d.covered.test', 'https://other.test']);
    expect(requested).toBe(1);
    expect(response.body.certificates[0].id).not.toBe(wildcard.id);
  });
});
