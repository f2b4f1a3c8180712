import { sleep } from '@gatehouse/messaging';
import type { DnsLookup } from './dns-lookup.ts';

export interface PropagationOptions {
  /** Give up after this long (DNS01_PROPAGATION_TIMEOUT). */
  timeoutMs: number;
  /** Between rounds of queries (DNS01_PROPAGATION_INTERVAL). */
  intervalMs: number;
  /** Port the authoritative nameservers answer on (53; the testbed's BIND listens elsewhere). */
  nameserverPort: number;
  signal?: AbortSignal | undefined;
}

/** The TXT was not visible on every authoritative nameserver in time; says which ones lagged. */
export class PropagationTimeoutError extends Error {
  override readonly name = 'PropagationTimeoutError';
}

/**
 * Waits until every authoritative nameserver of `zone` serves `value` at `fqdn`. Asking them directly, not
 * a recursive resolver, avoids caching a negative answer the CA's resolver might then also see; only when
 * all of them have it is the CA told to look (any of them may be the one it asks).
 */
export async function waitForTxtOnNameservers(
  lookup: DnsLookup,
  zone: string,
  fqdn: string,
  value: string,
  options: PropagationOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lagging: string[] = [];
  let lastProblem = '';
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const addresses = await lookup.nameserverAddresses(zone);
      if (addresses.length === 0) {
        lastProblem = `no nameserver address found for zone ${zone}`;
        lagging = [];
      } else {
        const seen = await Promise.all(
          addresses.map(async (host) => {
            try {
              const values = await lookup.txtAt({ host, port: options.nameserverPort }, fqdn);
              return values.includes(value);
            } catch {
              return false;
            }
          }),
        );
        lagging = addresses.filter((_, index) => !seen[index]);
        if (lagging.length === 0) return;
        lastProblem = '';
      }
    } catch (error) {
      lastProblem = `looking up the nameservers of ${zone} failed: ${(error as Error).message}`;
    }
    if (Date.now() + options.intervalMs > deadline) break;
    await sleep(options.intervalMs);
  }
  const seconds = Math.round(options.timeoutMs / 1000);
  const detail =
    lastProblem || `not visible on ${lagging.map((host) => `${host}:${options.nameserverPort}`).join(', ')}`;
  throw new PropagationTimeoutError(
    `the TXT record ${fqdn} did not appear on the authoritative nameservers of ${zone} within ${seconds} s (${detail}): check that the DNS provider publishes to them, or raise DNS01_PROPAGATION_TIMEOUT`,
  );
}
