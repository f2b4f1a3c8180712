import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness, token } from './api-harness.ts';

/** Inputs a security review found answered with 500: each must now be a 4xx that stores nothing. */
describe('api hostile input', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApiHarness('api_hostile_input');
  });
  afterAll(async () => {
    await api?.close();
  });

  const app = (name: string, extra: Record<string, unknown>) => ({
    name,
    image: 'gatehouse-test/busybox:1',
    port: 8080,
    ...extra,
  });

  async function refusedWithoutWrites(body: unknown, field: string) {
    const before = await api.counts();
    const answer = await api.call('POST', '/v1/apps', { body });
    expect(answer.status, JSON.stringify(answer.body).slice(0, 300)).toBe(400);
    expect(answer.body.errors.map((error: { field: string }) => error.field)).toContain(field);
    expect(await api.counts()).toEqual(before);
    return answer;
  }

  it('api - an IPv6 address as a domain is refused with 400, nothing stored', async () => {
    for (const url of ['http://[::1]', 'http://[2001:db8::1]/', 'https://[::1]']) {
      const answer = await refusedWithoutWrites(app('v6', { domains: [url] }), 'domains[0]');
      expect(answer.body.errors[0].message).toContain('IP address');
    }
  });

  it('api - a www counterpart longer than a DNS name may be is refused with 400', async () => {
    const label = 'a'.repeat(63);
    // 251 characters: a valid name itself, but www. makes it 255, longer than DNS allows (253).
    const hostname = `${label}.${label}.${label}.${'b'.repeat(53)}.test`;
    expect(hostname.length).toBeLessThanOrEqual(253);
    expect(`www.${hostname}`.length).toBeGreaterThan(253);
    for (const www of ['redirect-to-www', 'both']) {
      for (const scheme of ['http', 'https']) {
        const answer = await refusedWithoutWrites(
          app('longwww', { domains: [`${scheme}://${hostname}`], www }),
          'domains[0]',
        );
        expect(answer.body.errors[0].message).toContain('www.');
      }
    }
  });

  it('api - more http domains than the cap are refused with 400', async () => {
    const domains = Array.from({ length: 501 }, (_, index) => `http://d${index}.example.com`);
    const answer = await refusedWithoutWrites(app('many', { domains }), 'domains');
    expect(
      answer.body.errors.find((error: { field: string }) => error.field === 'domains').message,
    ).toContain('at most');
  });

  it('api - an unknown Content-Encoding is 415, a broken gzip body 400, never 500', async () => {
    const before = await api.counts();
    const unknown = await fetch(`${api.base}/v1/apps`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-encoding': 'br-nope',
      },
      body: JSON.stringify(app('enc', { domains: [] })),
    });
    expect(unknown.status).toBe(415);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');
    expect(((await unknown.json()) as { detail: string }).detail).toContain('br-nope');
    const broken = await fetch(`${api.base}/v1/apps`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      },
      body: 'not gzip at all',
    });
    expect(broken.status).toBe(400);
    const wrongType = await fetch(`${api.base}/v1/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=ebcdic' },
      body: '{}',
    });
    expect(wrongType.status).toBe(415);
    expect(await api.counts()).toEqual(before);
  });

  it('api - a NUL character in the URL or anywhere in a body is a 400, never a database error', async () => {
    const before = await api.counts();
    const inPath = await fetch(`${api.base}/v1/apps/%00?reveal=env`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(inPath.status).toBe(400);
    const inQuery = await fetch(`${api.base}/v1/certificates?name=a%00b`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(inQuery.status).toBe(400);
    const inBody = await api.call('POST', '/v1/apps', {
      body: {
        name: 'nul',
        image: 'gatehouse-test/busybox:1',
        port: 8080,
        domains: [],
        command: ['sh', 'a\u0000b'],
      },
    });
    expect(inBody.status).toBe(400);
    expect(inBody.body.errors).toEqual([
      { field: 'command[1]', message: 'must not contain a NUL character' },
    ]);
    expect(await api.counts()).toEqual(before);
  });

  it('api - container limits and network: defaults 512 MiB / 256 processes / shared, bounds refused with 400', async () => {
    const created = await api.call('POST', '/v1/apps', {
      body: app('limits', { domains: [] }),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ memoryMb: 512, pidsLimit: 256, network: 'shared' });
    const patched = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'limits' },
      body: { memoryMb: 64, pidsLimit: 32, network: 'isolated' },
    });
    expect(patched.body).toMatchObject({ memoryMb: 64, pidsLimit: 32, network: 'isolated', revision: 2 });
    const row = await api.db
      .selectFrom('apps')
      .selectAll()
      .where('name', '=', 'limits')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ memory_mb: 64, pids_limit: 32, network: 'isolated' });
    for (const [field, value] of [
      ['memoryMb', 8],
      ['memoryMb', 1.5],
      ['pidsLimit', 0],
      ['pidsLimit', 1_000_000],
      ['network', 'host'],
    ] as const) {
      await refusedWithoutWrites(app('badlimits', { domains: [], [field]: value }), field);
    }
  });
});
