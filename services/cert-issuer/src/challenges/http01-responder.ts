import type { Db } from '@gatehouse/db';
import { traceRequests } from '@gatehouse/runtime';
import express, { type ErrorRequestHandler, type Express } from 'express';
import type { Http01Probes } from './http01-probe.ts';
import {
  createHttp01TokenCache,
  type Http01TokenCache,
  type Http01TokenEntry,
} from './http01-token-cache.ts';

/** RFC 8555 §8.3: the token is base64url, at least 128 bits of entropy (22+ characters). */
const tokenPattern = /^[A-Za-z0-9_-]{22,256}$/;

export interface Http01ResponderOptions {
  /** How long a found token is answered from memory (the CA asks up to 3 times, from several places). */
  cacheMs?: number;
  /** How long an unknown token is answered 404 from memory (scans for tokens must not each cost a query). */
  missCacheMs?: number;
  /**
   * The tokens answered without Postgres: shared with this process's HTTP-01 solver, which puts in each token
   * it presents, so the CA's request to the replica that placed the order costs no query. Default: a cache of
   * the responder's own (10,000 tokens on the `now` clock).
   */
  tokens?: Http01TokenCache;
  /** Answers the preflight's self-verifying probes (`createHttp01Probes`); without it a probe is a 404. */
  probes?: Http01Probes;
  /** For tests: the clock of the default token cache. */
  now?: () => number;
}

/** `Host: App.Example.com.:5002` → `app.example.com`; `[::1]:80` → `::1`. */
export function hostOfHeader(header: string | undefined): string {
  const value = (header ?? '').trim().toLowerCase();
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(value);
  const host = bracketed ? bracketed[1]! : value.replace(/:\d+$/, '');
  return host.replace(/\.$/, '');
}

/**
 * Answers `GET /.well-known/acme-challenge/<token>` with its key authorization, so any replica can answer for an
 * order another replica placed — only when the request's Host (its port ignored: Pebble sends `name:5002`) is
 * the name the token was issued for, as the CA asks it. A token is found in memory first (presented by this
 * process, or looked up lately), then in Postgres; a preflight probe is answered from its own tag, without
 * either. Unknown, expired and other-host tokens get 404. Look-ups are cached briefly (hits and misses,
 * bounded), and a failure answers a plain 503 that says nothing of the server's internals (no stack trace).
 */
export function createHttp01Responder(db: Db, options: Http01ResponderOptions = {}): Express {
  const cacheMs = options.cacheMs ?? 5_000;
  const missCacheMs = options.missCacheMs ?? 1_000;
  const tokens = options.tokens ?? createHttp01TokenCache({ now: options.now });

  async function lookup(token: string): Promise<Http01TokenEntry> {
    const cached = tokens.find(token);
    if (cached) return cached;
    const row = await db
      .selectFrom('http01_tokens')
      .select(['key_authorization', 'hostname', 'expires_at'])
      .where('token', '=', token)
      .where('expires_at', '>', new Date())
      .executeTakeFirst();
    if (!row) {
      const miss = { hostname: undefined, keyAuthorization: '' };
      tokens.remember(token, miss, missCacheMs);
      return miss;
    }
    const found = { hostname: row.hostname.toLowerCase(), keyAuthorization: row.key_authorization };
    tokens.remember(token, found, Math.min(cacheMs, row.expires_at.getTime() - Date.now()));
    return found;
  }

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(traceRequests());
  app.get('/.well-known/acme-challenge/:token', async (request, response, next) => {
    const token = request.params.token;
    if (!tokenPattern.test(token)) {
      response.status(404).type('text/plain').send('not found');
      return;
    }
    const host = hostOfHeader(request.headers.host);
    const probeAnswer = options.probes?.answer(token, host);
    if (probeAnswer !== undefined) {
      response.status(200).type('text/plain').send(probeAnswer);
      return;
    }
    try {
      const found = await lookup(token);
      if (found.hostname === undefined || found.hostname !== host) {
        response.status(404).type('text/plain').send('not found');
        return;
      }
      response.status(200).type('text/plain').send(found.keyAuthorization);
    } catch (error) {
      next(error);
    }
  });
  app.use((_request, response) => {
    response.status(404).type('text/plain').send('not found');
  });
  // Express's default handler prints the stack trace outside production; this one never does.
  const onError: ErrorRequestHandler = (error, _request, response, _next) => {
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      response.status(status).type('text/plain').send('bad request');
      return;
    }
    response.status(503).type('text/plain').send('temporarily unavailable');
  };
  app.use(onError);
  return app;
}
