import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { isIP } from 'node:net';
import type { Db, PreflightResult } from '@gatehouse/db';
import { DnsQueryError, type DnsResolver, describeDnsFailure } from './resolver.ts';

/** A key authorization is under 100 bytes; more than this is some other page. */
const maxBodyBytes = 4_096;

export interface Http01SelfCheckOptions {
  db: Db;
  resolver: DnsResolver;
  /** The port the CA connects to (`PREFLIGHT_HTTP_PORT`: 80 in production, Pebble's httpPort in tests). */
  httpPort: number;
  /** Bound for the whole check; the probe row outlives it by a little at most. */
  timeoutMs: number;
  /** Stops the request early (the probe row is still deleted). */
  signal?: AbortSignal | undefined;
}

/**
 * Check `http-01`: stores a probe token in `http01_tokens` (as an order would), fetches
 * `http://<name>:<httpPort>/.well-known/acme-challenge/<probe>` from the addresses the name resolves
 * to (IPv6 first, the next address only when one cannot be connected to, as Let's Encrypt does) and
 * compares the body with the probe's key authorization. The probe row is deleted afterwards, on
 * failure too. Redirects are not followed: Gatehouse's responder answers directly. Wildcard names
 * are skipped (they are validated by DNS-01).
 */
export async function checkHttp01Reachable(
  name: string,
  options: Http01SelfCheckOptions,
): Promise<PreflightResult> {
  const result = (ok: boolean, detail: string): PreflightResult => ({ name, check: 'http-01', ok, detail });
  if (name.startsWith('*.')) return result(true, 'skipped: wildcard names are validated by DNS-01');
  const signal = options.signal
    ? AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)])
    : AbortSignal.timeout(options.timeoutMs);

  const port = options.httpPort;
  // An IPv6 address is bracketed in URLs and Host headers (RFC 3986 §3.2.2), as the CA sends it.
  const authority = isIP(name) === 6 ? `[${name}]` : name;
  const url = `http://${authority}${port === 80 ? '' : `:${port}`}/.well-known/acme-challenge/…`;
  let addresses: string[];
  try {
    // An IP address (RFC 8738) is where the CA connects: nothing to resolve.
    addresses = isIP(name) !== 0 ? [name] : await options.resolver.resolveAddresses(name);
  } catch (error) {
    if (!(error instanceof DnsQueryError)) throw error;
    return result(
      false,
      `${url} cannot be checked: ${name} does not resolve (${describeDnsFailure(error.failure)}) via ${options.resolver.description}`,
    );
  }

  const token = randomBytes(32).toString('base64url');
  const keyAuthorization = `${token}.${randomBytes(32).toString('base64url')}`;
  await options.db
    .insertInto('http01_tokens')
    .values({
      token,
      key_authorization: keyAuthorization,
      hostname: name,
      expires_at: new Date(Date.now() + options.timeoutMs + 30_000),
    })
    .execute();
  try {
    let unreachable = '';
    for (const address of addresses) {
      const target = isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
      let response: { status: number; body: string; location: string | undefined };
      try {
        response = await get({
          address,
          port,
          path: `/.well-known/acme-challenge/${token}`,
          host: port === 80 ? authority : `${authority}:${port}`,
          signal,
        });
      } catch (error) {
        if (signal.aborted) {
          return result(
            false,
            `${url} did not answer at ${target} within ${options.timeoutMs} ms: is port ${port} open and routed to Gatehouse?`,
          );
        }
        unreachable = `${url} could not be reached at ${target} (${describeConnectError(error)}): is port ${port} open and routed to Gatehouse?`;
        continue;
      }
      if (response.status === 200 && response.body.trimEnd() === keyAuthorization) {
        return result(true, `${url} served the probe token at ${target}`);
      }
      if (response.status === 200) {
        return result(
          false,
          `${url} answered 200 at ${target} but not with the probe token: something other than Gatehouse answers ` +
            `on port ${port}; route /.well-known/acme-challenge/ to Gatehouse`,
        );
      }
      if (response.status >= 300 && response.status < 400) {
        return result(
          false,
          `${url} answered ${response.status} at ${target} (redirect to ${response.location ?? 'nowhere'}): ` +
            `route /.well-known/acme-challenge/ on port ${port} to Gatehouse ahead of any redirect`,
        );
      }
      return result(
        false,
        `${url} answered ${response.status} at ${target}: is port ${port} routed to Gatehouse?`,
      );
    }
    return result(false, unreachable);
  } finally {
    await options.db.deleteFrom('http01_tokens').where('token', '=', token).execute();
  }
}

function get(target: {
  address: string;
  port: number;
  path: string;
  host: string;
  signal: AbortSignal;
}): Promise<{ status: number; body: string; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    // Connect to the resolved address ourselves, so the system resolver never decides where we go.
    const req = request(
      {
        host: target.address,
        port: target.port,
        path: target.path,
        method: 'GET',
        headers: { host: target.host, 'user-agent': 'gatehouse-preflight', connection: 'close' },
        agent: false,
        signal: target.signal,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = () =>
          resolve({
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            location: response.headers.location,
          });
        response.on('data', (chunk: Buffer) => {
          if (size >= maxBodyBytes) return;
          chunks.push(chunk.subarray(0, maxBodyBytes - size));
          size += chunk.length;
          if (size >= maxBodyBytes) {
            finish();
            response.destroy();
          }
        });
        response.on('end', finish);
        response.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function describeConnectError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to host';
    case 'ETIMEDOUT':
      return 'connection timed out';
    default:
      return typeof code === 'string' ? code : (error as Error).message;
  }
}
