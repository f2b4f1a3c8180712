import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { checkResolvedAddress, forbiddenHostReason, type OutboundAllowlist } from '@gatehouse/config';
import { DnsProviderError } from '../dns-provider-error.ts';

/** What the caller learns of an answer: its status only. Bodies are read (bounded) and dropped. */
export interface GuardedAnswer {
  status: number;
}

/** A request refused before it left: the caller's URL points where Gatehouse may not go. */
export function forbiddenTarget(url: URL, allow: OutboundAllowlist | undefined): string | undefined {
  if (url.username || url.password) return 'carries credentials in the URL (send a token instead)';
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'is not http(s)';
  if (url.search || url.hash) return 'has a query or fragment (the path is fixed)';
  const reason = forbiddenHostReason(allow, url.hostname);
  return reason ? `points at ${reason}; allow it with DNS_WEBHOOK_ALLOW if this is intended` : undefined;
}

/** Every address of a host name, as the connection would find them. */
export type ResolveHost = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

/** The system's resolver (getaddrinfo: /etc/hosts, then DNS), as an ordinary connection uses it. */
export const systemResolveHost: ResolveHost = (hostname) => dnsLookup(hostname, { all: true });

/**
 * A lookup that resolves with `resolve` and refuses the connection when any address of the name is forbidden,
 * so the address checked is the address connected to (no second resolution a rebinding DNS could answer
 * differently). Node skips `lookup` for IP literals; those are judged before (`forbiddenTarget`).
 */
export function checkedLookup(allow: OutboundAllowlist | undefined, resolve: ResolveHost): LookupFunction {
  return (hostname, options, callback) => {
    const answer = callback as unknown as (
      error: NodeJS.ErrnoException | null,
      address: string | Array<{ address: string; family: number }>,
      family?: number,
    ) => void;
    resolve(hostname).then(
      (addresses) => {
        if (addresses.length === 0)
          return answer(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
        for (const { address } of addresses) {
          const reason = checkResolvedAddress(allow, hostname, address);
          if (reason) return answer(Object.assign(new Error(reason), { code: 'EFORBIDDEN' }), '', 0);
        }
        if (options.all) return answer(null, addresses);
        answer(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: NodeJS.ErrnoException) => answer(error, '', 0),
    );
  };
}

/**
 * POSTs `body` to `url` for a DNS webhook: never to a forbidden address (checked on the literal host and on
 * every resolved address), never following a redirect (a 3xx is an answer like any other), bounded by
 * `timeoutMs`. Failures to connect become retryable DnsProviderErrors naming `what`; a forbidden target is a
 * `refused` one.
 */
export function guardedPost(
  url: URL,
  init: { headers: Record<string, string>; body: string },
  options: {
    timeoutMs: number;
    what: string;
    allow: OutboundAllowlist | undefined;
    resolve?: ResolveHost | undefined;
  },
): Promise<GuardedAnswer> {
  const forbidden = forbiddenTarget(url, options.allow);
  if (forbidden) return Promise.reject(new DnsProviderError('refused', `${options.what} ${forbidden}`));
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      url,
      {
        method: 'POST',
        headers: { ...init.headers, 'content-length': Buffer.byteLength(init.body) },
        lookup: checkedLookup(options.allow, options.resolve ?? systemResolveHost),
        timeout: options.timeoutMs,
        // A fresh connection per call: a pooled socket would skip the address check.
        agent: false,
      },
      (response) => {
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          // The body is not used; a handler that streams forever is cut off.
          if (read > 64 * 1024) response.destroy();
        });
        response.on('error', () => undefined);
        response.on('close', () => resolve({ status: response.statusCode ?? 0 }));
      },
    );
    const deadline = setTimeout(
      () => request.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
      options.timeoutMs,
    );
    request.on('close', () => clearTimeout(deadline));
    request.on('timeout', () => request.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    request.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(deadline);
      if (error.code === 'EFORBIDDEN')
        return reject(
          new DnsProviderError(
            'refused',
            `${options.what} ${error.message}; allow it with DNS_WEBHOOK_ALLOW if this is intended`,
          ),
        );
      if (error.code === 'ETIMEDOUT')
        return reject(
          new DnsProviderError('timeout', `${options.what} did not answer within ${options.timeoutMs} ms`),
        );
      reject(
        new DnsProviderError('server', `${options.what} could not be reached: ${error.code ?? 'error'}`),
      );
    });
    request.end(init.body);
  });
}
