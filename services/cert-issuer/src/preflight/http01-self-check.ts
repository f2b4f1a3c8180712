import { request } from 'node:http';
import { isIP } from 'node:net';
import type { PreflightResult } from '@gatehouse/db';
import type { Http01Probes } from '../challenges/http01-probe.ts';
import { DnsQueryError, type DnsResolver, describeDnsFailure } from './resolver.ts';

/** A key authorization is under 100 bytes; more than this is some other page. */
const maxBodyBytes = 4_096;

export interface Http01SelfCheckOptions {
  /** Mints the probe; the responders (every replica's, with the same master key) answer it. */
  probes: Http01Probes;
  resolver: DnsResolver;
  /** The port the CA connects to (`PREFLIGHT_HTTP_PORT`: 80 in production, Pebble's httpPort in tests). */
  httpPort: number;
  /** Bound for the whole check. */
  timeoutMs: number;
  /** Stops the request early. */
  signal?: AbortSignal | undefined;
}

/**
 * Check `http-01`: mints a self-verifying probe token for the name (`createHttp01Probes`: its tag, not a
 * database row, makes a Gatehouse responder answer it), fetches
 * `http://<name>:<httpPort>/.well-known/acme-challenge/<probe>` from the addresses the name resolves
 * to (IPv6 first, the next address only when one cannot be connected to, as Let's Encrypt does) and
 * compares the body with the answer only a holder of the probe key can compute. Nothing is stored, so
 * nothing is left behind. Redirects are not followed: Gatehouse's responder answers directly. Wildcard
 * names are skipped (they are validated by DNS-01).
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

  const { token, expectedBody } = options.probes.mint(name);
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
    if (response.status === 200 && response.body.trimEnd() === expectedBody) {
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
