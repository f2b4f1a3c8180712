import { makeCertificateChain } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

describe('api custom certificate upload', () => {
  let api: ApiHarness;
  const shop = makeCertificateChain(['*.shop.test']);
  beforeAll(async () => {
    api = await startApiHarness('api_certs_upload');
  });
  afterAll(async () => {
    await api?.close();
  });

  it('api - a refused upload (key of another certificate, chain out of order, not PEM) is a 400 naming the field, and stores nothing', async () => {
    await api.call('POST', '/v1/apps', {
      body: { name: 'store', image: 'nginx', port: 80, domains: ['https://www.shop.test'] },
    });
    const before = await api.counts();
    const other = makeCertificateChain(['other.test']);
    const cases = [
      {
        body: { certificate: shop.leaf, chain: shop.intermediate, privateKey: other.key },
        error: { field: 'privateKey', message: expect.stringMatching(/does not belong to the certificate/) },
      },
      {
        body: { certificate: shop.leaf, chain: `${shop.root}${shop.intermediate}`, privateKey: shop.key },
        error: {
          field: 'chain',
          message: expect.stringMatching(/did not sign certificate 1 .*order the chain leaf first/),
        },
      },
      {
        body: { certificate: 'not a certificate', privateKey: shop.key },
        error: { field: 'certificate', message: expect.stringMatching(/^no PEM certificate found/) },
      },
      { body: { certificate: shop.leaf }, error: { field: 'privateKey', message: expect.any(String) } },
    ];
    for (const { body, error } of cases) {
      const response = await api.call('POST', '/v1/certificates', { body });
      expect(response.status).toBe(400);
      expect(response.contentType).toContain('application/problem+json');
      expect(response.body.errors).toEqual([error]);
    }
    expect(await api.counts()).toEqual(before);
  });

  it('api - an accepted upload is stored sealed, linked to the apps it covers, announced, and never shows its key', async () => {
    const response = await api.call('POST', '/v1/certificates', {
      body: { certificate: shop.leaf, chain: shop.intermediate, privateKey: shop.key },
    });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      names: ['*.shop.test'],
      status: 'valid',
      source: 'custom',
      keyType: 'ecdsa-p256',
      renewAt: null,
      warnings: [],
    });
    expect(JSON.stringify(response.body)).not.toContain('PRIVATE KEY');
    const id = response.body.id as string;
    const row = await api.db
      .selectFrom('certificates')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.private_key_encrypted).not.toContain('PRIVATE KEY');
    expect(api.box.openText(row.private_key_encrypted!, `certificate:${id}`)).toContain('BEGIN PRIVATE KEY');
    expect(row.chain_pem?.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const app = await api.call('GET', '/v1/apps/{name}', { params: { name: 'store' } });
    expect(app.body.certificates.map((certificate: { id: string }) => certificate.id)).toContain(id);
    const uploaded = (await api.events('certs.uploaded')).filter((event) => event.subject === id);
    expect(uploaded).toHaveLength(1);
    expect(uploaded[0]?.data).toMatchObject({ certificateId: id, names: ['*.shop.test'] });
  });

  it('api - an upload can be deleted (certs.removed); an ACME certificate cannot, nor the fallback certificate', async () => {
    const listed = await api.call('GET', '/v1/certificates', { query: { name: 'www.shop.test' } });
    const custom = listed.body.certificates.find(
      (certificate: { source: string }) => certificate.source === 'custom',
    );
    const acme = listed.body.certificates.find(
      (certificate: { source: string }) => certificate.source === 'acme',
    );
    await api.db
      .insertInto('settings')
      .values({ key: 'fallback_certificate_id', value: JSON.stringify(custom.id) })
      .execute();
    const refusedFallback = await api.call('DELETE', '/v1/certificates/{id}', { params: { id: custom.id } });
    expect(refusedFallback.status).toBe(409);
    expect(refusedFallback.body.detail).toMatch(
      /fallback certificate; DELETE \/v1\/settings\/fallback-certificate first/,
    );
    await api.db.deleteFrom('settings').where('key', '=', 'fallback_certificate_id').execute();
    const refusedAcme = await api.call('DELETE', '/v1/certificates/{id}', { params: { id: acme.id } });
    expect(refusedAcme.status).toBe(409);
    const deleted = await api.call('DELETE', '/v1/certificates/{id}', { params: { id: custom.id } });
    expect(deleted.status).toBe(204);
    expect((await api.call('GET', '/v1/certificates/{id}', { params: { id: custom.id } })).status).toBe(404);
    expect((await api.events('certs.removed')).map((event) => event.subject)).toEqual([custom.id]);
    expect((await api.call('DELETE', '/v1/certificates/{id}', { params: { id: custom.id } })).status).toBe(
      404,
    );
  });
});
