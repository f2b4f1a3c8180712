import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { createDb, type Db } from '@gatehouse/db';
import { createSecretBox } from '@gatehouse/pki';
import { createLogger } from '@gatehouse/telemetry';
import { createTestDatabase, freePort, type TestDatabase } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../src/http/app.ts';

describe('api http', () => {
  const token = 'a'.repeat(40);
  let server: Server;
  let base: string;
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('api_http');
    const app = createApiApp({
      token,
      logger: createLogger({ service: 'api-test', level: 'silent' }),
      db: database.db,
      box: createSecretBox(randomBytes(32)),
    });
    server = await new Promise((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await database.drop();
  });

  it('api - /v1 without a token is 401 problem+json with a hint', async () => {
    const response = await fetch(`${base}/v1/apps`);
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.headers.get('www-authenticate')).toContain('Bearer');
    expect(await response.json()).toMatchObject({
      status: 401,
      detail: expect.stringContaining('Authorization: Bearer'),
    });
  });

  it('api - a wrong token is refused, the right one passes', async () => {
    const wrong = await fetch(`${base}/v1/apps`, { headers: { authorization: `Bearer ${'b'.repeat(40)}` } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ detail: 'the bearer token is not valid' });
    const right = await fetch(`${base}/v1/nothing-here`, { headers: { authorization: `Bearer ${token}` } });
    expect(right.status).toBe(404);
    expect(await right.json()).toMatchObject({ status: 404, title: 'Not Found' });
  });

  it('api - a malformed JSON body is a 400 problem, not a stack trace', async () => {
    const response = await fetch(`${base}/v1/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"name": ',
    });
    expect(response.status).toBe(400);
    const body = await response.text();
    expect(JSON.parse(body)).toMatchObject({ status: 400, detail: 'the request body is not valid JSON' });
    expect(body).not.toContain('at ');
  });
});

describe('api http without its database', () => {
  const token = 'b'.repeat(40);
  const shop = { name: 'shop', image: 'nginx', port: 80, domains: ['https://shop.test'] };

  /** POSTs an app to an api on `db` and returns the response; the server and the pool are closed after. */
  async function postWith(db: Db): Promise<Response> {
    const app = createApiApp({
      token,
      logger: createLogger({ service: 'api-test', level: 'silent' }),
      db,
      box: createSecretBox(randomBytes(32)),
    });
    const server: Server = await new Promise((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    try {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const response = await fetch(`http://127.0.0.1:${port}/v1/apps`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(shop),
      });
      await response.clone().arrayBuffer();
      return response;
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.destroy();
    }
  }

  async function expectRetryableProblem(response: Response): Promise<void> {
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.headers.get('retry-after')).toBe('5');
    expect(((await response.json()) as { detail: string }).detail).toMatch(/nothing was changed; retry/);
  }

  it('api - Postgres unreachable: a write is a 503 problem with Retry-After, not a 500', async () => {
    // A port nothing listens on: every connection attempt is refused.
    const db = createDb({ connectionString: `postgres://nobody@127.0.0.1:${await freePort()}/none` });
    await expectRetryableProblem(await postWith(db));
  });

  it('api - a Postgres that accepts connections but never answers: a 503 after the connect timeout, not after the queue wait', async () => {
    // Accepts TCP and says nothing, like a hung server or a black-holed route.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address() as AddressInfo;
    try {
      // The queue bound is far beyond the test's timeout: only the connect timeout can produce the answer.
      const db = createDb({
        connectionString: `postgres://nobody@127.0.0.1:${address.port}/none`,
        connectTimeoutMillis: 500,
        acquireTimeoutMillis: 600_000,
      });
      await expectRetryableProblem(await postWith(db));
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  }, 15_000);
});
