import type { Server } from 'node:http';
import { request } from 'node:http';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttp01Responder } from '../src/challenges/http01-responder.ts';

/** GET with an explicit Host header (fetch does not let us set it). */
function get(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('http-01 responder', () => {
  let database: TestDatabase;
  let server: Server;
  let port: number;
  const token = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
  beforeAll(async () => {
    database = await createTestDatabase('http01');
    await database.db
      .insertInto('http01_tokens')
      .values([
        {
          token,
          key_authorization: `${token}.thumbprint`,
          hostname: 'app.test',
          expires_at: new Date(Date.now() + 60_000),
        },
        {
          token: 'expiredTokenexpiredTokenexpired',
          key_authorization: 'old',
          hostname: 'app.test',
          expires_at: new Date(Date.now() - 1_000),
        },
      ])
      .execute();
    server = await new Promise((resolve) => {
      const listening = createHttp01Responder(database.db).listen(0, '127.0.0.1', () => resolve(listening));
    });
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await database.drop();
  });

  it('http-01 - serves the key authorization from Postgres whatever the Host port', async () => {
    for (const host of ['app.test', 'app.test:5002', 'other.test:80']) {
      const response = await get(port, `/.well-known/acme-challenge/${token}`, host);
      expect(response).toEqual({ status: 200, body: `${token}.thumbprint` });
    }
  });

  it('http-01 - unknown, expired and malformed tokens are 404', async () => {
    expect(
      (await get(port, '/.well-known/acme-challenge/unknownTokenunknownTokenunk', 'app.test')).status,
    ).toBe(404);
    expect(
      (await get(port, '/.well-known/acme-challenge/expiredTokenexpiredTokenexpired', 'app.test')).status,
    ).toBe(404);
    expect((await get(port, "/.well-known/acme-challenge/x'%20or%201=1", 'app.test')).status).toBe(404);
    expect((await get(port, '/anything-else', 'app.test')).status).toBe(404);
  });
});
