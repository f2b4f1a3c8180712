import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockHostnames } from '../src/apps/app.repository.ts';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

describe('api apps', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApiHarness('api_apps');
  });
  afterAll(() => api.close());

  const shop = {
    name: 'shop',
    image: 'ghcr.io/acme/shop:v1',
    port: 8080,
    domains: ['https://shop.test'],
    env: { GREETING: 'hello' },
    command: ['httpd', '-f'],
  };

  it('api - create answers 201 and writes app, domains, certificate and both events in one transaction', async () => {
    const response = await api.call('POST', '/v1/apps', { body: shop });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe('/v1/apps/shop');
    expect(response.body).toMatchObject({
      name: 'shop',
      image: 'ghcr.io/acme/shop:v1',
      port: 8080,
      env: { GREETING: '****' },
      command: ['httpd', '-f'],
      www: 'none',
      revision: 1,
      domains: [{ url: 'https://shop.test', hostname: 'shop.test', https: true, challenge: 'auto' }],
      container: null,
      certificates: [{ status: 'pending' }],
    });

    const app = await api.db
      .selectFrom('apps')
      .selectAll()
      .where('name', '=', 'shop')
      .executeTakeFirstOrThrow();
    const certificate = await api.db
      .selectFrom('certificates')
      .selectAll()
      .where('id', '=', response.body.certificates[0].id)
      .executeTakeFirstOrThrow();
    expect(certificate).toMatchObject({
      names: ['shop.test'],
      names_key: 'shop.test',
      status: 'pending',
      source: 'acme',
    });

    const [created] = await api.events('apps.created');
    const [requested] = await api.events('certs.requested');
    expect(created).toMatchObject({
      subject: app.id,
      data: {
        appId: app.id,
        name: 'shop',
        revision: 1,
        domains: [{ hostname: 'shop.test', https: true, www: 'none', challenge: 'auto' }],
      },
    });
    expect(requested).toMatchObject({
      subject: certificate.id,
      data: { certificateId: certificate.id, names: ['shop.test'], reason: 'new', challenge: 'auto' },
    });
    // xmin is the id of the transaction that wrote a row: one value means one transaction.
    const appXmin = await sql<{
      xmin: string;
    }>`select xmin::text as xmin from apps where id = ${app.id}`.execute(api.db);
    const certXmin = await sql<{
      xmin: string;
    }>`select xmin::text as xmin from certificates where id = ${certificate.id}`.execute(api.db);
    expect(
      new Set([appXmin.rows[0]!.xmin, certXmin.rows[0]!.xmin, created!.xmin, requested!.xmin]).size,
    ).toBe(1);
  });

  it('api - bad input is a 400 problem naming every bad field, and nothing is stored', async () => {
    const before = await api.counts();
    const response = await api.call('POST', '/v1/apps', {
      body: {
        name: '-Bad_Name',
        image: 'nginx latest',
        port: 0,
        domains: [
          'ftp://files.example.com',
          'https://shop.example.com/path',
          'https://a..example.com',
          { url: 'https://localhost', mode: 'acme' },
        ],
        env: { '1BAD': 'x', GOOD: 5 },
        command: 'httpd',
        www: 'sometimes',
        extra: true,
      },
    });
    expect(response.status).toBe(400);
    expect(response.contentType).toContain('application/problem+json');
    const fields = Object.fromEntries(
      response.body.errors.map((error: { field: string; message: string }) => [error.field, error.message]),
    );
    expect(fields).toMatchObject({
      name: expect.stringContaining('lower-case'),
      image: expect.stringContaining('space'),
      port: 'must be between 1 and 65535',
      'domains[0]': 'the scheme must be http or https, not ftp',
      'domains[1]': expect.stringContaining('path'),
      'domains[2]': expect.stringContaining('empty label'),
      'domains[3].mode': expect.stringContaining('internal name'),
      'env.1BAD': expect.stringContaining('letters, digits and underscores'),
      'env.GOOD': expect.stringContaining('must be a string'),
      command: 'must be an array',
      www: expect.stringContaining('redirect-to-apex'),
      extra: 'is not a known field',
    });
    expect(await api.counts()).toEqual(before);
  });

  it('api - each refusal alone (bad domain, port 0, image with spaces) stores nothing', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ domains: ['https://exa mple.com'] }, 'domains[0]', /space/],
      [{ domains: ['https://shop.example.com:8443'] }, 'domains[0]', /port/],
      [{ domains: [{ url: 'https://u:p@shop.example.com' }] }, 'domains[0].url', /user name/],
      [
        { domains: [{ url: 'https://x.example.com', challenge: 'tls-alpn-01' }] },
        'domains[0].challenge',
        /dns-01/,
      ],
      [{ port: 0 }, 'port', /between 1 and 65535/],
      [{ port: 70000 }, 'port', /between 1 and 65535/],
      [{ port: 80.5 }, 'port', /whole number/],
      [{ image: 'nginx :latest' }, 'image', /space/],
      [{ image: 'Nginx' }, 'image', /lower-case/],
    ];
    for (const [override, field, message] of cases) {
      const before = await api.counts();
      const response = await api.call('POST', '/v1/apps', {
        body: { ...shop, name: 'refused', domains: ['https://refused.test'], ...override },
      });
      expect(response.status, JSON.stringify(override)).toBe(400);
      expect(response.body.errors).toEqual([{ field, message: expect.stringMatching(message) }]);
      expect(await api.counts()).toEqual(before);
    }
  });

  it('api - a missing token is 401 and stores nothing', async () => {
    const before = await api.counts();
    const response = await api.call('POST', '/v1/apps', {
      body: { ...shop, name: 'no-token', domains: ['https://no-token.test'] },
      auth: false,
    });
    expect(response.status).toBe(401);
    expect(response.contentType).toContain('application/problem+json');
    expect(await api.counts()).toEqual(before);
  });

  it('api - a name or host name used by another app is a 409 problem, www counterparts included', async () => {
    await api.call('POST', '/v1/apps', {
      body: {
        name: 'blog',
        image: 'ghost:5',
        port: 2368,
        domains: ['https://blog.test'],
        www: 'redirect-to-apex',
      },
    });
    const before = await api.counts();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ name: 'blog', domains: ['https://other.test'] }, /an app named blog already exists/],
      [{ name: 'shop2', domains: ['http://shop.test'] }, /shop\.test \(app shop\)/],
      // blog's www mode occupies www.blog.test.
      [{ name: 'blog2', domains: ['https://www.blog.test'] }, /www\.blog\.test \(app blog\)/],
      // A www mode here would add www.shop.test... which is free; but shop.test is not.
      [
        { name: 'www-shop', domains: ['https://www.shop.test'], www: 'redirect-to-www' },
        /shop\.test \(app shop\)/,
      ],
    ];
    for (const [override, detail] of cases) {
      const response = await api.call('POST', '/v1/apps', { body: { ...shop, ...override } });
      expect(response.status, JSON.stringify(override)).toBe(409);
      expect(response.body.detail).toMatch(detail);
      expect(await api.counts()).toEqual(before);
    }
  });

  it('api - an IDN domain is stored and certified as punycode', async () => {
    const response = await api.call('POST', '/v1/apps', {
      body: { name: 'buecher', image: 'nginx:1.27', port: 80, domains: ['https://Bücher.Test/'] },
    });
    expect(response.status).toBe(201);
    expect(response.body.domains).toEqual([
      {
        url: 'https://xn--bcher-kva.test',
        hostname: 'xn--bcher-kva.test',
        https: true,
        challenge: 'auto',
        mode: 'acme',
        profile: null,
      },
    ]);
    const certificate = await api.db
      .selectFrom('certificates')
      .select('names')
      .where('id', '=', response.body.certificates[0].id)
      .executeTakeFirstOrThrow();
    expect(certificate.names).toEqual(['xn--bcher-kva.test']);
  });

  it('api - a www mode adds the redirect source to the certificate, http domains get none', async () => {
    const response = await api.call('POST', '/v1/apps', {
      body: {
        name: 'store',
        image: 'nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
        port: 80,
        domains: [{ url: 'https://store.test', challenge: 'http-01' }, 'http://plain-store.test'],
        www: 'redirect-to-www',
      },
    });
    expect(response.status).toBe(201);
    const [certificate] = response.body.certificates;
    const row = await api.db
      .selectFrom('certificates')
      .select(['names', 'names_key'])
      .where('id', '=', certificate.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ names: ['store.test', 'www.store.test'], names_key: 'store.test,www.store.test' });
    const requested = (await api.events('certs.requested')).find((event) => event.subject === certificate.id);
    expect(requested?.data).toMatchObject({ names: ['store.test', 'www.store.test'], challenge: 'http-01' });
    const domains = await api.db
      .selectFrom('domains')
      .select(['hostname', 'www'])
      .orderBy('hostname')
      .execute();
    expect(domains.filter((domain) => domain.hostname.includes('store'))).toEqual([
      { hostname: 'plain-store.test', www: 'redirect-to-www' },
      { hostname: 'store.test', www: 'redirect-to-www' },
    ]);
  });

  it('api - list and show apps with container state; unknown app is 404', async () => {
    const app = await api.db
      .selectFrom('apps')
      .select('id')
      .where('name', '=', 'shop')
      .executeTakeFirstOrThrow();
    await api.db
      .insertInto('deployments')
      .values({
        id: crypto.randomUUID(),
        app_id: app.id,
        revision: 1,
        container_id: 'abc123',
        status: 'running',
        upstream_host: '127.0.0.1',
        upstream_port: 32768,
      })
      .execute();
    const list = await api.call('GET', '/v1/apps');
    expect(list.status).toBe(200);
    expect(list.body.apps.map((entry: { name: string }) => entry.name)).toEqual(
      expect.arrayContaining(['blog', 'buecher', 'shop', 'store']),
    );
    const shown = await api.call('GET', '/v1/apps/{name}', { params: { name: 'shop' } });
    expect(shown.body.container).toEqual({
      state: 'running',
      containerId: 'abc123',
      upstream: { host: '127.0.0.1', port: 32768 },
      error: null,
    });
    const missing = await api.call('GET', '/v1/apps/{name}', { params: { name: 'nope' } });
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toContain('no app named nope');
  });

  it('api - env values are sealed at rest, never in apps.* events, masked unless ?reveal=env, and a masked value sent back keeps the stored one', async () => {
    const secret = 's3cr3t-database-password';
    const created = await api.call('POST', '/v1/apps', {
      body: {
        name: 'vault',
        image: 'ghcr.io/acme/vault:v1',
        port: 8080,
        domains: [],
        env: { DB_PASSWORD: secret, MODE: 'prod' },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.env).toEqual({ DB_PASSWORD: '****', MODE: '****' });
    const row = await api.db
      .selectFrom('apps')
      .selectAll()
      .where('name', '=', 'vault')
      .executeTakeFirstOrThrow();
    expect(row.env).toEqual({});
    expect(row.env_sealed).toMatch(/^gh1\./);
    expect(JSON.stringify(row)).not.toContain(secret);
    const { openAppEnv } = await import('@gatehouse/pki');
    expect(openAppEnv(api.box, row)).toEqual({ DB_PASSWORD: secret, MODE: 'prod' });

    const listed = await api.call('GET', '/v1/apps');
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    const shown = await api.call('GET', '/v1/apps/{name}', { params: { name: 'vault' } });
    expect(shown.body.env).toEqual({ DB_PASSWORD: '****', MODE: '****' });
    const revealed = await api.call('GET', '/v1/apps/{name}', {
      params: { name: 'vault' },
      query: { reveal: 'env' },
    });
    expect(revealed.body.env).toEqual({ DB_PASSWORD: secret, MODE: 'prod' });
    const badReveal = await api.call('GET', '/v1/apps/{name}', {
      params: { name: 'vault' },
      query: { reveal: 'all' },
    });
    expect(badReveal.status).toBe(400);

    // A client that read the masked env changes one variable and sends the rest back as shown.
    const patched = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'vault' },
      body: { env: { DB_PASSWORD: '****', MODE: 'staging' } },
    });
    expect(patched.status).toBe(200);
    const after = await api.call('GET', '/v1/apps/{name}', {
      params: { name: 'vault' },
      query: { reveal: 'env' },
    });
    expect(after.body.env).toEqual({ DB_PASSWORD: secret, MODE: 'staging' });

    const events = [...(await api.events('apps.created')), ...(await api.events('apps.updated'))];
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) expect(event.data.env).toBeUndefined();
    const outbox = await sql<{ envelope: unknown }>`select envelope from outbox`.execute(api.db);
    expect(JSON.stringify(outbox.rows)).not.toContain(secret);
    expect((await api.call('DELETE', '/v1/apps/{name}', { params: { name: 'vault' } })).status).toBe(202);
  });

  it('api - patch bumps the revision, emits apps.updated and requests a certificate only when https names change', async () => {
    const requestedBefore = (await api.events('certs.requested')).length;
    const imageOnly = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'shop' },
      body: { image: 'ghcr.io/acme/shop:v2', env: { GREETING: 'hi' } },
    });
    expect(imageOnly.status).toBe(200);
    expect(imageOnly.body).toMatchObject({
      image: 'ghcr.io/acme/shop:v2',
      env: { GREETING: '****' },
      revision: 2,
    });
    expect((await api.events('certs.requested')).length).toBe(requestedBefore);

    const withDomain = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'shop' },
      body: { domains: ['https://shop.test', 'https://shop2.test'] },
    });
    expect(withDomain.body.revision).toBe(3);
    const requested = await api.events('certs.requested');
    expect(requested.length).toBe(requestedBefore + 1);
    expect(requested.at(-1)?.data.names).toEqual(['shop.test', 'shop2.test']);
    expect(withDomain.body.certificates).toEqual([{ id: requested.at(-1)?.subject, status: 'pending' }]);
    const updated = await api.events('apps.updated');
    expect(updated.at(-1)?.data).toMatchObject({ name: 'shop', revision: 3, image: 'ghcr.io/acme/shop:v2' });

    const before = await api.counts();
    const bad = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'shop' },
      body: { port: 0, domains: ['https://blog.test'], name: 'renamed' },
    });
    expect(bad.status).toBe(400);
    const conflict = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'shop' },
      body: { domains: ['https://blog.test'] },
    });
    expect(conflict.status).toBe(409);
    expect(await api.counts()).toEqual(before);
    const missing = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'nope' },
      body: { port: 1 },
    });
    expect(missing.status).toBe(404);
  });

  it('api - delete keeps the certificate and a re-created app reuses it; still pending, it is requested again', async () => {
    const shown = await api.call('GET', '/v1/apps/{name}', { params: { name: 'blog' } });
    const certificateId = shown.body.certificates[0].id;
    const deleted = await api.call('DELETE', '/v1/apps/{name}', { params: { name: 'blog' } });
    expect(deleted.status).toBe(202);
    expect(deleted.body).toEqual({ name: 'blog', revision: 2 });
    expect(await api.db.selectFrom('apps').where('name', '=', 'blog').selectAll().execute()).toEqual([]);
    expect(
      await api.db.selectFrom('domains').where('hostname', '=', 'blog.test').selectAll().execute(),
    ).toEqual([]);
    expect(
      await api.db.selectFrom('certificates').where('id', '=', certificateId).select('id').execute(),
    ).toHaveLength(1);
    expect((await api.events('apps.deleted')).at(-1)?.data).toMatchObject({ name: 'blog', revision: 2 });
    expect((await api.call('GET', '/v1/apps/{name}', { params: { name: 'blog' } })).status).toBe(404);

    const requestedBefore = (await api.events('certs.requested')).length;
    const again = await api.call('POST', '/v1/apps', {
      body: {
        name: 'blog',
        image: 'ghost:5',
        port: 2368,
        domains: ['https://blog.test'],
        www: 'redirect-to-apex',
      },
    });
    expect(again.status).toBe(201);
    expect(again.body.certificates).toEqual([{ id: certificateId, status: 'pending' }]);
    // Released by the delete, its first issuance may have been dropped meanwhile: the same certificate is asked for
    // again (cert-issuer keeps one open job per certificate, so a job still open absorbs it).
    const requested = (await api.events('certs.requested')).slice(requestedBefore);
    expect(requested.map((event) => event.data.certificateId)).toEqual([certificateId]);
    const missing = await api.call('DELETE', '/v1/apps/{name}', { params: { name: 'nope' } });
    expect(missing.status).toBe(404);
  });

  it('api - keyType orders the certificate with that key, never reuses one of another type, and a change re-orders', async () => {
    const ecdsa = await api.call('POST', '/v1/apps', {
      body: { name: 'legacy-a', image: 'nginx:1', port: 80, domains: ['https://legacy.test'] },
    });
    expect(ecdsa.status).toBe(201);
    expect(ecdsa.body.keyType).toBe('ecdsa-p256');
    const ecdsaId = ecdsa.body.certificates[0].id;
    await api.call('DELETE', '/v1/apps/{name}', { params: { name: 'legacy-a' } });

    // The same names with RSA: the ECDSA certificate is not reused, an RSA one is requested.
    const rsa = await api.call('POST', '/v1/apps', {
      body: {
        name: 'legacy-b',
        image: 'nginx:1',
        port: 80,
        domains: ['https://legacy.test'],
        keyType: 'rsa-2048',
      },
    });
    expect(rsa.status).toBe(201);
    expect(rsa.body.keyType).toBe('rsa-2048');
    const rsaId = rsa.body.certificates[0].id;
    expect(rsaId).not.toBe(ecdsaId);
    const row = await api.db
      .selectFrom('certificates')
      .select('key_type')
      .where('id', '=', rsaId)
      .executeTakeFirstOrThrow();
    expect(row.key_type).toBe('rsa-2048');
    const requested = (await api.events('certs.requested')).find((event) => event.subject === rsaId);
    expect(requested?.data).toMatchObject({ keyType: 'rsa-2048', names: ['legacy.test'] });

    // A key type change alone re-orders for the same names with the new key.
    const patched = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'legacy-b' },
      body: { keyType: 'rsa-4096' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.keyType).toBe('rsa-4096');
    const rsa4096 = (await api.events('certs.requested')).find(
      (event) => (event.data as { keyType?: string }).keyType === 'rsa-4096',
    );
    expect(rsa4096?.data).toMatchObject({ names: ['legacy.test'] });
    expect(patched.body.certificates[0].id).toBe(rsa4096?.subject);

    const bad = await api.call('POST', '/v1/apps', {
      body: {
        name: 'legacy-c',
        image: 'nginx:1',
        port: 80,
        domains: ['https://c.legacy.test'],
        keyType: 'dsa',
      },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('keyType');
    expect(JSON.stringify(bad.body)).toContain('rsa-2048');
  });

  it('api - changing only the www mode re-certifies with the counterpart; an http counterpart of an https name is refused', async () => {
    const response = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'buecher' },
      body: { www: 'redirect-to-www' },
    });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ www: 'redirect-to-www', revision: 2 });
    const requested = await api.events('certs.requested');
    expect(requested.at(-1)?.data.names).toEqual(['www.xn--bcher-kva.test', 'xn--bcher-kva.test']);
    expect(response.body.certificates).toEqual([{ id: requested.at(-1)?.subject, status: 'pending' }]);

    const before = await api.counts();
    const mixed = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'buecher' },
      body: { domains: ['https://mixed.test', 'http://www.mixed.test'] },
    });
    expect(mixed.status).toBe(400);
    expect(mixed.body.errors).toEqual([
      { field: 'domains', message: expect.stringContaining('www.mixed.test') },
    ]);
    expect(await api.counts()).toEqual(before);
  });

  it('api - concurrent creates for one host name: one wins, the rest get 409, one certificate is requested', async () => {
    const responses = await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        api.call('POST', '/v1/apps', {
          body: { name: `race-${n}`, image: 'nginx', port: 80, domains: ['https://race.test'], www: 'both' },
        }),
      ),
    );
    expect(responses.map((response) => response.status).sort()).toEqual([201, 409, 409, 409, 409]);
    const requested = (await api.events('certs.requested')).filter((event) =>
      event.data.names.includes('race.test'),
    );
    expect(requested).toHaveLength(1);
    expect(requested[0]?.data.names).toEqual(['race.test', 'www.race.test']);
  });

  it('api - concurrent creates that overlap only through a www counterpart: one wins, the other gets 409', async () => {
    const responses = await Promise.all([
      api.call('POST', '/v1/apps', {
        body: { name: 'pair-apex', image: 'nginx', port: 80, domains: ['https://pair.test'], www: 'both' },
      }),
      api.call('POST', '/v1/apps', {
        body: { name: 'pair-www', image: 'nginx', port: 80, domains: ['https://www.pair.test'] },
      }),
    ]);
    expect(responses.map((response) => response.status).sort()).toEqual([201, 409]);
  });

  it('api - 100 apps created at once all succeed, each with its own certificate request', async () => {
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, n) =>
        api.call('POST', '/v1/apps', {
          body: { name: `bulk-${n}`, image: 'nginx', port: 80, domains: [`https://bulk-${n}.test`] },
        }),
      ),
    );
    expect(responses.filter((response) => response.status !== 201).map((response) => response.body)).toEqual(
      [],
    );
    const requested = (await api.events('certs.requested')).filter((event) =>
      event.data.names.some((name: string) => name.startsWith('bulk-')),
    );
    expect(requested).toHaveLength(100);
  });

  it('api - a write holding one host name does not hold up an app with other names, only one claiming the same name', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = api.db.transaction().execute(async (trx) => {
      await lockHostnames(trx, ['held.test']);
      locked();
      await released;
    });
    await lockTaken;
    try {
      const other = await api.call('POST', '/v1/apps', {
        body: { name: 'not-held', image: 'nginx', port: 80, domains: ['https://not-held.test'] },
      });
      expect(other.status).toBe(201);
      let sameSettled = false;
      const same = api
        .call('POST', '/v1/apps', {
          body: { name: 'held', image: 'nginx', port: 80, domains: ['https://held.test'] },
        })
        .finally(() => {
          sameSettled = true;
        });
      // The other app's create finished above while the lock was held; this one must still be waiting.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(sameSettled).toBe(false);
      release();
      expect((await same).status).toBe(201);
    } finally {
      release();
      await holder;
    }
  });

  it('api - the OpenAPI document is served without a token', async () => {
    const response = await api.call('GET', '/v1/openapi.json', { auth: false });
    expect(response.status).toBe(200);
    expect(response.body.openapi).toBe('3.1.0');
    expect(Object.keys(response.body.paths)).toEqual(
      expect.arrayContaining(['/v1/apps', '/v1/apps/{name}', '/v1/certificates', '/v1/certificates/{id}']),
    );
  });
});
