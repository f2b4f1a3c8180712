import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

/** The DNS questions DNS-01 needs answered: where a zone starts, where a CNAME points, what a server holds. */
export interface DnsLookup {
  /** The apex of the zone that holds `name`, found by asking for the SOA of `name` and then of each parent. */
  zoneOf(name: string): Promise<string | undefined>;
  /** Where `name` is a CNAME to, or undefined when it is none (NODATA, NXDOMAIN). */
  cnameOf(name: string): Promise<string | undefined>;
  /** Addresses of the zone's authoritative nameservers (its NS set, each resolved to A and AAAA). */
  nameserverAddresses(zone: string): Promise<string[]>;
  /** The TXT values at `name` as one server answers them (character-strings joined, as a TXT value is). */
  txtAt(server: { host: string; port: number }, name: string): Promise<string[]>;
}

export interface DnsLookupOptions {
  /** Recursive resolvers (DNS_RESOLVERS); the system's when absent. */
  servers?: ReadonlyArray<{ host: string; port: number }> | undefined;
  /** Per query, retries included. */
  timeoutMs?: number;
}

/** Answers that mean "there is nothing of that type here" rather than "the question failed". */
const NO_SUCH_RECORD = new Set(['ENODATA', 'ENOTFOUND']);

export function formatDnsServer(server: { host: string; port: number }): string {
  const family = isIP(server.host);
  if (family === 0) throw new Error(`DNS server ${server.host} must be an IP address`);
  return family === 6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

export function createDnsLookup(options: DnsLookupOptions = {}): DnsLookup {
  const timeoutMs = options.timeoutMs ?? 3_000;
  const makeResolver = (servers: ReadonlyArray<{ host: string; port: number }>) => {
    const resolver = new Resolver({ timeout: Math.max(1, Math.floor(timeoutMs / 2)), tries: 2 });
    if (servers.length > 0) resolver.setServers(servers.map(formatDnsServer));
    return resolver;
  };
  const recursive = makeResolver(options.servers ?? []);

  async function orNothing<T>(query: Promise<T>): Promise<T | undefined> {
    try {
      return await query;
    } catch (error) {
      if (NO_SUCH_RECORD.has((error as NodeJS.ErrnoException).code ?? '')) return undefined;
      throw error;
    }
  }

  return {
    async zoneOf(name) {
      const labels = name.replace(/\.$/, '').toLowerCase().split('.');
      for (let index = 0; index < labels.length; index++) {
        const candidate = labels.slice(index).join('.');
        // A name inside a zone answers SOA with NODATA (the SOA sits in the authority section): go up.
        if (await orNothing(recursive.resolveSoa(candidate))) return candidate;
      }
      return undefined;
    },
    async cnameOf(name) {
      const targets = await orNothing(recursive.resolveCname(name));
      return targets?.[0]?.replace(/\.$/, '').toLowerCase();
    },
    async nameserverAddresses(zone) {
      const names = (await orNothing(recursive.resolveNs(zone))) ?? [];
      const addresses = await Promise.all(
        names.map(async (ns) => [
          ...((await orNothing(recursive.resolve4(ns))) ?? []),
          ...((await orNothing(recursive.resolve6(ns))) ?? []),
        ]),
      );
      return [...new Set(addresses.flat())];
    },
    async txtAt(server, name) {
      const records = await orNothing(makeResolver([server]).resolveTxt(name));
      return (records ?? []).map((chunks) => chunks.join(''));
    },
  };
}

/**
 * A host name's A and AAAA addresses from the given resolvers (DNS_RESOLVERS), for connections that must check
 * the address they go to (DNS webhooks); without DNS_RESOLVERS the system's resolver is used instead.
 */
export function createResolveHost(
  servers: ReadonlyArray<{ host: string; port: number }>,
  timeoutMs = 3_000,
): (hostname: string) => Promise<Array<{ address: string; family: number }>> {
  const resolver = new Resolver({ timeout: Math.max(1, Math.floor(timeoutMs / 2)), tries: 2 });
  resolver.setServers(servers.map(formatDnsServer));
  const none = (error: NodeJS.ErrnoException) => {
    if (NO_SUCH_RECORD.has(error.code ?? '')) return [];
    throw error;
  };
  return async (hostname) => {
    if (isIP(hostname) !== 0) return [{ address: hostname, family: isIP(hostname) }];
    const [v4, v6] = await Promise.all([
      resolver.resolve4(hostname).catch(none),
      resolver.resolve6(hostname).catch(none),
    ]);
    return [
      ...v4.map((address) => ({ address, family: 4 })),
      ...v6.map((address) => ({ address, family: 6 })),
    ];
  };
}
