import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAcmeHttpClient } from './acme-http-client.ts';

describe('acme http client', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('acme http - a server that trickles its answer a byte at a time is cut off at the bound', async () => {
    const base = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      // Never idle for long, never done: a socket idle timeout would wait forever.
      const drip = setInterval(() => response.write(' '), 50);
      response.on('close', () => clearInterval(drip));
    });
    const client = createAcmeHttpClient({ timeoutMs: 400 });
    const started = performance.now();
    const failure = await client
      .request(`${base}/acme/order`, { method: 'POST', body: '{}' })
      .catch((e) => e);
    expect(failure).toMatchObject({ code: 'ETIMEDOUT' });
    expect((failure as Error).message).toContain('within 400 ms');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('acme http - a second request on a kept-alive connection that is never answered is cut off at the bound', async () => {
    let requests = 0;
    const base = await serve((request, response) => {
      requests += 1;
      request.resume();
      if (requests === 1) response.end('{}');
      // Later requests: accepted, never answered.
    });
    const client = createAcmeHttpClient({ timeoutMs: 400 });
    expect((await client.request(`${base}/first`, { method: 'POST', body: '{}' })).status).toBe(200);
    const started = performance.now();
    const failure = await client.request(`${base}/second`, { method: 'POST', body: '{}' }).catch((e) => e);
    expect(failure).toMatchObject({ code: 'ETIMEDOUT' });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('acme http - an answer that takes longer than the socket would idle but arrives within the bound is read', async () => {
    const base = await serve((request, response) => {
      request.resume();
      setTimeout(() => response.end('{"status":"valid"}'), 300);
    });
    const client = createAcmeHttpClient({ timeoutMs: 2_000 });
    const answer = await client.request(`${base}/order`, { method: 'POST', body: '{}' });
    expect(answer).toMatchObject({ status: 200, body: '{"status":"valid"}' });
  });
});
