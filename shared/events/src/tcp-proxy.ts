/**
 * The contract between proxy-config and the deployer for TCP proxies (issue 15, item 4): the deployer starts one
 * Traefik per public port whose static configuration defines exactly this entry point, and proxy-config writes
 * the port's TCP router on it. Spelled once here so the two never drift apart.
 */
export function tcpProxyEntryPoint(publicPort: number): string {
  if (!Number.isInteger(publicPort) || publicPort < 1 || publicPort > 65535) {
    throw new RangeError(`${publicPort} is not a TCP port`);
  }
  return `tcp-${publicPort}`;
}
