import type { Db } from '@gatehouse/db';
import { dnsProviderSecretContext, type SecretBox } from '@gatehouse/pki';
import type { DnsProvider } from './dns-provider.ts';
import { DnsProviderError } from './dns-provider-error.ts';
import { buildDnsProvider, type DnsProviderPolicy } from './dns-provider-factory.ts';

/** The provider that writes records under `zone`, and whether to wait for them on its nameservers. */
export interface ZoneProvider {
  provider: DnsProvider;
  /** The zone the provider was registered for (`/v1/dns-providers`), or undefined for the global one. */
  zone: string | undefined;
  /** False for the test DNS (challtestsrv), which serves a record the moment it is set. */
  checkPropagation: boolean;
}

export interface DnsProviderRegistry {
  /** The provider for the zone that holds `fqdn`: the registered zone that is its longest suffix. */
  providerFor(fqdn: string): Promise<ZoneProvider | undefined>;
}

export interface DnsProviderRegistryOptions {
  db: Db;
  box: SecretBox;
  /** Serves every zone without a registered provider (DNS01_PROVIDER, the test DNS). */
  fallback?: DnsProvider | undefined;
  /** What registered exec and webhook providers may do (DNS_EXEC_DIR, DNS_WEBHOOK_ALLOW). */
  policy?: DnsProviderPolicy | undefined;
  /** How long the list of providers is trusted before it is read again. */
  reloadMs?: number;
}

interface LoadedProvider {
  zone: string;
  /** Built on first use; a row that fails to build (a secret that no longer opens) fails only its own zone. */
  build: () => DnsProvider;
}

/**
 * Providers registered per zone through the api (`dns_providers`), their secrets opened with the master key.
 * Rows are re-read at most every `reloadMs`, so a provider added or changed through the api is used within
 * seconds by every replica; built providers are kept per row version, so their caches (zone lookups) last.
 */
export function createDnsProviderRegistry(options: DnsProviderRegistryOptions): DnsProviderRegistry {
  const reloadMs = options.reloadMs ?? 5_000;
  const built = new Map<string, DnsProvider>();
  let cache: { at: number; providers: Promise<LoadedProvider[]> } | undefined;

  async function load(): Promise<LoadedProvider[]> {
    const rows = await options.db.selectFrom('dns_providers').selectAll().execute();
    const versions = new Set<string>();
    const providers = rows.map((row) => {
      const version = `${row.id}:${row.updated_at.getTime()}`;
      versions.add(version);
      return {
        zone: row.zone.toLowerCase(),
        build: () => {
          let provider = built.get(version);
          if (!provider) {
            let secret: string | undefined;
            try {
              secret = row.secret_encrypted
                ? options.box.openText(row.secret_encrypted, dnsProviderSecretContext(row.id))
                : undefined;
            } catch {
              throw new DnsProviderError(
                'auth',
                `the credentials of the DNS provider for zone ${row.zone} do not open with this GATEHOUSE_MASTER_KEY: register the provider again`,
              );
            }
            provider = buildDnsProvider(
              { zone: row.zone, kind: row.kind, config: row.config, secret },
              options.policy,
            );
            built.set(version, provider);
          }
          return provider;
        },
      };
    });
    for (const version of built.keys()) if (!versions.has(version)) built.delete(version);
    return providers;
  }

  function providers(): Promise<LoadedProvider[]> {
    if (!cache || Date.now() - cache.at > reloadMs) {
      const loading = load();
      cache = { at: Date.now(), providers: loading };
      loading.catch(() => {
        if (cache?.providers === loading) cache = undefined;
      });
    }
    return cache.providers;
  }

  return {
    async providerFor(fqdn) {
      const name = fqdn.replace(/\.$/, '').toLowerCase();
      const match = (await providers())
        .filter(({ zone }) => name === zone || name.endsWith(`.${zone}`))
        .sort((a, b) => b.zone.length - a.zone.length)[0];
      if (match) return { provider: match.build(), zone: match.zone, checkPropagation: true };
      if (options.fallback) return { provider: options.fallback, zone: undefined, checkPropagation: false };
      return undefined;
    },
  };
}
