import { Resolver } from 'node:dns/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { outboundAllowlist } from '@gatehouse/config';
import { freePort } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolveHost } from './guarded-post.ts';
import { createWebhookProvider } from './webhook-provider.ts';

/** The testbed's challtestsrv answers every name with 127.0.0.1 (TESTBED.md): a public-looking name that lands on loopback. */
const challtestsrvDns = process.env.CHALLTESTSRV_DNS ?? '127.0.0.1:8053';
const viaChalltestsrv: ResolveHost = async (hostname) => {
  const resolver = new Resolver({ timeout: 2_000, tries: 1 });
  resolver.setServers([challtestsrvDns]);
  return (await resolver.resolve4(hostname)).map((address) => ({ address, family: 4 }));
};

describe('webhook provider', () => {
  let server: Server;
  let port: number;
  let url: string;
  const calls: Array<{ path: string; auth: string | undefined; body: unknown }> = [];
  let answer: { status: number; body: string; headers?: Record<string, string> } = { status: 200, body: '' };
  /** The test server is on loopback: only the operator's allowlist lets the provider reach it. */
  const allow = outboundAllowlist.parse('127.0.0.1');
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      calls.push({
        path: req.url!,
        auth: req.headers.authorization,
        body: JSON.parse(Buffer.concat(chunks).toString()),
      });
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}/dns`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('webhook - present and cleanup POST lego httpreq bodies (fqdn with its dot) with the bearer token', async () => {
    const hook = createWebhookProvider({ url: `${url}/`, token: 'secret-token', allow });
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
    await createWebhookProvider({ url, allow }).present('_acme-challenge.b.example.com', 'x');
    expect(calls.at(-1)?.auth).toBeUndefined();
  });

  it('webhook - 401/403 are auth errors, other 4xx refused without the handler’s body, 5xx and no answer retryable', async () => {
    const hook = createWebhookProvider({ url, token: 'secret-token', timeoutMs: 2_000, allow });
    answer = { status: 403, body: 'bad token' };
    await expect(hook.present('_acme-challenge.a.example.com', 'v')).rejects.toMatchObject({ code: 'auth' });
    answer = { status: 422, body: 'internal detail: db password is hunter2' };
    const refused = (await hook
      .present('_acme-challenge.a.example.com', 'v')
      .catch((e: Error) => e)) as Error;
    expect(refused).toMatchObject({ code: 'refused', message: expect.stringContaining('(422)') });
    expect(refused.message).not.toContain('hunter2');
    answer = { status: 503, body: 'upstream 10.0.0.7 down' };
    const failed = (await hook.present('_acme-challenge.a.example.com', 'v').catch((e: Error) => e)) as Error;
    expect(failed).toMatchObject({ code: 'server', retryable: true });
    expect(failed.message).not.toContain('10.0.0.7');
    answer = { status: 200, body: '' };
    const unreachable = createWebhookProvider({ url: `http://127.0.0.1:${await freePort()}/dns`, allow });
    await expect(unreachable.present('_acme-challenge.a.example.com', 'v')).rejects.toMatchObject({
      code: 'server',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('webhook - loopback, private, link-local, metadata and compose service targets are refused before any request without the allowlist', async () => {
    const before = calls.length;
    const targets = [
      url,
      `http://[::1]:${port}/dns`,
      `http://[::ffff:127.0.0.1]:${port}/dns`,
      'http://169.254.169.254/latest/meta-data',
      'http://10.0.0.1/dns',
      'http://192.168.1.1/dns',
      'http://postgres:5432/dns',
      'http://nats:8222/dns',
      'http://localhost:8080/v1',
      'http://0.0.0.0:8080/dns',
    ];
    for (const target of targets) {
      const error = (await createWebhookProvider({ url: target })
        .present('_acme-challenge.a.example.com', 'v')
        .catch((e: Error) => e)) as Error;
      expect(error, target).toMatchObject({
        code: 'refused',
        message: expect.stringContaining('DNS_WEBHOOK_ALLOW'),
      });
    }
    expect(calls.length).toBe(before);
  });

  it('webhook - a public-looking name that resolves to loopback is refused at connect time; the allowlist admits it', async () => {
    const before = calls.length;
    const named = `http://hooks.example.test:${port}/dns`;
    const error = (await createWebhookProvider({ url: named, resolve: viaChalltestsrv })
      .present('_acme-challenge.a.example.com', 'v')
      .catch((e: Error) => e)) as Error;
    expect(error).toMatchObject({
      code: 'refused',
      message: expect.stringContaining('hooks.example.test resolves to 127.0.0.1, a loopback address'),
    });
    expect(calls.length).toBe(before);
    await createWebhookProvider({ url: named, resolve: viaChalltestsrv, allow }).present(
      '_acme-challenge.a.example.com',
      'v',
    );
    expect(calls.at(-1)?.path).toBe('/dns/present');
  });

  it('webhook - credentials in the URL, query and fragment tricks are refused; a redirect is not followed', async () => {
    const before = calls.length;
    for (const target of [
      `http://user:pass@127.0.0.1:${port}/dns`,
      `http://127.0.0.1:${port}/admin?x=`,
      `http://127.0.0.1:${port}/admin#`,
      `http://127.0.0.1:${port}/admin#/dns`,
    ]) {
      await expect(
        createWebhookProvider({ url: target, allow }).present('_acme-challenge.a.example.com', 'v'),
        target,
      ).rejects.toMatchObject({ code: 'refused' });
    }
    expect(calls.length).toBe(before);
    answer = { status: 307, body: '', headers: { location: `http://127.0.0.1:${port}/elsewhere` } };
    await expect(
      createWebhookProvider({ url, allow }).present('_acme-challenge.a.example.com', 'v'),
    ).rejects.toMatchObject({ code: 'refused', message: expect.stringContaining('redirect (307)') });
    answer = { status: 200, body: '' };
    expect(calls.map((call) => call.path).slice(before)).toEqual(['/dns/present']);
  });
});
