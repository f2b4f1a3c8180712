import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Db } from '@gatehouse/db';
import { traceHttpRequest } from '@gatehouse/runtime';
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
 * Returns the server, not yet listening.
 */
export function createHttp01Responder(db: Db, options: Http01ResponderOptions = {}): Server {
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

  /** Answers one request; never rejects (a failure is a plain 503). */
  async function answer(
    request: IncomingMessage,
    response: ServerResponse,
    encodedToken: string,
  ): Promise<void> {
    let token: string;
    try {
      token = decodeURIComponent(encodedToken);
    } catch {
      reply(response, 400, 'bad request'); // A malformed %-escape, as express answered it.
      return;
    }
    if (!tokenPattern.test(token)) {
      reply(response, 404, 'not found');
      return;
    }
    const host = hostOfHeader(request.headers.host);
    const probeAnswer = options.probes?.answer(token, host);
    if (probeAnswer !== undefined) {
      reply(response, 200, probeAnswer);
      return;
    }
    try {
      const found = await lookup(token);
      if (found.hostname === undefined || found.hostname !== host) {
        reply(response, 404, 'not found');
        return;
      }
      reply(response, 200, found.keyAuthorization);
    } catch {
      // Says nothing of the cause: no stack trace, no database detail.
      reply(response, 503, 'temporarily unavailable');
    }
  }

  // Plain node:http rather than express: the CA's request is the only thing served here, and express's router,
  // request/response decoration and content negotiation cost more CPU than the answer itself.
  return createServer((request, response) => {
    const encodedToken = challengeTokenOf(request);
    if (encodedToken === undefined) {
      traceHttpRequest(request, response, 'unmatched', () => reply(response, 404, 'not found'));
      return;
    }
    traceHttpRequest(request, response, challengeRoute, () => answer(request, response, encodedToken));
  });
}

/** The route template, as spans and the request-duration histogram name it. */
const challengeRoute = '/.well-known/acme-challenge/:token';
const challengePrefix = '/.well-known/acme-challenge/';

/**
 * The (still %-encoded) token of a `GET`/`HEAD /.well-known/acme-challenge/<token>` request, as express routed it:
 * the prefix matched without regard to case, the query string ignored, one trailing slash allowed.
 */
function challengeTokenOf(request: IncomingMessage): string | undefined {
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  const url = request.url ?? '';
  const queryAt = url.indexOf('?');
  let path = queryAt === -1 ? url : url.slice(0, queryAt);
  if (path.length <= challengePrefix.length) return undefined;
  if (path.slice(0, challengePrefix.length).toLowerCase() !== challengePrefix) return undefined;
  if (path.endsWith('/')) path = path.slice(0, -1);
  const token = path.slice(challengePrefix.length);
  return token === '' || token.includes('/') ? undefined : token;
}

/** A plain-text answer with its length (no ETag, no X-Powered-By); a HEAD gets the headers only. */
function reply(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
