import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reservedTcpPorts } from '../src/apps/tcp-ports.ts';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

describe('api apps tcp', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApiHarness('api_apps_tcp', {
      reservedTcpPorts: reservedTcpPorts({ apiPort: 8080, extra: [16686] }),
    });
  });
  afterAll(() => api.close());

  const db = (name: string, tcp: unknown, domains: unknown[] = [`https://${name}.test`]) => ({
    name,
    image: 'postgres:17',
    port: 5432,
    domains,
    tcp,
  });
  const tcpRows = () => api.db.selectFrom('app_tcp_ports').selectAll().orderBy('public_port').execute();

  it('api tcp - an app declares TCP ports; they are stored and shown, targetPort defaulting to the app port', async () => {
    const response = await api.call('POST', '/v1/apps', {
      body: db('pg-one', [
        { publicPort: 15432, tls: true },
        { publicPort: 15433, targetPort: 5433 },
      ]),
    });
    expect(response.status).toBe(201);
    // Nothing observed yet: `starting` until the deployer has seen each proxy up (test/tcp-proxy.test.ts).
    expect(response.body.tcp).toEqual([
      { publicPort: 15432, targetPort: null, tls: true, status: 'starting', error: null, since: null },
      { publicPort: 15433, targetPort: 5433, tls: false, status: 'starting', error: null, since: null },
    ]);
    const app = await api.db
      .selectFrom('apps')
      .select('id')
      .where('name', '=', 'pg-one')
      .executeTakeFirstOrThrow();
    expect(await tcpRows()).toMatchObject([
      { public_port: 15432, app_id: app.id, target_port: null, tls: true },
      { public_port: 15433, app_id: app.id, target_port: 5433, tls: false },
    ]);
    const shown = await api.call('GET', '/v1/apps/{name}', { params: { name: 'pg-one' } });
    expect(shown.body.tcp).toHaveLength(2);
  });

  it('api tcp - a public port another app holds is a 409 naming that app, and nothing is written', async () => {
    const before = await api.counts();
    const response = await api.call('POST', '/v1/apps', { body: db('pg-two', [{ publicPort: 15433 }]) });
    expect(response.status).toBe(409);
    expect(response.contentType).toContain('application/problem+json');
    expect(response.body.detail).toContain('15433 (app pg-one)');
    expect(response.body.errors).toEqual([
      { field: 'tcp[0].publicPort', message: 'port 15433 is used by app pg-one' },
    ]);
    expect(await api.counts()).toEqual(before);
  });

  it('api tcp - reserved ports are refused with the reason: Traefik entry points, the api port, TCP_RESERVED_PORTS', async () => {
    const response = await api.call('POST', '/v1/apps', {
      body: db('pg-three', [
        { publicPort: 80 },
        { publicPort: 443 },
        { publicPort: 8080 },
        { publicPort: 16686 },
      ]),
    });
    expect(response.status).toBe(400);
    const messages = Object.fromEntries(
      (response.body.errors as Array<{ field: string; message: string }>).map((e) => [e.field, e.message]),
    );
    expect(messages['tcp[0].publicPort']).toMatch(/80 is reserved: .*Traefik's HTTP entry point/);
    expect(messages['tcp[1].publicPort']).toMatch(/443 is reserved: .*Traefik's HTTPS entry point/);
    expect(messages['tcp[2].publicPort']).toMatch(/8080 is reserved: .*api's port \(API_LISTEN\)/);
    expect(messages['tcp[3].publicPort']).toMatch(/16686 is reserved: .*TCP_RESERVED_PORTS/);
  });

  it('api tcp - bad ranges, repeats, unknown fields and too many entries are each reported on their field', async () => {
    const response = await api.call('POST', '/v1/apps', {
      body: db('pg-four', [
        { publicPort: 0 },
        { publicPort: 20000, targetPort: 70000 },
        { publicPort: 20001, tls: 'yes' },
        { publicPort: 20002, proto: 'udp' },
      ]),
    });
    expect(response.status).toBe(400);
    const fields = (response.body.errors as Array<{ field: string }>).map((e) => e.field);
    expect(fields).toEqual(
      expect.arrayContaining(['tcp[0].publicPort', 'tcp[1].targetPort', 'tcp[2].tls', 'tcp[3].proto']),
    );
    const repeated = await api.call('POST', '/v1/apps', {
      body: db('pg-four', [{ publicPort: 20010 }, { publicPort: 20010, tls: true }]),
    });
    expect(repeated.status).toBe(400);
    expect(repeated.body.errors).toEqual([
      { field: 'tcp[1].publicPort', message: 'port 20010 is already listed as tcp[0]' },
    ]);
    const many = await api.call('POST', '/v1/apps', {
      body: db(
        'pg-four',
        Array.from({ length: 17 }, (_, index) => ({ publicPort: 21000 + index })),
      ),
    });
    expect(many.status).toBe(400);
    expect(many.body.errors[0].field).toBe('tcp');
  });

  it('api tcp - tls needs an https domain, at creation and when a patch drops the last one', async () => {
    const plain = await api.call('POST', '/v1/apps', {
      body: db('pg-five', [{ publicPort: 25432, tls: true }], ['http://pg-five.test']),
    });
    expect(plain.status).toBe(400);
    expect(plain.body.errors).toEqual([
      {
        field: 'tcp[0].tls',
        message:
          "port 25432 terminates TLS with the app's certificate, but the app has no https:// domain; add one or drop tls",
      },
    ]);
    const none = await api.call('POST', '/v1/apps', { body: db('pg-five', [{ publicPort: 25432 }], []) });
    expect(none.status).toBe(201);
    const dropHttps = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'pg-one' },
      body: { domains: ['http://pg-one.test'] },
    });
    expect(dropHttps.status).toBe(400);
    expect(dropHttps.body.errors[0].field).toBe('tcp[0].tls');
  });

  it('api tcp - a patch replaces the list, frees the old ports for other apps, and a delete frees them too', async () => {
    const patched = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'pg-one' },
      body: { tcp: [{ publicPort: 15434, tls: true }] },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.tcp).toMatchObject([{ publicPort: 15434, targetPort: null, tls: true }]);
    expect(patched.body.revision).toBe(2);
    const taken = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'pg-five' },
      body: { tcp: [{ publicPort: 15434 }] },
    });
    expect(taken.status).toBe(409);
    const freed = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'pg-five' },
      body: { tcp: [{ publicPort: 15432 }] },
    });
    expect(freed.status).toBe(200);
    expect((await api.call('DELETE', '/v1/apps/{name}', { params: { name: 'pg-one' } })).status).toBe(202);
    expect((await tcpRows()).map((row) => row.public_port)).toEqual([15432]);
  });

  it('api tcp - concurrent claims of one port: exactly one app gets it', async () => {
    const results = await Promise.all(
      ['race-a', 'race-b', 'race-c'].map((name) =>
        api.call('POST', '/v1/apps', { body: db(name, [{ publicPort: 30000 }], []) }),
      ),
    );
    expect(results.map((result) => result.status).sort()).toEqual([201, 409, 409]);
  });
});
