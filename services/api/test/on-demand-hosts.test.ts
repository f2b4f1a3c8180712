import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

describe('api on-demand hosts', () => {
  let api: ApiHarness;
  const first = randomUUID();
  const second = randomUUID();
  beforeAll(async () => {
    api = await startApiHarness('api_on_demand_hosts');
    const notAfter = new Date(Date.now() + 90 * 86_400_000);
    await api.db
      .insertInto('certificates')
      .values([
        {
          id: first,
          names: ['a.od.test'],
          names_key: 'a.od.test',
          status: 'valid',
          source: 'acme',
          not_after: notAfter,
        },
        { id: second, names: ['b.od.test'], names_key: 'b.od.test', status: 'pending', source: 'acme' },
      ])
      .execute();
    // One at a time: created_at orders them.
    await api.db
      .insertInto('on_demand_hosts')
      .values({ hostname: 'a.od.test', certificate_id: first })
      .execute();
    await api.db
      .insertInto('on_demand_hosts')
      .values({ hostname: 'b.od.test', certificate_id: second })
      .execute();
  });
  afterAll(async () => {
    await api?.close();
  });

  it('api - on-demand hosts are listed newest first with their certificate state, and filter by host name', async () => {
    const all = await api.call('GET', '/v1/on-demand-hosts');
    expect(all.status).toBe(200);
    expect(all.body.hosts).toMatchObject([
      { hostname: 'b.od.test', certificateId: second, status: 'pending', notAfter: null },
      { hostname: 'a.od.test', certificateId: first, status: 'valid' },
    ]);
    expect(all.body.hosts[1].notAfter).toEqual(expect.any(String));
    const one = await api.call('GET', '/v1/on-demand-hosts', { query: { hostname: 'A.OD.test' } });
    expect(one.body.hosts.map((host: { hostname: string }) => host.hostname)).toEqual(['a.od.test']);
    const firstPage = await api.call('GET', '/v1/on-demand-hosts', { query: { limit: '1' } });
    expect(firstPage.body.hosts.map((host: { hostname: string }) => host.hostname)).toEqual(['b.od.test']);
    const secondPage = await api.call('GET', '/v1/on-demand-hosts', {
      query: { limit: '1', cursor: firstPage.body.nextCursor },
    });
    expect(secondPage.body.hosts.map((host: { hostname: string }) => host.hostname)).toEqual(['a.od.test']);
    expect(secondPage.body.nextCursor).toBeNull();
  });

  it('api - a cursor of another list is a 400, not a misread page', async () => {
    const notifications = await api.call('GET', '/v1/notifications', { query: { limit: '1' } });
    const foreign = Buffer.from(JSON.stringify({ k: 'notifications:newest', v: ['x', 'y'] })).toString(
      'base64url',
    );
    for (const cursor of [foreign, 'not-a-cursor', notifications.body.nextCursor ?? foreign]) {
      const response = await api.call('GET', '/v1/on-demand-hosts', { query: { cursor } });
      expect(response.status).toBe(400);
      expect(response.body.errors[0].field).toBe('cursor');
    }
  });

  it('api - bad on-demand filters are a 400 problem naming each one', async () => {
    const response = await api.call('GET', '/v1/on-demand-hosts', {
      query: { hostname: 'https://a.od.test/', limit: '0', color: 'red' },
    });
    expect(response.status).toBe(400);
    expect(response.contentType).toContain('application/problem+json');
    const fields = Object.fromEntries(
      (response.body.errors as Array<{ field: string; message: string }>).map((error) => [
        error.field,
        error.message,
      ]),
    );
    expect(fields.hostname).toMatch(/^must be a host name: /);
    expect(fields.limit).toBe('must be at least 1');
    expect(fields.color).toBe('is not a known filter (hostname, limit, cursor)');
  });

  it('api - on-demand hosts need the bearer token', async () => {
    expect((await api.call('GET', '/v1/on-demand-hosts', { auth: false })).status).toBe(401);
  });
});
