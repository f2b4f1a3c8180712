import { randomUUID } from 'node:crypto';
import type { CertificateSource } from '@gatehouse/db';
import { rateLimitScopes, record } from '@gatehouse/rate-limits';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

describe('api certificate manual renewal', () => {
  let api: ApiHarness;
  const acme = randomUUID();
  const custom = randomUUID();
  function row(id: string, names: string[], source: CertificateSource) {
    return {
      id,
      names,
      names_key: names.join(','),
      status: 'valid' as const,
      source,
      issuer: 'CN=Test CA',
      not_before: new Date(),
      not_after: new Date(Date.now() + 30 * 24 * 3600 * 1000),
    };
  }
  beforeAll(async () => {
    api = await startApiHarness('api_certs_renew');
    await api.db
      .insertInto('certificates')
      .values([row(acme, ['renew.test'], 'acme'), row(custom, ['*.mine.test'], 'custom')])
      .execute();
  });
  afterAll(async () => {
    await api?.close();
  });

  it('api - renew answers 202, sets renewing and emits certs.requested (manual) once; a second call is idempotent', async () => {
    const response = await api.call('POST', '/v1/certificates/{id}/renew', { params: { id: acme } });
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ id: acme, status: 'renewing', names: ['renew.test'] });
    const requested = (await api.events('certs.requested')).filter((event) => event.subject === acme);
    expect(requested).toHaveLength(1);
    expect(requested[0]?.data).toMatchObject({
      certificateId: acme,
      names: ['renew.test'],
      reason: 'manual',
    });

    const again = await api.call('POST', '/v1/certificates/{id}/renew', { params: { id: acme } });
    expect(again.status).toBe(202);
    expect(again.body.status).toBe('renewing');
    expect((await api.events('certs.requested')).filter((event) => event.subject === acme)).toHaveLength(1);
  });

  it('api - a manual renewal carries the challenge its domains ask for (dns-01 here), not auto', async () => {
    const created = await api.call('POST', '/v1/apps', {
      body: {
        name: 'dns-only',
        image: 'example/app:1',
        port: 8080,
        domains: [{ url: 'https://dns-only.test', challenge: 'dns-01' }],
      },
    });
    expect(created.status).toBe(201);
    const link = await api.db
      .selectFrom('app_certificates')
      .innerJoin('apps', 'apps.id', 'app_certificates.app_id')
      .select('certificate_id')
      .where('apps.name', '=', 'dns-only')
      .executeTakeFirstOrThrow();
    await api.db
      .updateTable('certificates')
      .set({ status: 'valid', not_after: new Date(Date.now() + 86_400_000) })
      .where('id', '=', link.certificate_id)
      .execute();
    const response = await api.call('POST', '/v1/certificates/{id}/renew', {
      params: { id: link.certificate_id },
    });
    expect(response.status).toBe(202);
    const requested = (await api.events('certs.requested')).filter(
      (event) => event.subject === link.certificate_id,
    );
    expect(requested.map((event) => [event.data.reason, event.data.challenge])).toEqual([
      ['new', 'dns-01'],
      ['manual', 'dns-01'],
    ]);
  });

  it('api - renewing an uploaded certificate is a 409 saying to upload a replacement, nothing emitted', async () => {
    const before = await api.counts();
    const response = await api.call('POST', '/v1/certificates/{id}/renew', { params: { id: custom } });
    expect(response.status).toBe(409);
    expect(response.contentType).toContain('application/problem+json');
    expect(response.body.detail).toContain('not renewed by Gatehouse');
    expect(response.body.detail).toContain('upload a replacement');
    expect(await api.counts()).toEqual(before);
    const stored = await api.db
      .selectFrom('certificates')
      .select('status')
      .where('id', '=', custom)
      .executeTakeFirst();
    expect(stored?.status).toBe('valid');
  });

  it('api - renewing an unknown or malformed id is 404', async () => {
    for (const id of [randomUUID(), 'not-a-uuid']) {
      const response = await api.call('POST', '/v1/certificates/{id}/renew', { params: { id } });
      expect(response.status).toBe(404);
      expect(response.body.detail).toContain('GET /v1/certificates');
    }
  });

  it('api - renewing when the CA rate limit is spent is a 429 saying when, with Retry-After, and nothing changes', async () => {
    const directory = 'https://acme-v02.api.letsencrypt.org/directory';
    const limited = randomUUID();
    await api.db
      .insertInto('certificates')
      .values({ ...row(limited, ['limited.test'], 'acme'), issuer: directory })
      .execute();
    // Let's Encrypt allows 5 certificates for one exact name set per 7 days: all 5 spent an hour ago.
    const spentAt = new Date(Date.now() - 3_600_000);
    for (let i = 0; i < 5; i++) {
      await record(
        api.db,
        'duplicate-certificates',
        rateLimitScopes.nameSet(directory, 'limited.test'),
        spentAt,
      );
    }
    const before = await api.counts();
    const response = await api.call('POST', '/v1/certificates/{id}/renew', { params: { id: limited } });
    expect(response.status).toBe(429);
    expect(response.contentType).toContain('application/problem+json');
    const retryAt = new Date(response.body.retryAfter).getTime();
    expect(retryAt).toBe(spentAt.getTime() + 7 * 86_400_000);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(6 * 86_400);
    expect(response.body.detail).toMatch(/a renewal is possible again at/);
    expect(await api.counts()).toEqual(before);
    const stored = await api.db
      .selectFrom('certificates')
      .select('status')
      .where('id', '=', limited)
      .executeTakeFirst();
    expect(stored?.status).toBe('valid');
  });
});
