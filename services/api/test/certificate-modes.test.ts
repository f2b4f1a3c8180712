import { makeCertificateChain } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

describe('api certificate modes', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApiHarness('api_modes');
  });
  afterAll(() => api.close());

  const certificatesOf = async (name: string) => {
    const app = await api.call('GET', '/v1/apps/{name}', { params: { name } });
    const ids = (app.body.certificates as Array<{ id: string }>).map((certificate) => certificate.id);
    if (ids.length === 0) return [];
    return api.db
      .selectFrom('certificates')
      .select(['id', 'names', 'source', 'status'])
      .where('id', 'in', ids)
      .orderBy('source')
      .execute();
  };

  it('api - acme for an internal DNS name is a 422 saying why and what to do; nothing is stored', async () => {
    const before = await api.counts();
    for (const url of ['https://localhost', 'https://app.internal', 'https://nas.home.arpa']) {
      const response = await api.call('POST', '/v1/apps', {
        body: { name: 'inside', image: 'nginx:1.27', port: 80, domains: [{ url, mode: 'acme' }] },
      });
      expect(response.status, url).toBe(422);
      expect(response.contentType).toContain('application/problem+json');
      expect(response.body.detail).toMatch(/internal name.*use mode local-ca/);
      expect(response.body.errors).toEqual([
        { field: 'domains[0].mode', message: expect.stringMatching(/local-ca/) },
      ]);
    }
    // Malformed input beside it stays a 400.
    const mixed = await api.call('POST', '/v1/apps', {
      body: {
        name: 'inside',
        image: 'nginx:1.27',
        port: 0,
        domains: [{ url: 'https://app.internal', mode: 'acme' }],
      },
    });
    expect(mixed.status).toBe(400);
    const badMode = await api.call('POST', '/v1/apps', {
      body: {
        name: 'inside',
        image: 'nginx:1.27',
        port: 80,
        domains: [{ url: 'https://a.test', mode: 'letsencrypt' }],
      },
    });
    expect(badMode.status).toBe(400);
    expect(badMode.body.errors).toEqual([
      { field: 'domains[0].mode', message: 'must be one of acme, custom, fallback-only, local-ca' },
    ]);
    expect(await api.counts()).toEqual(before);
  });

  it('api - internal names and IPs default to local-ca and get a local CA certificate request; an IP may ask for acme', async () => {
    const created = await api.call('POST', '/v1/apps', {
      body: {
        name: 'intranet',
        image: 'nginx:1.27',
        port: 80,
        domains: ['https://wiki.internal', 'https://192.0.2.10', 'https://public.test'],
      },
    });
    expect(created.status).toBe(201);
    expect(
      Object.fromEntries(
        created.body.domains.map((domain: { hostname: string; mode: string }) => [
          domain.hostname,
          domain.mode,
        ]),
      ),
    ).toEqual({ 'wiki.internal': 'local-ca', '192.0.2.10': 'local-ca', 'public.test': 'acme' });
    expect(await certificatesOf('intranet')).toEqual([
      expect.objectContaining({ names: ['public.test'], source: 'acme', status: 'pending' }),
      expect.objectContaining({
        names: ['192.0.2.10', 'wiki.internal'],
        source: 'local-ca',
        status: 'pending',
      }),
    ]);
    const requested = (await api.events('certs.requested')).map((event) => event.data.names);
    expect(requested).toEqual(expect.arrayContaining([['192.0.2.10', 'wiki.internal'], ['public.test']]));

    const ipAcme = await api.call('POST', '/v1/apps', {
      body: {
        name: 'ip-acme',
        image: 'nginx:1.27',
        port: 80,
        domains: [{ url: 'https://192.0.2.11', mode: 'acme' }],
      },
    });
    expect(ipAcme.status).toBe(201);
    expect(await certificatesOf('ip-acme')).toEqual([
      expect.objectContaining({ names: ['192.0.2.11'], source: 'acme' }),
    ]);
  });

  it('api - acme → custom keeps the served certificate linked and orders nothing; an upload then joins it', async () => {
    const created = await api.call('POST', '/v1/apps', {
      body: { name: 'moving', image: 'nginx:1.27', port: 80, domains: ['https://moving.test'] },
    });
    const acmeId = created.body.certificates[0].id as string;
    const requestedBefore = (await api.events('certs.requested')).length;
    const toCustom = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'moving' },
      body: { domains: [{ url: 'https://moving.test', mode: 'custom' }] },
    });
    expect(toCustom.status).toBe(200);
    expect(toCustom.body.domains[0].mode).toBe('custom');
    // The old certificate stays linked (proxy-config keeps serving it); nothing new is requested.
    expect(toCustom.body.certificates.map((c: { id: string }) => c.id)).toEqual([acmeId]);
    expect((await api.events('certs.requested')).length).toBe(requestedBefore);
    const row = await api.db
      .selectFrom('domains')
      .select('mode')
      .where('hostname', '=', 'moving.test')
      .executeTakeFirstOrThrow();
    expect(row.mode).toBe('custom');

    const chain = makeCertificateChain(['moving.test']);
    const upload = await api.call('POST', '/v1/certificates', {
      body: { certificate: chain.leaf, chain: chain.intermediate, privateKey: chain.key },
    });
    expect(upload.status).toBe(201);
    const linked = await certificatesOf('moving');
    expect(linked.map((c) => c.source).sort()).toEqual(['acme', 'custom']);

    // Back to acme: the ACME certificate for the name set is reused, not ordered again.
    const back = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'moving' },
      body: { domains: ['https://moving.test'] },
    });
    expect(back.status).toBe(200);
    expect(back.body.certificates.map((c: { id: string }) => c.id)).toEqual([acmeId]);
    expect((await api.events('certs.requested')).length).toBe(requestedBefore);
  });

  it('api - fallback-only gets a self-signed stand-in in status fallback, never a CA request; a mode change to local-ca requests one', async () => {
    const requestedBefore = (await api.events('certs.requested')).length;
    const created = await api.call('POST', '/v1/apps', {
      body: {
        name: 'quiet',
        image: 'nginx:1.27',
        port: 80,
        domains: [{ url: 'https://quiet.test', mode: 'fallback-only' }],
      },
    });
    expect(created.status).toBe(201);
    const [standIn] = await certificatesOf('quiet');
    expect(standIn).toMatchObject({ names: ['quiet.test'], source: 'self-signed', status: 'fallback' });
    const stored = await api.db
      .selectFrom('certificates')
      .select(['fallback_chain_pem', 'fallback_key_encrypted', 'chain_pem'])
      .where('id', '=', standIn!.id)
      .executeTakeFirstOrThrow();
    expect(stored.chain_pem).toBeNull();
    expect(stored.fallback_chain_pem).toMatch(/BEGIN CERTIFICATE/);
    expect(api.box.openText(stored.fallback_key_encrypted!, `certificate:${standIn!.id}`)).toMatch(
      /PRIVATE KEY/,
    );
    expect((await api.events('certs.requested')).length).toBe(requestedBefore);

    const toLocal = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'quiet' },
      body: { domains: [{ url: 'https://quiet.test', mode: 'local-ca' }] },
    });
    expect(toLocal.status).toBe(200);
    expect(await certificatesOf('quiet')).toEqual([
      expect.objectContaining({ names: ['quiet.test'], source: 'local-ca', status: 'pending' }),
    ]);
    expect((await api.events('certs.requested')).length).toBe(requestedBefore + 1);

    const refused = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'intranet' },
      body: { domains: [{ url: 'https://wiki.internal', mode: 'acme' }] },
    });
    expect(refused.status).toBe(422);
  });
});
