import { Resolver } from 'node:dns/promises';
import { assertNever } from '@gatehouse/runtime';
import { formatDnsServer } from '../challenges/dns-lookup.ts';

/** Why a DNS query gave no records, in the terms a DNS operator uses. */
export type DnsFailure = 'nxdomain' | 'nodata' | 'servfail' | 'refused' | 'timeout' | 'unreachable' | 'error';

/** A DNS query that produced no records; `failure` says why. */
export class DnsQueryError extends Error {
  override readonly name = 'DnsQueryError';
  readonly failure: DnsFailure;
  readonly hostname: string;
  readonly rrtype: 'A' | 'AAAA' | 'CAA';

  constructor(
    failure: DnsFailure,
    hostname: string,
    rrtype: 'A' | 'AAAA' | 'CAA',
    options: { cause?: unknown } = {},
  ) {
    super(`${rrtype} lookup for ${hostname} failed: ${describeDnsFailure(failure)}`, {
      cause: options.cause,
    });
    this.failure = failure;
    this.hostname = hostname;
    this.rrtype = rrtype;
  }
}

/** One CAA property as published: flags byte, tag (lowercased, tags are case-insensitive) and value. */
export interface CaaRecord {
  flags: number;
  tag: string;
  value: string;
}

/** The DNS view preflight checks use; every query is bounded by the resolver's timeout. */
export interface DnsResolver {
  /** The servers asked, for messages: `127.0.0.1:8053` or `the system's resolvers`. */
  readonly description: string;
  /**
   * A and AAAA addresses of `hostname` (IPv6 first, as Let's Encrypt tries them). Rejects with a
   * `DnsQueryError` only when neither query produced an address.
   */
  resolveAddresses(hostname: string): Promise<string[]>;
  /** The CAA set at exactly `hostname`: empty for NXDOMAIN or no records; rejects on SERVFAIL or timeout. */
  resolveCaa(hostname: string): Promise<CaaRecord[]>;
}

export interface DnsResolverOptions {
  /** DNS servers as IP and port (`DNS_RESOLVERS`); the system's resolvers when absent or empty. */
  servers?: ReadonlyArray<{ host: string; port: number }> | undefined;
  /** Upper bound for one query, retries included. Default 3 s. */
  timeoutMs?: number;
}

/** A resolver over the configured servers (node:dns `Resolver`, so no shared global state is changed). */
export function createDnsResolver(options: DnsResolverOptions = {}): DnsResolver {
  const timeoutMs = options.timeoutMs ?? 3_000;
  const tries = 2;
  const resolver = new Resolver({ timeout: Math.max(1, Math.floor(timeoutMs / tries)), tries });
  const servers = options.servers ?? [];
  if (servers.length > 0) {
    resolver.setServers(servers.map(formatDnsServer));
  }
  const description = servers.length > 0 ? servers.map(formatDnsServer).join(', ') : "the system's resolvers";

  async function query<T>(hostname: string, rrtype: 'A' | 'AAAA' | 'CAA', run: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      // c-ares retries each server; this bounds the whole query whatever the server count.
      timer = setTimeout(() => reject(new DnsQueryError('timeout', hostname, rrtype)), timeoutMs);
    });
    try {
      return await Promise.race([run(), deadline]);
    } catch (error) {
      if (error instanceof DnsQueryError) throw error;
      throw new DnsQueryError(classify(error), hostname, rrtype, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    description,
    async resolveAddresses(hostname) {
      const [v6, v4] = await Promise.allSettled([
        query(hostname, 'AAAA', () => resolver.resolve6(hostname)),
        query(hostname, 'A', () => resolver.resolve4(hostname)),
      ]);
      const addresses = [
        ...(v6.status === 'fulfilled' ? v6.value : []),
        ...(v4.status === 'fulfilled' ? v4.value : []),
      ];
      if (addresses.length > 0) return addresses;
      const errors = [v6, v4].flatMap((result) =>
        result.status === 'rejected' ? [result.reason as unknown] : [],
      );
      // The most telling failure wins: a broken server says more than "no record of this type".
      errors.sort((a, b) => failureRank(b) - failureRank(a));
      throw errors[0] ?? new DnsQueryError('nodata', hostname, 'A');
    },
    async resolveCaa(hostname) {
      try {
        const records = await query(hostname, 'CAA', () => resolver.resolveCaa(hostname));
        return records.map(toCaaRecord);
      } catch (error) {
        if (error instanceof DnsQueryError && (error.failure === 'nxdomain' || error.failure === 'nodata'))
          return [];
        throw error;
      }
    },
  };
}

/** A plain phrase for a failure, for details shown to operators. */
export function describeDnsFailure(failure: DnsFailure): string {
  switch (failure) {
    case 'nxdomain':
      return 'NXDOMAIN';
    case 'nodata':
      return 'no record';
    case 'servfail':
      return 'SERVFAIL';
    case 'refused':
      return 'REFUSED';
    case 'timeout':
      return 'no answer in time';
    case 'unreachable':
      return 'DNS server unreachable';
    case 'error':
      return 'DNS error';
    default:
      return assertNever(failure);
  }
}

function classify(error: unknown): DnsFailure {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOTFOUND':
      return 'nxdomain';
    case 'ENODATA':
      return 'nodata';
    case 'ESERVFAIL':
      return 'servfail';
    case 'EREFUSED':
      return 'refused';
    case 'ETIMEOUT':
    case 'ECANCELLED':
      return 'timeout';
    case 'ECONNREFUSED':
    case 'ECONNRESET':
      return 'unreachable';
    default:
      return 'error';
  }
}

function failureRank(error: unknown): number {
  if (!(error instanceof DnsQueryError)) return 10;
  const ranks: Record<DnsFailure, number> = {
    nodata: 0,
    nxdomain: 1,
    error: 2,
    refused: 3,
    servfail: 4,
    timeout: 5,
    unreachable: 6,
  };
  return ranks[error.failure];
}

/** Node returns `{critical, type: 'CAA', <tag>: value}`; the tag is the one remaining key. */
function toCaaRecord(record: object): CaaRecord {
  const entries = Object.entries(record).filter(([key]) => key !== 'critical' && key !== 'type');
  const [tag, value] = entries[0] ?? ['', ''];
  const flags = (record as { critical?: unknown }).critical;
  return { flags: typeof flags === 'number' ? flags : 0, tag: tag.toLowerCase(), value: String(value) };
}
