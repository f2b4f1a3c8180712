import type { TraefikCertificateFiles, TraefikDynamicConfig } from './dynamic-config.ts';
import {
  ACME_HTTP01_ROUTER_NAME,
  ACME_HTTP01_SERVICE_NAME,
  ON_DEMAND_TLS_ROUTER_NAME,
  ON_DEMAND_TLS_SERVICE_NAME,
  REDIRECT_TO_HTTPS_MIDDLEWARE_NAME,
} from './names.ts';
import { WEB_ENTRYPOINT, WEBSECURE_ENTRYPOINT } from './render-app.ts';

/**
 * Priority of the ACME HTTP-01 router: above every app router on `web` (those keep Traefik's default, the
 * rule's length, a few hundred at most), so challenges for any host reach cert-issuer instead of an app's
 * HTTP→HTTPS redirect. Traefik v3 requires priorities below MaxInt32 - 1000 on 32-bit builds (its own
 * internal routers sit above that); this is the largest value that satisfies it on every platform.
 */
export const ACME_HTTP01_PRIORITY = 2_147_483_647 - 1001;

/**
 * Priority of the on-demand TLS catch-all, a TCP router `HostSNI(*)` with TLS passthrough. It is the lowest the
 * v3 schema accepts (it rejects negative priorities; 0 means "the rule's length"), and it orders TCP routers
 * only. What keeps app traffic away from it is Traefik's own order on an entry point: an HTTPS router with a
 * specific host (every app router) wins over a TCP router whose rule is `HostSNI(*)`, and the catch-all gets
 * only names no HTTPS router has (traefik pkg/server/router/tcp/router.go, ServeTCP).
 */
export const ON_DEMAND_TLS_PRIORITY = 1;

export interface CoreProxyInput {
  /** cert-issuer's HTTP-01 responder as Traefik reaches it, e.g. `http://cert-issuer:8402`. */
  http01ResponderUrl: string;
  /**
   * cert-issuer's on-demand TLS terminator as Traefik reaches it (`host:port`), when on-demand TLS is on: the
   * core file then routes every TLS connection no app router claims to it (see ON_DEMAND_TLS_PRIORITY).
   */
  onDemandTerminator?: string;
  /** Self-signed fallback served to clients without SNI or with an unknown name. Paths as Traefik sees them. */
  defaultCertificate: TraefikCertificateFiles;
}

/**
 * Renders the core file: the challenge route, the HTTP→HTTPS redirect middleware the app files reference,
 * the default certificate and TLS options for every router.
 */
export function renderCoreConfig(input: CoreProxyInput): TraefikDynamicConfig {
  const url = new URL(input.http01ResponderUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`the HTTP-01 responder URL must be http(s), not ${url.protocol}`);
  }
  const tcp = input.onDemandTerminator
    ? {
        tcp: {
          routers: {
            [ON_DEMAND_TLS_ROUTER_NAME]: {
              entryPoints: [WEBSECURE_ENTRYPOINT],
              rule: 'HostSNI(`*`)',
              priority: ON_DEMAND_TLS_PRIORITY,
              service: ON_DEMAND_TLS_SERVICE_NAME,
              tls: { passthrough: true },
            },
          },
          services: {
            [ON_DEMAND_TLS_SERVICE_NAME]: {
              loadBalancer: { servers: [{ address: input.onDemandTerminator }] },
            },
          },
        },
      }
    : {};
  return {
    ...tcp,
    http: {
      routers: {
        [ACME_HTTP01_ROUTER_NAME]: {
          entryPoints: [WEB_ENTRYPOINT],
          rule: 'PathPrefix(`/.well-known/acme-challenge/`)',
          priority: ACME_HTTP01_PRIORITY,
          service: ACME_HTTP01_SERVICE_NAME,
        },
      },
      middlewares: {
        [REDIRECT_TO_HTTPS_MIDDLEWARE_NAME]: { redirectScheme: { scheme: 'https', permanent: true } },
      },
      services: {
        // The responder looks tokens up by path and checks the Host header, so the original host is kept.
        [ACME_HTTP01_SERVICE_NAME]: {
          loadBalancer: { servers: [{ url: input.http01ResponderUrl }], passHostHeader: true },
        },
      },
    },
    tls: {
      stores: {
        default: {
          defaultCertificate: {
            certFile: input.defaultCertificate.certFile,
            keyFile: input.defaultCertificate.keyFile,
          },
        },
      },
      // `default` applies to every TLS router that names no options.
      options: { default: { minVersion: 'VersionTLS12' } },
    },
  };
}
