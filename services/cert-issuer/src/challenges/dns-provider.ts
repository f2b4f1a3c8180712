/**
 * A DNS host that can publish the TXT record of a DNS-01 challenge. `fqdn` is the record name
 * (`_acme-challenge.<name>`, no trailing dot); `cleanup` MUST remove exactly the value `present` added.
 */
export interface DnsProvider {
  readonly kind: string;
  present(fqdn: string, value: string): Promise<void>;
  cleanup(fqdn: string, value: string): Promise<void>;
  /**
   * Proves the credentials work for the zone that holds `fqdn` without changing anything, so a wrong
   * secret fails before an order is placed at the CA. Throws DnsProviderError (`auth` for bad credentials).
   */
  verify?(fqdn: string): Promise<void>;
}

/**
 * pebble-challtestsrv's management API as a DNS provider, for tests and local development against
 * Pebble. Real providers (RFC 2136, Cloudflare, webhook) implement the same interface.
 */
export function createChalltestsrvProvider(managementUrl: string): DnsProvider {
  async function post(path: string, body: unknown): Promise<void> {
    const response = await fetch(new URL(path, managementUrl), {
      method: 'POST',
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`challtestsrv ${path} answered ${response.status}`);
  }
  // challtestsrv can only clear every value of a host at once; a wildcard and its base name share
  // one record, so the host is cleared only when the last value presented for it is cleaned up.
  const presented = new Map<string, number>();
  return {
    kind: 'challtestsrv',
    async present(fqdn, value) {
      presented.set(fqdn, (presented.get(fqdn) ?? 0) + 1);
      await post('/set-txt', { host: `${fqdn}.`, value });
    },
    async cleanup(fqdn) {
      const remaining = (presented.get(fqdn) ?? 1) - 1;
      if (remaining > 0) {
        presented.set(fqdn, remaining);
        return;
      }
      presented.delete(fqdn);
      await post('/clear-txt', { host: `${fqdn}.` });
    },
  };
}
