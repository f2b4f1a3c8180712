import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

describe('api certificates', () => {
  let api: ApiHarness;
  const valid = randomUUID();
  const wildcard = randomUUID();
  const failed = randomUUID();
  beforeAll(async () => {
    api = await startApiHarness('api_certs');
    const notBefore = new Date('2026-01-01T00:00:00Z');
    const notAfter = new Date('2026-02-15T00:00:00Z');
    await api.db
      .insertInto('certificates')
      .values([
        {
          id: valid,
          names: ['shop.test', 'www.shop.test'],
          names_key: 'shop.test,www.shop.test',
          status: 'valid',
          source: 'acme',
          issuer: 'https://pebble.test/dir',
          chain_pem: '-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n',
          private_key_encrypted: 'sealed-secret-must-not-leak',
          not_before: notBefore,
          not_after: notAfter,
          renew_at: new Date('2026-01-31T00:00:00Z'),
          renew_reason: 'lifetime',
        },
        {
          id: wildcard,
          names: ['*.apps.test'],
          names_key: '*.apps.test',
          status: 'pending',
          source: 'acme',
        },
        {
          id: failed,
          names: ['broken.test'],
          names_key: 'broken.test',
          status: 'failed',
          source: 'acme',
          last_error_kind: 'dns',
          last_error_message: 'NXDOMAIN looking up A for broken.test',
          last_error_at: new Date('2026-01-02T03:04:05Z'),
        },
      ])
      .execute();
    await api.db
      .insertInto('order_attempts')
      .values([
        {
          id: randomUUID(),
          certificate_id: failed,
          directory_url: 'https://pebble.test/dir',
          challenge_type: 'http-01',
          outcome: 'failure',
          error_kind: 'dns',
          error_message: 'NXDOMAIN looking up A for broken.test',
          started_at: new Date('2026-01-02T03:04:00Z'),
          finished_at: new Date('2026-01-02T03:04:05Z'),
          duration_ms: 5000,
        },
        {
          id: randomUUID(),
          certificate_id: failed,
          directory_url: 'https://second-ca.test/dir',
          challenge_type: 'dns-01',
          outcome: 'failure',
          error_kind: 'connection',
          error_message: 'connect ECONNREFUSED',
          started_at: new Date('2026-01-02T03:05:00Z'),
        },
      ])
      .execute();
  });
  afterAll(() => api.close());

  const ids = (body: { certificates: Array<{ id: string }> }) => body.certificates.map((entry) => entry.id);

  it('api - certificates list shows every certificate, never a key or chain', async () => {
    const response = await api.call('GET', '/v1/certificates');
    expect(response.status).toBe(200);
    expect(ids(response.body)).toEqual(expect.arrayContaining([valid, wildcard, failed]));
    expect(JSON.stringify(response.body)).not.toContain('sealed-secret');
    expect(JSON.stringify(response.body)).not.toContain('BEGIN CERTIFICATE');
    const shop = response.body.certificates.find((entry: { id: string }) => entry.id === valid);
    expect(shop).toEqual({
      id: valid,
      names: ['shop.test', 'www.shop.test'],
      status: 'valid',
      source: 'acme',
      issuer: 'https://pebble.test/dir',
      keyType: 'ecdsa-p256',
      notBefore: '2026-01-01T00:00:00.000Z',
      notAfter: '2026-02-15T00:00:00.000Z',
      renewAt: '2026-01-31T00:00:00.000Z',
      renewReason: 'lifetime',
      lastError: null,
      nextRenewal: {
        at: '2026-01-31T00:00:00.000Z',
        reason: 'lifetime',
        detail: 'a third of the lifetime left (half under 10 days)',
      },
      failureCount: 0,
      profile: null,
      releasedAt: null,
    });
  });

  it('api - certificates filter by status and by a name they cover (wildcards included)', async () => {
    const failedOnly = await api.call('GET', '/v1/certificates', { query: { status: 'failed' } });
    expect(ids(failedOnly.body)).toEqual([failed]);
    expect(failedOnly.body.certificates[0].lastError).toEqual({
      kind: 'dns',
      message: 'NXDOMAIN looking up A for broken.test',
      at: '2026-01-02T03:04:05.000Z',
    });
    expect(
      ids((await api.call('GET', '/v1/certificates', { query: { name: 'WWW.Shop.test' } })).body),
    ).toEqual([valid]);
    expect(
      ids((await api.call('GET', '/v1/certificates', { query: { name: 'one.apps.test' } })).body),
    ).toEqual([wildcard]);
    expect(
      ids((await api.call('GET', '/v1/certificates', { query: { name: 'a.b.apps.test' } })).body),
    ).toEqual([]);
    const both = await api.call('GET', '/v1/certificates', {
      query: { name: 'shop.test', status: 'pending' },
    });
    expect(ids(both.body)).toEqual([]);

    const bad = await api.call('GET', '/v1/certificates', { query: { status: 'bogus', name: 'a b' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((error: { field: string }) => error.field).sort()).toEqual(['name', 'status']);
  });

  it('api - a certificate shows its attempt history, oldest first; unknown ids are 404', async () => {
    const response = await api.call('GET', '/v1/certificates/{id}', { params: { id: failed } });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: failed, status: 'failed', names: ['broken.test'] });
    expect(response.body.attempts).toMatchObject([
      {
        directoryUrl: 'https://pebble.test/dir',
        challengeType: 'http-01',
        outcome: 'failure',
        error: { kind: 'dns', message: 'NXDOMAIN looking up A for broken.test' },
        startedAt: '2026-01-02T03:04:00.000Z',
        finishedAt: '2026-01-02T03:04:05.000Z',
        durationMs: 5000,
      },
      {
        directoryUrl: 'https://second-ca.test/dir',
        outcome: 'failure',
        error: { kind: 'connection', message: 'connect ECONNREFUSED' },
        finishedAt: null,
      },
    ]);
    const none = await api.call('GET', '/v1/certificates/{id}', { params: { id: valid } });
    expect(none.body.attempts).toEqual([]);
    expect(JSON.stringify(none.body)).not.toContain('sealed-secret');

    for (const id of [randomUUID(), 'not-a-uuid']) {
      const missing = await api.call('GET', '/v1/certificates/{id}', { params: { id } });
      expect(missing.status).toBe(404);
      expect(missing.contentType).toContain('application/problem+json');
    }
  });

  it('api - certificates need the token', async () => {
    const response = await api.call('GET', '/v1/certificates', { auth: false });
    expect(response.status).toBe(401);
  });
});
