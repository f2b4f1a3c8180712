import type { Db } from '@gatehouse/db';
import { traceRequests } from '@gatehouse/runtime';
import express, { type ErrorRequestHandler, type Express } from 'express';

/** RFC 8555 §8.3: the token is base64url, at least 128 bits of entropy (22+ characters). */
const tokenPattern = /^[A-Za-z0-9_-]{22,256}$/;

export interface Http01ResponderOptions {
  /** How long a found token is answered from memory (the CA asks up to 3 times, from several places). */
  cacheMs?: number;
  /** How long an unknown token is answered 404 from memory (scans for tokens must not each cost a query). */
  missCacheMs?: number;
  /** At most this many tokens remembered; the oldest go first. */
  cacheSize?: number;
  /** For tests: the clock the cache ages by. */
  now?: () => number;
}

interface CachedToken {
  /** The name the token was issued for; undefined for a remembered miss. */
  hostname: string | undefined;
  keyAuthorization: string;
  until: number;
}

/** `Host: App.Example.com.:5002` → `app.example.com`; `[::1]:80` → `::1`. */
export function hostOfHeader(header: string | undefined): string {
  const value = (header ?? '').trim().toLowerCase();
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(value);
  const host = bracketed ? bracketed[1]! : value.replace(/:\d+$/, '');
  return host.replace(/\.$/, '');
}

/**
 * Answers `GET /.well-known/acme-challenge/<token>` with its key authorization from Postgres, so any replica
 * can answer for an order another replica placed — only when the request's Host (its port ignored: Pebble
 * sends `name:5002`) is the name the token was issued for, as the CA asks it. Unknown, expired and
 * other-host tokens get 404. Look-ups are cached briefly (hits and misses, bounded), and a failure answers a
 * plain 503 that says nothing of the server's internals (no stack trace).
 */
export function createHttp01Responder(db: Db, options: Http01ResponderOptions = {}): Express {
  const cacheMs = options.cacheMs ?? 5_000;
  const missCacheMs = options.missCacheMs ?? 1_000;
  const cacheSize = options.cacheSize ?? 10_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, CachedToken>();

  function remember(token: string, entry: CachedToken): void {
    cache.delete(token);
    cache.set(token, entry);
    // Map keeps insertion order: the first key is the oldest.
    while (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
  }

  async function lookup(token: string): Promise<CachedToken> {
    const cached = cache.get(token);
    if (cached && cached.until > now()) return cached;
    const row = await db
      .selectFrom('http01_tokens')
      .select(['key_authorization', 'hostname', 'expires_at'])
      .where('token', '=', token)
      .where('expires_at', '>', new Date())
      .executeTakeFirst();
    const entry: CachedToken = row
      ? {
          hostname: row.hostname.toLowerCase(),
          keyAuthorization: row.key_authorization,
          until: Math.min(now() + cacheMs, row.expires_at.getTime()),
        }
      : { hostname: undefined, keyAuthorization: '', until: now() + missCacheMs };
    remember(token, entry);
    return entry;
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
    try {
      const found = await lookup(token);
      if (found.hostname === undefined || found.hostname !== hostOfHeader(request.headers.host)) {
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
