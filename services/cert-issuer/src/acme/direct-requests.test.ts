import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAcmeHttpClient } from '@gatehouse/acme-http';
import acme from 'acme-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createAcmeExchange } from './acme-exchange.ts';
import { lastProblem, runCapturingProblems } from './acme-problem.ts';
import { type DirectResponse, sendRequestsDirectly } from './direct-requests.ts';

interface Seen {
  method: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (request: Seen, response: ServerResponse) => void;

describe('acme-client requests without axios', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  /** A local server answering each request with the next handler; returns its base URL and what it saw. */
  async function serve(...handlers: Handler[]) {
    const seen: Seen[] = [];
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const entry = {
          method: request.method ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString(),
        };
        seen.push(entry);
        const handler = handlers[Math.min(seen.length - 1, handlers.length - 1)]!;
        handler(entry, response);
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  }

  /** A real acme-client Client whose requests go direct; its internal `http.request` is what acme-client calls. */
  function directClient(options: { maxRetryWaitMs?: number } = {}) {
    const accountKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    const client = new acme.Client({ directoryUrl: 'http://127.0.0.1:1/dir', accountKey });
    const exchange = createAcmeExchange(createAcmeHttpClient({ timeoutMs: 2_000 }));
    const direct = sendRequestsDirectly(client, exchange, {
      userAgent: 'node-acme-client/test',
      timeoutMs: 2_000,
      retryDelayMs: 50,
      ...options,
    });
    const http = (
      client as unknown as {
        http: { request: (url: string, method: string, opts?: object) => Promise<DirectResponse> };
      }
    ).http;
    return { direct, request: http.request.bind(http) };
  }

  const json =
    (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
    (_, response) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify(body));
    };

  it('acme direct - the acme-client of this version is recognised; headers and a JSON body go as axios sent them', async () => {
    const { base, seen } = await serve(
      json(201, { status: 'pending' }, { location: 'http://ca/order/1', 'replay-nonce': 'n1' }),
    );
    const { direct, request } = directClient();
    expect(direct).toBe(true);
    const response = await request(`${base}/new-order`, 'post', {
      data: { protected: 'p', payload: 'x', signature: 's' },
    });
    expect(response.status).toBe(201);
    expect(response.data).toEqual({ status: 'pending' });
    expect(response.headers.location).toBe('http://ca/order/1');
    expect(response.headers['replay-nonce']).toBe('n1');
    expect(seen[0]!.method).toBe('POST');
    expect(seen[0]!.headers['content-type']).toBe('application/jose+json');
    expect(seen[0]!.headers['user-agent']).toBe('node-acme-client/test');
    expect(JSON.parse(seen[0]!.body)).toEqual({ protected: 'p', payload: 'x', signature: 's' });
  });

  it('acme direct - a PEM answer stays text, a problem document is kept for classification and resolves', async () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const { base } = await serve(
      (_, response) => {
        response.writeHead(200, { 'content-type': 'application/pem-certificate-chain' });
        response.end(pem);
      },
      json(403, { type: 'urn:ietf:params:acme:error:unauthorized', detail: 'not yours' }),
    );
    const { request } = directClient();
    expect((await request(`${base}/cert/1`, 'post', { data: {} })).data).toBe(pem);
    const refused = await runCapturingProblems(async () => {
      const response = await request(`${base}/order/1`, 'post', { data: {} });
      return { status: response.status, problem: lastProblem() };
    });
    expect(refused.status).toBe(403);
    expect(refused.problem).toMatchObject({
      type: 'urn:ietf:params:acme:error:unauthorized',
      detail: 'not yours',
    });
  });

  it('acme direct - a 503 with a short Retry-After is retried once after it; a second 503 is handed back', async () => {
    const { base, seen } = await serve(
      json(503, { type: 'urn:ietf:params:acme:error:serverInternal' }, { 'retry-after': '1' }),
      json(503, { type: 'urn:ietf:params:acme:error:serverInternal' }, { 'retry-after': '1' }),
    );
    const { request } = directClient();
    const started = performance.now();
    const response = await request(`${base}/order/1`, 'post', { data: {} });
    expect(response.status).toBe(503);
    expect(seen).toHaveLength(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('acme direct - a 429 whose Retry-After is long is not slept through: it is handed back at once', async () => {
    const { base, seen } = await serve(
      json(
        429,
        { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many' },
        { 'retry-after': '3600' },
      ),
    );
    const { request } = directClient({ maxRetryWaitMs: 5_000 });
    const started = performance.now();
    const response = await request(`${base}/new-order`, 'post', { data: {} });
    expect(response.status).toBe(429);
    expect(seen).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('acme direct - a blip is retried once; a CA that stays unreachable rejects with the network code', async () => {
    const { base, seen } = await serve(
      (_, response) => response.socket?.destroy(),
      json(200, { status: 'valid' }),
    );
    const { request } = directClient();
    expect((await request(`${base}/order/1`, 'post', { data: {} })).data).toEqual({ status: 'valid' });
    expect(seen).toHaveLength(2);

    const failure = await request('http://127.0.0.1:1/order/1', 'post', { data: {} }).catch(
      (error: unknown) => error,
    );
    expect((failure as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it('acme direct - an object without acme-client internals is left alone', () => {
    const exchange = createAcmeExchange(createAcmeHttpClient());
    expect(sendRequestsDirectly({}, exchange, { userAgent: 'x', timeoutMs: 1_000 })).toBe(false);
    expect(sendRequestsDirectly({ http: {} }, exchange, { userAgent: 'x', timeoutMs: 1_000 })).toBe(false);
  });
});
