import type { IncomingHttpHeaders } from 'node:http';
import { request as httpRequest } from 'node:http';
import type { Agent } from 'node:https';
import { request as httpsRequest } from 'node:https';
import { createAcmeAgent } from './acme-agent.ts';
import { AcmeDirectoryError } from './acme-directory.ts';
import { createDirectoryCache, type DirectoryCache } from './directory-cache.ts';
import { createNoncePool, type NoncePool } from './nonce-pool.ts';

export interface AcmeHttpClientOptions {
  /** Extra trust for a private or test CA (`ACME_CA_BUNDLE`). */
  caBundlePem?: string | undefined;
  /** Bound for one request, connection included. */
  timeoutMs?: number;
  /** How long a directory is cached. */
  directoryTtlMs?: number;
  /**
   * Reads a directory's JSON body. Defaults to `getJson` through this client; cert-issuer passes its ACME
   * library's transport so the read is measured and its failures classified like every other ACME request.
   */
  loadDirectory?: (directoryUrl: string) => Promise<unknown>;
}

export interface AcmeRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer | undefined;
  /** Overrides the client's timeout for this request. */
  timeoutMs?: number | undefined;
}

export interface AcmeAnswer {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * The one ACME HTTP client of Gatehouse: a keep-alive agent (one secure context), a directory cache and a
 * Replay-Nonce pool per CA. cert-issuer routes its ACME library through `agent` and `nonces`; the renewal
 * scheduler's ARI poller reads `directory` and `get`s renewalInfo through the same pieces.
 */
export interface AcmeHttpClient {
  readonly agent: Agent;
  directory: DirectoryCache['get'];
  /** The nonce pool of one CA directory (nonces are only valid at the CA that issued them). */
  nonces(directoryUrl: string): NoncePool;
  /** GET (unsigned; for the directory and renewalInfo, RFC 9773 §4.2), body as text. */
  get(url: string): Promise<AcmeAnswer>;
  /**
   * Any ACME request through the agent, body as text (an ACME answer is JSON or PEM). Rejects on a network
   * error (its `code` kept: ECONNREFUSED, ETIMEDOUT, …) or an answer over 4 MiB; never on an HTTP status.
   */
  request(url: string, init?: AcmeRequest): Promise<AcmeAnswer>;
  /** Closes idle connections. */
  close(): void;
}

/** Far above any ACME answer (a chain is a few KiB); a bound so a broken or hostile server cannot fill memory. */
const maxBodyBytes = 4 * 1024 * 1024;

export function createAcmeHttpClient(options: AcmeHttpClientOptions = {}): AcmeHttpClient {
  const agent = createAcmeAgent({ caBundlePem: options.caBundlePem });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const pools = new Map<string, NoncePool>();

  function request(url: string, init: AcmeRequest = {}): Promise<AcmeAnswer> {
    const target = new URL(url);
    // http only for a local test CA; a production directory is https.
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const timeout = init.timeoutMs ?? timeoutMs;
    return new Promise((resolve, reject) => {
      // One bound on the whole exchange, not the socket's idle timeout: that one never fires for a server that
      // trickles a byte now and then, and was seen not armed at all on a reused keep-alive connection (a
      // request to Pebble stayed unanswered for minutes, holding its order's worker slot).
      const deadline = setTimeout(
        () =>
          req.destroy(
            Object.assign(new Error(`no answer from ${target.host} within ${timeout} ms`), {
              code: 'ETIMEDOUT',
            }),
          ),
        timeout,
      );
      const settle =
        <T>(settleWith: (value: T) => void) =>
        (value: T) => {
          clearTimeout(deadline);
          settleWith(value);
        };
      resolve = settle(resolve);
      reject = settle(reject);
      const req = send(
        target,
        {
          method: init.method ?? 'GET',
          ...(target.protocol === 'https:' ? { agent } : {}),
          headers: { accept: 'application/json', ...init.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBodyBytes) {
              res.destroy(new Error(`the answer from ${target.host} is larger than ${maxBodyBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              statusText: res.statusMessage ?? '',
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(init.body);
    });
  }

  const get = (url: string) => request(url);

  async function getJson(url: string): Promise<unknown> {
    const answer = await get(url);
    if (answer.status !== 200) throw new AcmeDirectoryError(`the directory ${url} answered ${answer.status}`);
    try {
      return JSON.parse(answer.body);
    } catch {
      throw new AcmeDirectoryError(`the directory ${url} did not answer JSON`);
    }
  }

  const directories = createDirectoryCache({
    load: options.loadDirectory ?? getJson,
    ...(options.directoryTtlMs !== undefined ? { ttlMs: options.directoryTtlMs } : {}),
  });

  return {
    agent,
    directory: (directoryUrl) => directories.get(directoryUrl),
    nonces(directoryUrl) {
      let pool = pools.get(directoryUrl);
      if (!pool) {
        pool = createNoncePool();
        pools.set(directoryUrl, pool);
      }
      return pool;
    },
    get,
    request,
    close: () => agent.destroy(),
  };
}
