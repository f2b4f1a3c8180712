import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

describe('api apps - ACME profile per domain', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApiHarness('api_profiles');
  });
  afterAll(() => api.close());

  const app = { name: 'short', image: 'ghcr.io/acme/shop:v1', port: 8080 };

  it('profiles - a domain’s profile is stored, shown, sent in certs.requested and on the certificate’s manual renewal', async () => {
    const created = await api.call('POST', '/v1/apps', {
      body: {
        ...app,
        domains: [{ url: 'https://short.test', profile: 'shortlived' }, 'https://also.short.test'],
      },
    });
    expect(created.status).toBe(201);
    expect(
      Object.fromEntries(
        created.body.domains.map((domain: { hostname: string; profile: string | null }) => [
          domain.hostname,
          domain.profile,
        ]),
      ),
    ).toEqual({ 'short.test': 'shortlived', 'also.short.test': null });
    const certificateId = created.body.certificates[0].id as string;
    const requested = (await api.events('certs.requested')).filter(
      (event) => event.subject === certificateId,
    );
    expect(requested.map((event) => event.data.profile)).toEqual(['shortlived']);
    const stored = await api.db
      .selectFrom('domains')
      .select(['hostname', 'profile'])
      .orderBy('hostname')
      .execute();
    expect(stored).toEqual([
      { hostname: 'also.short.test', profile: null },
      { hostname: 'short.test', profile: 'shortlived' },
    ]);

    const detail = await api.call('GET', '/v1/certificates/{id}', { params: { id: certificateId } });
    expect(detail.status).toBe(200);
    expect(detail.body.profile).toBeNull(); // Nothing issued yet: no order has carried a profile.

    // The renew button asks for the domains' profile again.
    await api.db
      .updateTable('certificates')
      .set({ status: 'valid' })
      .where('id', '=', certificateId)
      .execute();
    const renewed = await api.call('POST', '/v1/certificates/{id}/renew', { params: { id: certificateId } });
    expect(renewed.status).toBe(202);
    const afterRenew = (await api.events('certs.requested')).filter(
      (event) => event.subject === certificateId,
    );
    expect(afterRenew.map((event) => [event.data.reason, event.data.profile])).toEqual([
      ['new', 'shortlived'],
      ['manual', 'shortlived'],
    ]);
  });

  it('profiles - changing only the profile requests the same certificate again with it, so its next order uses it', async () => {
    const before = await api.call('GET', '/v1/apps/{name}', { params: { name: 'short' } });
    const certificateId = before.body.certificates[0].id as string;
    // What cert-issuer recorded for the first request (the api has no cert-issuer here).
    await api.db
      .insertInto('issuance_jobs')
      .values({
        id: crypto.randomUUID(),
        certificate_id: certificateId,
        names_key: 'also.short.test,short.test',
        reason: 'new',
        challenge: 'auto',
        key_type: 'ecdsa-p256',
        profile: 'shortlived',
        status: 'done',
      })
      .execute();
    const patched = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'short' },
      body: { domains: [{ url: 'https://short.test', profile: 'classic' }, 'https://also.short.test'] },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.certificates[0].id).toBe(certificateId);
    const requested = (await api.events('certs.requested')).filter(
      (event) => event.subject === certificateId,
    );
    expect(requested.at(-1)?.data).toMatchObject({ reason: 'new', profile: 'classic' });

    // The same patch again changes nothing, and requests nothing.
    const count = requested.length;
    await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'short' },
      body: { image: 'ghcr.io/acme/shop:v2' },
    });
    expect(
      (await api.events('certs.requested')).filter((event) => event.subject === certificateId),
    ).toHaveLength(count);
  });

  it('profiles - a bad name, two profiles on one certificate, or a profile on http:// are refused and store nothing', async () => {
    const cases: Array<[unknown[], string, RegExp]> = [
      [[{ url: 'https://bad.test', profile: 'short lived' }], 'domains[0].profile', /ACME profile name/],
      [
        [
          { url: 'https://a.bad.test', profile: 'classic' },
          { url: 'https://b.bad.test', profile: 'shortlived' },
        ],
        'domains',
        /share one certificate.*classic, shortlived/,
      ],
      [[{ url: 'http://plain.bad.test', profile: 'classic' }], 'domains[0].url', /http:\/\/ domain has none/],
    ];
    for (const [domains, field, message] of cases) {
      const before = await api.counts();
      const response = await api.call('POST', '/v1/apps', { body: { ...app, name: 'refused', domains } });
      expect(response.status, JSON.stringify(domains)).toBe(400);
      expect(response.contentType).toContain('application/problem+json');
      expect(response.body.errors).toEqual([{ field, message: expect.stringMatching(message) }]);
      expect(await api.counts()).toEqual(before);
    }
  });
});
