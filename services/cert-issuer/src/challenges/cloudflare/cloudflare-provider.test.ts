import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DnsProviderError } from '../dns-provider-error.ts';
import { createCloudflareProvider } from './cloudflare-provider.ts';

// No network here, so this local server stands in for api.cloudflare.com. It follows the documented API v4
// shapes: the `{success, errors: [{code, message}], messages, result}` envelope, Bearer token auth,
// GET /zones?name=, GET/POST /zones/{id}/dns_records, DELETE /zones/{id}/dns_records/{id},
// GET /user/tokens/verify, error 81058 for an identical record and 9109/10000 for bad tokens.
const TOKEN = `cf-${randomBytes(16).toString('hex')}`;
const ZONE_ID = randomBytes(16).toString('hex');

interface FakeRecord {
  id: string;
  type: string;
  name: string;
  content: string;
  ttl: number;
}

describe('cloudflare provider', () => {
  let server: Server;
  let baseUrl: string;
  let records: FakeRecord[];
  let requests: Array<{ method: string; url: string; body: unknown }>;
  let failNext: number | undefined;

  function send(
    res: ServerResponse,
    status: number,
    result: unknown,
    errors: Array<{ code: number; message: string }> = [],
  ) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ success: errors.length === 0 && status < 400, errors, messages: [], result }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    const url = new URL(req.url!, 'http://x');
    requests.push({ method: req.method!, url: `${url.pathname}${url.search}`, body });
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return send(res, 403, null, [{ code: 9109, message: 'Invalid access token' }]);
    if (failNext) {
      const status = failNext;
      failNext = undefined;
      return send(
        res,
        status,
        null,
        [{ code: 1105, message: 'Internal error' }].slice(0, status === 500 ? 1 : 0),
      );
    }
    const path = url.pathname.replace(/^\/client\/v4/, '');
    if (req.method === 'GET' && path === '/user/tokens/verify')
      return send(res, 200, { id: 'tok', status: 'active' });
    if (req.method === 'GET' && path === '/zones') {
      const name = url.searchParams.get('name');
      return send(res, 200, name === 'example.com' ? [{ id: ZONE_ID, name: 'example.com' }] : []);
    }
    const recordsPath = `/zones/${ZONE_ID}/dns_records`;
    if (path === recordsPath && req.method === 'GET') {
      const type = url.searchParams.get('type');
      const name = url.searchParams.get('name');
      return send(
        res,
        200,
        records.filter((record) => record.type === type && record.name === name),
      );
    }
    if (path === recordsPath && req.method === 'POST') {
      const { type, name, content, ttl } = body as FakeRecord;
      if (
        records.some((record) => record.type === type && record.name === name && record.content === content)
      )
        return send(res, 400, null, [{ code: 81058, message: 'An identical record already exists.' }]);
      const record = { id: randomBytes(16).toString('hex'), type, name, content, ttl };
      records.push(record);
      return send(res, 200, record);
    }
    if (path.startsWith(`${recordsPath}/`) && req.method === 'DELETE') {
      const id = path.slice(recordsPath.length + 1);
      const before = records.length;
      records = records.filter((record) => record.id !== id);
      return before === records.length
        ? send(res, 404, null, [{ code: 81044, message: 'Record does not exist.' }])
        : send(res, 200, { id });
    }
    return send(res, 404, null, [{ code: 7003, message: 'No route for that URI' }]);
  }

  beforeAll(async () => {
    server = createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    records = [];
    requests = [];
    failNext = undefined;
  });

  const provider = (overrides: Partial<Parameters<typeof createCloudflareProvider>[0]> = {}) =>
    createCloudflareProvider({ apiToken: TOKEN, zone: 'example.com', baseUrl, ...overrides });

  it('cloudflare - present creates the TXT with the documented body; cleanup deletes exactly that value', async () => {
    const cf = provider();
    await cf.present('_acme-challenge.a.example.com', 'value-one');
    await cf.present('_acme-challenge.a.example.com', 'value-two');
    expect(requests.find((request) => request.method === 'POST')?.body).toEqual({
      type: 'TXT',
      name: '_acme-challenge.a.example.com',
      content: '"value-one"',
      ttl: 120,
    });
    expect(requests.filter((request) => request.url.startsWith('/client/v4/zones?name='))).toHaveLength(1); // zone id cached
    await cf.cleanup('_acme-challenge.a.example.com', 'value-one');
    expect(records.map((record) => record.content)).toEqual(['"value-two"']);
  });

  it('cloudflare - presenting twice and cleaning up a value already gone both succeed', async () => {
    const cf = provider();
    await cf.present('_acme-challenge.b.example.com', 'v');
    await cf.present('_acme-challenge.b.example.com', 'v');
    expect(records).toHaveLength(1);
    await cf.cleanup('_acme-challenge.b.example.com', 'v');
    await cf.cleanup('_acme-challenge.b.example.com', 'v');
    expect(records).toEqual([]);
  });

  it('cloudflare - a bad token is an auth error that says what to fix and never contains the token', async () => {
    const cf = createCloudflareProvider({ apiToken: `${TOKEN}-wrong`, zone: 'example.com', baseUrl });
    const error = await cf.verify!('_acme-challenge.example.com').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DnsProviderError);
    expect((error as DnsProviderError).code).toBe('auth');
    expect((error as DnsProviderError).message).toMatch(
      /rejected the API token for zone example\.com \(9109 Invalid access token\).*Zone\.DNS edit/,
    );
    expect((error as DnsProviderError).message).not.toContain(TOKEN);
    await expect(provider().verify!('_acme-challenge.example.com')).resolves.toBeUndefined();
  });

  it('cloudflare - a zone the token cannot see is refused; a configured zoneId skips the lookup', async () => {
    const hidden = createCloudflareProvider({ apiToken: TOKEN, zone: 'other.org', baseUrl });
    await expect(hidden.present('_acme-challenge.other.org', 'v')).rejects.toMatchObject({
      code: 'refused',
      message: expect.stringContaining('cannot see zone other.org'),
    });
    requests = [];
    await provider({ zoneId: ZONE_ID }).present('_acme-challenge.c.example.com', 'v');
    expect(requests.map((request) => request.method)).toEqual(['POST']);
  });

  it('cloudflare - a server error and a rate limit are retryable server errors', async () => {
    const cf = provider({ zoneId: ZONE_ID });
    failNext = 500;
    await expect(cf.present('_acme-challenge.d.example.com', 'v')).rejects.toMatchObject({
      code: 'server',
      retryable: true,
    });
    failNext = 429;
    await expect(cf.present('_acme-challenge.d.example.com', 'v')).rejects.toMatchObject({
      code: 'server',
      message: expect.stringContaining('rate-limited'),
    });
  });
});
