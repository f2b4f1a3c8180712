import type { Server } from 'node:http';
import { request } from 'node:http';
import { createDb } from '@gatehouse/db';
import { createTestDatabase, freePort, type TestDatabase } from '@gatehouse/testing';
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
    for (const host of ['app.test', 'app.test:5002', 'APP.test.:80']) {
      const response = await get(port, `/.well-known/acme-challenge/${token}`, host);
      expect(response).toEqual({ status: 200, body: `${token}.thumbprint` });
    }
  });

  it('http-01 - a token asked for under another Host is 404 (it answers only for the name it was issued for)', async () => {
    for (const host of ['other.test', 'other.test:5002', 'evil.app.test', '127.0.0.1', '']) {
      const response = await get(port, `/.well-known/acme-challenge/${token}`, host);
      expect(response, host).toEqual({ status: 404, body: 'not found' });
    }
  });

  it('http-01 - look-ups are cached: a token answers from memory for a while after its row is gone', async () => {
    const cachedToken = 'CachedTokenCachedTokenCachedToken';
    await database.db
      .insertInto('http01_tokens')
      .values({
        token: cachedToken,
        key_authorization: `${cachedToken}.thumb`,
        hostname: 'cached.test',
        expires_at: new Date(Date.now() + 60_000),
      })
      .execute();
    let clock = 1_000_000;
    const cachingServer: Server = await new Promise((resolve) => {
      const listening = createHttp01Responder(database.db, { cacheMs: 10_000, now: () => clock }).listen(
        0,
        '127.0.0.1',
        () => resolve(listening),
      );
    });
    const cachingPort = (cachingServer.address() as { port: number }).port;
    try {
      const path = `/.well-known/acme-challenge/${cachedToken}`;
      expect((await get(cachingPort, path, 'cached.test')).status).toBe(200);
      await database.db.deleteFrom('http01_tokens').where('token', '=', cachedToken).execute();
      expect(await get(cachingPort, path, 'cached.test')).toEqual({
        status: 200,
        body: `${cachedToken}.thumb`,
      });
      clock += 10_001;
      expect((await get(cachingPort, path, 'cached.test')).status).toBe(404);
    } finally {
      await new Promise<void>((resolve) => cachingServer.close(() => resolve()));
    }
  });

  it('http-01 - a database failure is a plain 503, never a stack trace', async () => {
    // Nothing listens there: every query fails.
    const broken = createDb({ connectionString: `postgres://x:y@127.0.0.1:${await freePort()}/none` });
    const brokenServer: Server = await new Promise((resolve) => {
      const listening = createHttp01Responder(broken).listen(0, '127.0.0.1', () => resolve(listening));
    });
    const brokenPort = (brokenServer.address() as { port: number }).port;
    try {
      const response = await get(brokenPort, `/.well-known/acme-challenge/${token}`, 'app.test');
      expect(response).toEqual({ status: 503, body: 'temporarily unavailable' });
      const malformed = await get(brokenPort, '/.well-known/acme-challenge/%E0%A4%A', 'app.test');
      expect(malformed.status).toBeLessThan(500);
      expect(malformed.body).not.toMatch(/at |Error/);
    } finally {
      await new Promise<void>((resolve) => brokenServer.close(() => resolve()));
      await broken.destroy();
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
