import { isIP } from 'node:net';
import type { PreflightResult } from '@gatehouse/db';
import type { ChallengeType } from '../acme/issuer.ts';
import type { Http01Probes } from '../challenges/http01-probe.ts';
import { checkCaa } from './caa.ts';
import { checkHttp01Reachable } from './http01-self-check.ts';
import type { CaaRecord, DnsResolver } from './resolver.ts';
import { checkResolves } from './resolves.ts';

/** `enforce` blocks the order on a failed check, `advisory` only records, `off` runs nothing (NAT hairpin setups). */
export type PreflightMode = 'enforce' | 'advisory' | 'off';

export interface PreflightOptions {
  mode: PreflightMode;
  /** The challenge the order will use; `dns-01` skips the HTTP-01 self-check. */
  challenge: ChallengeType;
  resolver: DnsResolver;
  /** The CA's directory `meta.caaIdentities`; empty skips the CAA check. */
  caaIdentities: readonly string[];
  /** This server's public addresses; when set, every name must resolve to one of them. */
  expectedAddresses?: readonly string[] | undefined;
  /** The port the CA connects to for HTTP-01. */
  httpPort: number;
  /** Mints the HTTP-01 self-check's probes (the responders answer them with the same key). */
  probes: Http01Probes;
  /** Bound for each check of each name; a check still running then fails with a timeout detail. */
  timeoutMs: number;
  /** Stops the checks early (service draining); unfinished ones fail. */
  signal?: AbortSignal | undefined;
}

export interface PreflightOutcome {
  /** False only in `enforce` mode with at least one failed check. */
  ok: boolean;
  /** The failed checks (in `advisory` mode too, where they do not block). */
  blocking: PreflightResult[];
  /** Every check of every name: per name `dns`, `caa`, `http-01`, in the order of `names`. */
  results: PreflightResult[];
}

/**
 * Checks, before an order, what would make the CA fail validation: for HTTP-01 each name resolves (to
 * this server, when its addresses are configured), CAA permits the CA, and the HTTP-01 path answers a
 * probe token. All checks of all names run concurrently, each bounded by `timeoutMs`, so the whole
 * preflight takes about `timeoutMs` at most. Checks never throw: an unexpected error is a failed
 * result naming it.
 */
export async function runPreflight(
  names: readonly string[],
  options: PreflightOptions,
): Promise<PreflightOutcome> {
  if (options.mode === 'off') return { ok: true, blocking: [], results: [] };
  // The DNS check and the HTTP-01 self-check both resolve each name: one query per name and type per run.
  options = { ...options, resolver: sharingLookups(options.resolver) };
  const perName = await Promise.all(
    names.map((name) =>
      isIP(name) !== 0
        ? preflightIpAddress(name, options)
        : Promise.all([
            // DNS-01 proves control of the zone, not of an address: the name need not resolve yet (often the
            // reason to use DNS-01 is that this server is not reachable from the CA at all).
            options.challenge === 'dns-01'
              ? Promise.resolve<PreflightResult>({
                  name,
                  check: 'dns',
                  ok: true,
                  detail: 'skipped: DNS-01 does not need the name to resolve',
                })
              : bounded(name, 'dns', options, () =>
                  checkResolves(name, {
                    resolver: options.resolver,
                    expectedAddresses: options.expectedAddresses,
                  }),
                ),
            bounded(name, 'caa', options, () =>
              checkCaa(name, {
                resolver: options.resolver,
                caaIdentities: options.caaIdentities,
                challenge: options.challenge,
              }),
            ),
            options.challenge === 'dns-01'
              ? Promise.resolve<PreflightResult>({
                  name,
                  check: 'http-01',
                  ok: true,
                  detail: 'skipped: the order uses DNS-01',
                })
              : bounded(name, 'http-01', options, (signal) =>
                  checkHttp01Reachable(name, {
                    probes: options.probes,
                    resolver: options.resolver,
                    httpPort: options.httpPort,
                    // A little under the bound, so the check's own, more specific timeout detail wins.
                    timeoutMs: Math.max(1, options.timeoutMs - 50),
                    signal,
                  }),
                ),
          ]),
    ),
  );
  const results = perName.flat();
  const blocking = results.filter((result) => !result.ok);
  return { ok: options.mode === 'advisory' || blocking.length === 0, blocking, results };
}

/**
 * An IP address (RFC 8738) has no DNS name to resolve and no CAA records: the CA connects to the address itself.
 * What is left to check is that it is one of this server's addresses (when those are configured) and, for
 * HTTP-01, that the challenge path answers on it. DNS-01 cannot validate an IP address at all.
 */
async function preflightIpAddress(name: string, options: PreflightOptions): Promise<PreflightResult[]> {
  const expected = options.expectedAddresses;
  const dns: PreflightResult =
    expected && expected.length > 0 && !expected.includes(name)
      ? {
          name,
          check: 'dns',
          ok: false,
          detail: `${name} is not one of this server's addresses (${expected.join(', ')})`,
        }
      : { name, check: 'dns', ok: true, detail: 'skipped: an IP address is not looked up in DNS' };
  const caa: PreflightResult = {
    name,
    check: 'caa',
    ok: true,
    detail: 'skipped: CAA does not apply to IP addresses',
  };
  const http01 =
    options.challenge === 'dns-01'
      ? {
          name,
          check: 'http-01',
          ok: false,
          detail: `${name} is an IP address: DNS-01 cannot validate it, use HTTP-01`,
        }
      : await bounded(name, 'http-01', options, (signal) =>
          checkHttp01Reachable(name, {
            probes: options.probes,
            resolver: options.resolver,
            httpPort: options.httpPort,
            timeoutMs: Math.max(1, options.timeoutMs - 50),
            signal,
          }),
        );
  return [dns, caa, http01];
}

/** A view of `resolver` where asking again for the same lookup shares the first answer (one preflight run). */
function sharingLookups(resolver: DnsResolver): DnsResolver {
  const addresses = new Map<string, Promise<string[]>>();
  const caa = new Map<string, Promise<CaaRecord[]>>();
  const shared = <T>(cache: Map<string, Promise<T>>, key: string, lookup: () => Promise<T>) => {
    let pending = cache.get(key);
    if (!pending) {
      pending = lookup();
      cache.set(key, pending);
    }
    return pending;
  };
  return {
    description: resolver.description,
    resolveAddresses: (hostname) => shared(addresses, hostname, () => resolver.resolveAddresses(hostname)),
    resolveCaa: (hostname) => shared(caa, hostname, () => resolver.resolveCaa(hostname)),
  };
}

/** Runs one check with a hard deadline; a timeout, abort or unexpected error becomes a failed result. */
async function bounded(
  name: string,
  check: string,
  options: Pick<PreflightOptions, 'timeoutMs' | 'signal'>,
  run: (signal: AbortSignal | undefined) => Promise<PreflightResult>,
): Promise<PreflightResult> {
  const failed = (detail: string): PreflightResult => ({ name, check, ok: false, detail });
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const deadline = new Promise<PreflightResult>((resolve) => {
    timer = setTimeout(
      () => resolve(failed(`${check} check of ${name} did not finish within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    onAbort = () => resolve(failed(`${check} check of ${name} was stopped before it finished`));
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    if (options.signal?.aborted) return failed(`${check} check of ${name} was stopped before it finished`);
    return await Promise.race([
      run(options.signal).catch((error: unknown) =>
        failed(
          `${check} check of ${name} could not run: ${error instanceof Error ? error.message : String(error)}`,
        ),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener('abort', onAbort);
  }
}
