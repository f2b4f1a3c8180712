import type { TraefikCertificateFiles, TraefikDynamicConfig, TraefikRouter } from './dynamic-config.ts';
import { ON_DEMAND_UPSTREAM_SERVICE_NAME, onDemandRouterName } from './names.ts';
import { assertHostname, WEBSECURE_ENTRYPOINT } from './render-app.ts';

/** One on-demand host whose certificate is valid: its name and its PEM files as Traefik sees them. */
export interface OnDemandHostInput {
  hostname: string;
  certificate: TraefikCertificateFiles;
}

/**
 * Renders the on-demand file: per issued on-demand host a normal HTTPS router (`Host(name)` on websecure,
 * terminated by Traefik with the host's certificate) to the one on-demand upstream, so after its first
 * handshake a name no longer goes through cert-issuer's terminator. No hosts → an empty file.
 */
export function renderOnDemandConfig(input: {
  upstreamUrl: string;
  hosts: readonly OnDemandHostInput[];
}): TraefikDynamicConfig {
  const url = new URL(input.upstreamUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`the on-demand upstream URL must be http(s), not ${url.protocol}`);
  }
  if (input.hosts.length === 0) return {};
  const hosts = [...input.hosts].sort((a, b) =>
    a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0,
  );
  const routers: Record<string, TraefikRouter> = {};
  for (const host of hosts) {
    assertHostname(host.hostname);
    if (host.hostname.startsWith('*.')) throw new TypeError(`on-demand host ${host.hostname} is a wildcard`);
    routers[onDemandRouterName(host.hostname)] = {
      entryPoints: [WEBSECURE_ENTRYPOINT],
      rule: `Host(\`${host.hostname}\`)`,
      service: ON_DEMAND_UPSTREAM_SERVICE_NAME,
      tls: {},
    };
  }
  return {
    http: {
      routers,
      services: {
        [ON_DEMAND_UPSTREAM_SERVICE_NAME]: {
          loadBalancer: { servers: [{ url: input.upstreamUrl }], passHostHeader: true },
        },
      },
    },
    tls: { certificates: hosts.map((host) => host.certificate) },
  };
}
