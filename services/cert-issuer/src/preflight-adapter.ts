import type { HostPort } from '@gatehouse/config';
import type { ChallengeType, Issuer } from './acme/issuer.ts';
import type { Http01Probes } from './challenges/http01-probe.ts';
import { createDnsResolver, type PreflightMode, runPreflight } from './preflight/index.ts';

export interface PreflightSettings {
  /** The HTTP-01 self-check's probes: the same key as the responders'. */
  probes: Http01Probes;
  mode: PreflightMode;
  httpPort: number;
  resolvers?: HostPort[] | undefined;
  expectedAddresses?: string[] | undefined;
  /** Upper bound for each check, so a slow DNS server delays an order by seconds, not minutes. */
  timeoutMs?: number;
}

/** Binds preflight to this service's settings and the CA's CAA identities. */
export function createPreflight(settings: PreflightSettings) {
  const resolver = createDnsResolver({ servers: settings.resolvers });
  return async (names: string[], challenge: ChallengeType, issuer: Issuer) => {
    const caaIdentities = settings.mode === 'off' ? [] : (await issuer.facts()).caaIdentities;
    return runPreflight(names, {
      mode: settings.mode,
      challenge,
      resolver,
      caaIdentities,
      expectedAddresses: settings.expectedAddresses,
      httpPort: settings.httpPort,
      probes: settings.probes,
      timeoutMs: settings.timeoutMs ?? 5_000,
    });
  };
}
