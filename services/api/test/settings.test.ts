import { randomUUID } from 'node:crypto';
import type { CertificateSource } from '@gatehouse/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

describe('api settings', () => {
  let api: ApiHarness;
  const day = 24 * 3600 * 1000;
  const customWildcard = randomUUID();
  const customSingle = randomUUID();
  const acmeWildcard = randomUUID();
  function row(
    id: string,
    names: string[],
    source: CertificateSource,
    notAfter = new Date(Date.now() + 30 * day),
  ) {
    return {
      id,
      names,
      names_key: names.join(','),
      status: 'valid' as const,
      source,
      not_before: new Date(),
      not_after: notAfter,
    };
  }
  beforeAll(async () => {
    api = await startApiHarness('api_settings');
    await api.db
      .insertInto('certificates')
      .values([
        row(customWildcard, ['*.example.test'], 'custom'),
        row(customSingle, ['one.example.test'], 'custom'),
        row(acmeWildcard, ['*.acme.test'], 'acme'),
      ])
      .execute();
  });
  afterAll(async () => {
    await api?.close();
  });

  async function storedSetting(key: string) {
    return (await api.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst())
      ?.value;
  }

  it('api - settings start empty', async () => {
    const response = await api.call('GET', '/v1/settings');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ fallbackCertificateId: null, adminEmails: [] });
  });

  it('api - admin emails are stored normalised as a jsonb array; invalid ones are refused naming each', async () => {
    const ok = await api.call('PUT', '/v1/settings/admin-emails', {
      body: { emails: ['Ops@Example.com', 'ops@example.com', 'dev@example.org'] },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.adminEmails).toEqual(['ops@example.com', 'dev@example.org']);
    expect(await storedSetting('admin_emails')).toEqual(['ops@example.com', 'dev@example.org']);

    const bad = await api.call('PUT', '/v1/settings/admin-emails', {
      body: { emails: ['ok@example.com', 'nope', 3] },
    });
    expect(bad.status).toBe(400);
    expect(bad.contentType).toContain('application/problem+json');
    expect(bad.body.errors.map((error: { field: string }) => error.field)).toEqual([
      'emails[1]',
      'emails[2]',
    ]);
    expect(await storedSetting('admin_emails')).toEqual(['ops@example.com', 'dev@example.org']);

    const missing = await api.call('PUT', '/v1/settings/admin-emails', {
      body: { emails: 'ops@example.com' },
    });
    expect(missing.status).toBe(400);
  });

  it('api - only a valid custom wildcard can be the fallback; unknown is 404; delete unsets it', async () => {
    const acme = await api.call('PUT', '/v1/settings/fallback-certificate', {
      body: { certificateId: acmeWildcard },
    });
    expect(acme.status).toBe(400);
    expect(acme.body.detail).toContain('uploaded');
    const single = await api.call('PUT', '/v1/settings/fallback-certificate', {
      body: { certificateId: customSingle },
    });
    expect(single.status).toBe(400);
    expect(single.body.detail).toContain('wildcard');
    const unknown = await api.call('PUT', '/v1/settings/fallback-certificate', {
      body: { certificateId: randomUUID() },
    });
    expect(unknown.status).toBe(404);
    const garbage = await api.call('PUT', '/v1/settings/fallback-certificate', {
      body: { certificateId: 'x' },
    });
    expect(garbage.status).toBe(400);
    expect(await storedSetting('fallback_certificate_id')).toBeUndefined();

    const ok = await api.call('PUT', '/v1/settings/fallback-certificate', {
      body: { certificateId: customWildcard },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.fallbackCertificateId).toBe(customWildcard);
    expect(await storedSetting('fallback_certificate_id')).toBe(customWildcard);

    const removed = await api.call('DELETE', '/v1/settings/fallback-certificate');
    expect(removed.status).toBe(200);
    expect(removed.body.fallbackCertificateId).toBeNull();
    expect(await storedSetting('fallback_certificate_id')).toBeUndefined();
    // Each change is announced (proxy-config chooses again at once); the refused ones announced nothing.
    const changes = await api.events('certs.fallback-changed');
    expect(changes.map((event) => event.data)).toEqual([
      { certificateId: customWildcard },
      { certificateId: null },
    ]);
  });
});
