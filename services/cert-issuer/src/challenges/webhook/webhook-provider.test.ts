import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookProvider } from './webhook-provider.ts';

describe('webhook provider', () => {
  let server: Server;
  let url: string;
  const calls: Array<{ path: string; auth: string | undefined; body: unknown }> = [];
  let answer = { status: 200, body: '' };
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      calls.push({
        path: req.url!,
        auth: req.headers.authorization,
        body: JSON.parse(Buffer.concat(chunks).toString()),
      });
      res.writeHead(answer.status);
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dns`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('webhook - present and cleanup POST lego httpreq bodies (fqdn with its dot) with the bearer token', async () => {
    const hook = createWebhookProvider({ url: `${url}/`, token: 'secret-token' });
    await hook.present('_acme-challenge.a.example.com', 'abc');
    await hook.cleanup('_acme-challenge.a.example.com', 'abc');
    expect(calls.slice(-2)).toEqual([
      {
        path: '/dns/present',
        auth: 'Bearer secret-token',
        body: { fqdn: '_acme-challenge.a.example.com.', value: 'abc' },
      },
      {
        path: '/dns/cleanup',
        auth: 'Bearer secret-token',
        body: { fqdn: '_acme-challenge.a.example.com.', value: 'abc' },
      },
    ]);
    await createWebhookProvider({ url }).present('_acme-challenge.b.example.com', 'x');
    expect(calls.at(-1)?.auth).toBeUndefined();
  });

  it('webhook - 401/403 are auth errors, other 4xx refused with the handler’s words, 5xx and no answer retryable', async () => {
    const hook = createWebhookProvider({ url, token: 'secret-token', timeoutMs: 2_000 });
    answer = { status: 403, body: 'bad token' };
    await expect(hook.present('_acme-challenge.a.example.com', 'v')).rejects.toMatchObject({ code: 'auth' });
    answer = { status: 422, body: 'zone example.com is not managed here' };
    await expect(hook.present('_acme-challenge.a.example.com', 'v')).rejects.toMatchObject({
      code: 'refused',
      message: expect.stringContaining('zone example.com is not managed here'),
    });
    answer = { status: 503, body: '' };
    await expect(hook.present('_acme-challenge.a.example.com', 'v')).rejects.toMatchObject({
      code: 'server',
      retryable: true,
    });
    answer = { status: 200, body: '' };
    const unreachable = createWebhookProvider({ url: `http://127.0.0.1:${await freePort()}/dns` });
    await expect(unreachable.present('_acme-challenge.a.example.com', 'v')).rejects.toMatchObject({
      code: 'server',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });
});
