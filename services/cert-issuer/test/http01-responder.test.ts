import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { request } from 'node:http';
import { createDb } from '@gatehouse/db';
import { createTestDatabase, freePort, type TestDatabase } from '@gatehouse/testing';
import { register } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttp01Probes } from '../src/challenges/http01-probe.ts';
import { createHttp01Responder, type Http01ResponderOptions } from '../src/challenges/http01-responder.ts';
import { createHttp01Solver } from '../src/challenges/http01-solver.ts';
import { createHttp01TokenCache } from '../src/challenges/http01-token-cache.ts';

/** GET with an explicit Host header (fetch does not let us set it). */
function get(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return send(port, path, host).then(({ status, body }) => ({ status, body }));
}

/** A request with an explicit Host header and method, with the answer's headers. */
function send(
  port: number,
  path: string,
  host: string,
  method = 'GET',
): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body, headers: response.headers }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** A responder on a free local port; `close` stops it. */
async function serve(
  db: Parameters<typeof createHttp01Responder>[0],
  options?: Http01ResponderOptions,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = await new Promise((resolve) => {
    const listening = createHttp01Responder(db, options).listen(0, '127.0.0.1', () => resolve(listening));
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A database that is down: every query fails, so a responder using it answers 503 unless it needs no query. */
async function downDatabase() {
  return createDb({ connectionString: `postgres://x:y@127.0.0.1:${await freePort()}/none` });
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

  it('http-01 - a token this process presented is answered from memory until its cleanup; other replicas read Postgres', async () => {
    const down = await downDatabase();
    const tokens = createHttp01TokenCache();
    const solver = createHttp01Solver(database.db, { tokens });
    // This replica's responder shares the solver's cache; its database is down, so any query would be a 503.
    const here = await serve(down, { tokens });
    const elsewhere = await serve(database.db);
    const presented = randomBytes(32).toString('base64url');
    const path = `/.well-known/acme-challenge/${presented}`;
    try {
      await solver.present('Presented.test', presented, `${presented}.thumb`);
      expect(await get(here.port, path, 'presented.test')).toEqual({
        status: 200,
        body: `${presented}.thumb`,
      });
      expect(await get(here.port, path, 'other.test')).toEqual({ status: 404, body: 'not found' });
      expect(await get(elsewhere.port, path, 'presented.test')).toEqual({
        status: 200,
        body: `${presented}.thumb`,
      });

      await solver.cleanup('Presented.test', presented, `${presented}.thumb`);
      // Forgotten here: the next request asks the (down) database.
      expect(await get(here.port, path, 'presented.test')).toEqual({
        status: 503,
        body: 'temporarily unavailable',
      });
      // The row's delete is queued with others (http01-solver.test.ts); stop sends it.
      await solver.flush();
      const row = await database.db
        .selectFrom('http01_tokens')
        .select('token')
        .where('token', '=', presented)
        .executeTakeFirst();
      expect(row).toBeUndefined();
    } finally {
      await here.close();
      await elsewhere.close();
      await down.destroy();
    }
  });

  it('http-01 - preflight probes are answered from their tag alone; forged, unsigned and other-host ones are 404', async () => {
    const down = await downDatabase();
    const key = randomBytes(32);
    const probes = createHttp01Probes(key);
    // The database is up for the 404s (a token that is no probe is looked up like any other).
    const responder = await serve(database.db, { probes: createHttp01Probes(Buffer.from(key)) });
    const offline = await serve(down, { probes: createHttp01Probes(Buffer.from(key)) });
    const at = (token: string) => `/.well-known/acme-challenge/${token}`;
    try {
      const probe = probes.mint('probe.test');
      expect(await get(responder.port, at(probe.token), 'probe.test:5002')).toEqual({
        status: 200,
        body: probe.expectedBody,
      });
      // No query: answered with the database down too.
      expect(await get(offline.port, at(probe.token), 'probe.test')).toEqual({
        status: 200,
        body: probe.expectedBody,
      });

      const forged = createHttp01Probes(randomBytes(32)).mint('probe.test').token;
      const unsigned = randomBytes(48).toString('base64url');
      const tampered = `${probe.token.slice(0, 20)}${probe.token[20] === 'x' ? 'y' : 'x'}${probe.token.slice(21)}`;
      for (const token of [forged, unsigned, tampered]) {
        expect(await get(responder.port, at(token), 'probe.test'), token).toEqual({
          status: 404,
          body: 'not found',
        });
      }
      expect(await get(responder.port, at(probe.token), 'other.test')).toEqual({
        status: 404,
        body: 'not found',
      });
      // A responder without the probe key does not answer probes.
      expect((await get(port, at(probe.token), 'probe.test')).status).toBe(404);
    } finally {
      await responder.close();
      await offline.close();
      await down.destroy();
    }
  });

  it('http-01 - answers as express did: plain text with a length, HEAD without a body, query and trailing slash ignored', async () => {
    const path = `/.well-known/acme-challenge/${token}`;
    const answer = await send(port, path, 'app.test');
    expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(answer.headers['content-length']).toBe(String(`${token}.thumbprint`.length));
    expect(answer.headers['x-powered-by']).toBeUndefined();
    expect(answer.headers.etag).toBeUndefined();
    const head = await send(port, path, 'app.test', 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(head.headers['content-length']).toBe(answer.headers['content-length']);
    for (const variant of [`${path}?x=1`, `${path}/`, `/.WELL-KNOWN/acme-challenge/${token}`]) {
      expect(await get(port, variant, 'app.test'), variant).toEqual({
        status: 200,
        body: `${token}.thumbprint`,
      });
    }
    for (const [method, other] of [
      ['POST', path],
      ['GET', `${path}/extra`],
      ['GET', '/.well-known/acme-challenge/'],
    ] as const) {
      expect(await send(port, other, 'app.test', method), `${method} ${other}`).toMatchObject({
        status: 404,
        body: 'not found',
      });
    }
  });

  it('http-01 - every request is measured under its route template, never its raw path', async () => {
    await get(port, `/.well-known/acme-challenge/${token}`, 'app.test');
    await get(port, '/nothing-here', 'app.test');
    const metric = await register.getSingleMetric('gatehouse_http_request_duration_seconds')?.get();
    const counts = (metric?.values ?? []).filter((value) =>
      (value as { metricName?: string }).metricName?.endsWith('_count'),
    );
    const routes = new Set(counts.map((value) => String(value.labels.route)));
    expect(routes).toContain('/.well-known/acme-challenge/:token');
    expect(routes).toContain('unmatched');
    expect([...routes].some((route) => route.includes(token))).toBe(false);
    expect(
      counts.find(
        (value) =>
          value.labels.route === '/.well-known/acme-challenge/:token' && value.labels.status === '200',
      )?.value,
    ).toBeGreaterThan(0);
  });
});
