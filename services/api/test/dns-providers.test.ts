import { dnsProviderSecretContext } from '@gatehouse/pki';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

describe('api dns providers', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApiHarness('api_dns_providers');
  });
  afterAll(async () => {
    await api?.close();
  });

  const keySecret = 'aGVsbG8gdGhpcyBpcyBhIHRzaWcga2V5IHNlY3JldA==';
  const rfc2136 = {
    zone: 'Example.TEST.',
    kind: 'rfc2136',
    config: { server: '127.0.0.1:5353', keyName: 'acme-key', keyAlgorithm: 'hmac-sha256', keySecret },
  };

  it('api - a provider is stored with its secret sealed, and no answer ever shows the secret in full', async () => {
    const created = await api.call('POST', '/v1/dns-providers', { body: rfc2136 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      zone: 'example.test',
      kind: 'rfc2136',
      config: {
        server: '127.0.0.1:5353',
        keyName: 'acme-key',
        keyAlgorithm: 'hmac-sha256',
        keySecret: `****${keySecret.slice(-4)}`,
      },
    });
    const id = created.body.id as string;
    const row = await api.db
      .selectFrom('dns_providers')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row.config)).not.toContain(keySecret);
    expect(row.secret_encrypted).not.toContain(keySecret);
    expect(api.box.openText(row.secret_encrypted!, dnsProviderSecretContext(id))).toBe(keySecret);
    for (const answer of [
      await api.call('GET', '/v1/dns-providers'),
      await api.call('GET', '/v1/dns-providers/{id}', { params: { id } }),
    ]) {
      expect(answer.status).toBe(200);
      expect(JSON.stringify(answer.body)).not.toContain(keySecret);
    }
    const again = await api.call('POST', '/v1/dns-providers', { body: { ...rfc2136, zone: 'example.test' } });
    expect(again.status).toBe(409);
    expect(again.body.detail).toContain('already has a DNS provider');
  });

  it('api - bad providers are refused field by field, nothing stored', async () => {
    const before = await api.db.selectFrom('dns_providers').select('id').execute();
    const refused = await api.call('POST', '/v1/dns-providers', {
      body: {
        zone: '*.wild.test',
        kind: 'rfc2136',
        config: {
          server: 'no-port',
          keyName: 'acme key',
          keyAlgorithm: 'hmac-md5',
          keySecret: 'short',
          extra: 1,
        },
      },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors.map((error: { field: string }) => error.field).sort()).toEqual([
      'config.extra',
      'config.keyAlgorithm',
      'config.keyName',
      'config.keySecret',
      'config.server',
      'zone',
    ]);
    const unknownKind = await api.call('POST', '/v1/dns-providers', {
      body: { zone: 'a.test', kind: 'route53', config: {} },
    });
    expect(unknownKind.status).toBe(400);
    expect(unknownKind.body.errors[0].field).toBe('kind');
    const cloudflare = await api.call('POST', '/v1/dns-providers', {
      body: { zone: 'cf.test', kind: 'cloudflare', config: { apiToken: 'x' } },
    });
    expect(cloudflare.status).toBe(400);
    expect(cloudflare.body.errors).toEqual([
      { field: 'config.apiToken', message: expect.stringContaining('Cloudflare API token') },
    ]);
    expect(await api.db.selectFrom('dns_providers').select('id').execute()).toEqual(before);
  });

  it('api - exec programs outside DNS_EXEC_DIR and webhooks to internal, credentialed or query URLs are refused, nothing stored', async () => {
    const before = await api.db.selectFrom('dns_providers').select('id').execute();
    const cases: Array<[config: Record<string, unknown>, kind: string, message: string]> = [
      [{ command: '/bin/sh' }, 'exec', 'inside /usr/local/bin (DNS_EXEC_DIR)'],
      [{ command: '/usr/local/bin/../../bin/sh' }, 'exec', '..'],
      [{ url: 'http://127.0.0.1:8080/dns' }, 'webhook', 'a loopback address'],
      [{ url: 'http://[::1]/dns' }, 'webhook', 'a loopback address'],
      [{ url: 'http://169.254.169.254/latest' }, 'webhook', 'a link-local address'],
      [{ url: 'http://10.0.0.5/dns' }, 'webhook', 'a private address'],
      [{ url: 'http://postgres:5432/' }, 'webhook', "Gatehouse's own services"],
      [{ url: 'http://nats:8222/' }, 'webhook', "Gatehouse's own services"],
      [{ url: 'https://user:pw@dns.example.com/hook' }, 'webhook', 'credentials'],
      [{ url: 'https://dns.example.com/hook?x=' }, 'webhook', 'query or fragment'],
      [{ url: 'https://dns.example.com/hook#' }, 'webhook', 'query or fragment'],
    ];
    for (const [config, kind, message] of cases) {
      const refused = await api.call('POST', '/v1/dns-providers', {
        body: { zone: 'refused.test', kind, config },
      });
      expect(refused.status, JSON.stringify(config)).toBe(400);
      expect(refused.body.errors[0].message, JSON.stringify(config)).toContain(message);
    }
    expect(await api.db.selectFrom('dns_providers').select('id').execute()).toEqual(before);
  });

  it('api - a provider whose secret no longer opens is listed masked and flagged, the list still answers', async () => {
    const created = await api.call('POST', '/v1/dns-providers', {
      body: { zone: 'rotated.test', kind: 'cloudflare', config: { apiToken: 'cf-token-0123456789abcdef' } },
    });
    expect(created.status).toBe(201);
    expect(created.body.secretReadable).toBe(true);
    // As if the master key changed: a sealed value under another key.
    const { createSecretBox } = await import('@gatehouse/pki');
    const { randomBytes } = await import('node:crypto');
    await api.db
      .updateTable('dns_providers')
      .set({
        secret_encrypted: createSecretBox(randomBytes(32)).seal(
          'cf-token-0123456789abcdef',
          dnsProviderSecretContext(created.body.id),
        ),
      })
      .where('id', '=', created.body.id)
      .execute();
    const list = await api.call('GET', '/v1/dns-providers');
    expect(list.status).toBe(200);
    const listed = list.body.dnsProviders.find(
      (provider: { zone: string }) => provider.zone === 'rotated.test',
    );
    expect(listed).toMatchObject({ config: { apiToken: '****' }, secretReadable: false });
    const one = await api.call('GET', '/v1/dns-providers/{id}', { params: { id: created.body.id } });
    expect(one.status).toBe(200);
    expect(
      (await api.call('DELETE', '/v1/dns-providers/{id}', { params: { id: created.body.id } })).status,
    ).toBe(204);
  });

  it('api - webhook, exec and cloudflare providers; delete; unknown ids are 404', async () => {
    const exec = await api.call('POST', '/v1/dns-providers', {
      body: { zone: 'exec.test', kind: 'exec', config: { command: '/usr/local/bin/dns-hook' } },
    });
    expect(exec.status).toBe(201);
    expect(exec.body.config).toEqual({ command: '/usr/local/bin/dns-hook' });
    const webhook = await api.call('POST', '/v1/dns-providers', {
      body: {
        zone: 'hook.test',
        kind: 'webhook',
        config: { url: 'https://dns.example/hook', token: 'abcdefghijklmnopqrst' },
      },
    });
    expect(webhook.body.config).toEqual({ url: 'https://dns.example/hook', token: '****qrst' });
    expect(webhook.status).toBe(201);
    const cloudflare = await api.call('POST', '/v1/dns-providers', {
      body: { zone: 'cf.test', kind: 'cloudflare', config: { apiToken: 'cf-token-0123456789abcdef' } },
    });
    expect(cloudflare.body.config).toEqual({ apiToken: '****cdef' });
    expect(
      (await api.call('DELETE', '/v1/dns-providers/{id}', { params: { id: exec.body.id } })).status,
    ).toBe(204);
    expect((await api.call('GET', '/v1/dns-providers/{id}', { params: { id: exec.body.id } })).status).toBe(
      404,
    );
    expect((await api.call('DELETE', '/v1/dns-providers/{id}', { params: { id: 'nope' } })).status).toBe(404);
  });
});
