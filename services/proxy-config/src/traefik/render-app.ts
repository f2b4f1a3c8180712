import { tcpProxyEntryPoint } from '@gatehouse/events';
import { assertNever } from '@gatehouse/runtime';
import type {
  TraefikCertificateFiles,
  TraefikDynamicConfig,
  TraefikMiddleware,
  TraefikRouter,
  TraefikTcpLoadBalancerService,
  TraefikTcpRouter,
} from './dynamic-config.ts';
import type { AppRouterKind } from './names.ts';
import {
  appMiddlewareName,
  appRouterName,
  appServiceName,
  appTcpRouterName,
  assertAppSlug,
  REDIRECT_TO_HTTPS_MIDDLEWARE_REF,
} from './names.ts';

/** Entry points Traefik's static configuration defines: `web` on :80, `websecure` on :443. */
export const WEB_ENTRYPOINT = 'web';
export const WEBSECURE_ENTRYPOINT = 'websecure';

export type WwwMode = 'none' | 'redirect-to-apex' | 'redirect-to-www' | 'both';

export interface AppDomain {
  /** Lower-case ASCII (punycode for IDNs); an apex, a `www.` name or a `*.` wildcard. */
  hostname: string;
  https: boolean;
  www: WwwMode;
}

/** What one app file is rendered from. */
export interface AppProxyInput {
  slug: string;
  /** Where the app's container answers plain HTTP. */
  upstream: { host: string; port: number };
  domains: AppDomain[];
  /** PEM paths as Traefik sees them; only the current version of each certificate (never old beside new). */
  certificates: TraefikCertificateFiles[];
  /** TCP proxies: one router per public port, on that port's entry point (a Traefik instance of its own). */
  tcp?: AppTcpRoute[];
}

export interface AppTcpRoute {
  publicPort: number;
  /** The container's port; null: the app's HTTP upstream port. */
  targetPort: number | null;
  /** Terminate TLS with the app's certificate (from this file's `tls.certificates`), routed by SNI. */
  tls: boolean;
}

/**
 * Renders one app's Traefik dynamic configuration. Pure and deterministic: hosts and certificates are sorted,
 * so the same app gives the same object whatever order its domains arrive in.
 *
 * Routers (each present only when it has hosts):
 * - `https`: `websecure`, TLS, the served https hosts → the app's service.
 * - `http`: `web`, the served http-only hosts → the app's service.
 * - `to-https`: `web`, every https host (redirect sources too) → the core file's permanent redirect to https.
 *   The ACME challenge router in the core file outranks it, so challenges still reach cert-issuer on port 80.
 * - `redirect-apex-*` / `redirect-www-*`: the www redirect sources, on `websecure` with TLS for https domains
 *   (so the certificate must cover them) and on `web` for http domains, → permanent redirect.
 *
 * A host some domain serves is never also a redirect source, so two domains' modes cannot make a loop.
 * Routers carry no explicit priority: their host sets are disjoint, and the v3 schema rejects negatives.
 */
export function renderAppConfig(app: AppProxyInput): TraefikDynamicConfig {
  assertAppSlug(app.slug);
  const service = appServiceName(app.slug);
  const hosts = classifyHosts(app.domains);

  const routers: Record<string, TraefikRouter> = {};
  const middlewares: Record<string, TraefikMiddleware> = {};
  const addRouter = (
    kind: AppRouterKind,
    hostnames: string[],
    options: { https: boolean; middleware?: string },
  ): void => {
    if (hostnames.length === 0) return;
    const router: TraefikRouter = {
      entryPoints: [options.https ? WEBSECURE_ENTRYPOINT : WEB_ENTRYPOINT],
      rule: hostRule(hostnames),
      service,
    };
    if (options.middleware !== undefined) router.middlewares = [options.middleware];
    if (options.https) router.tls = {};
    routers[appRouterName(app.slug, kind)] = router;
  };

  addRouter('https', hosts.served.filter(isHttps(hosts)), { https: true });
  addRouter('http', hosts.served.filter(isHttpOnly(hosts)), { https: false });

  // The redirect itself is defined once in the core file; each app keeps its own router naming exactly its
  // https hosts. A single catch-all redirect in the core file would also redirect the hosts of `http://`
  // domains and unknown hosts, and could only exclude them by priority tricks across files; a router per app
  // is as cheap for Traefik and keeps "which hosts redirect" beside "which hosts are served". The core's
  // challenge router outranks it, so /.well-known/acme-challenge/ still reaches cert-issuer on port 80.
  const allHttps = [...hosts.served, ...hosts.toApex, ...hosts.toWww].filter(isHttps(hosts)).sort();
  addRouter('to-https', allHttps, { https: false, middleware: REDIRECT_TO_HTTPS_MIDDLEWARE_REF });
  if (hosts.toApex.length > 0) {
    const name = appMiddlewareName(app.slug, 'redirect-apex');
    // Only www. hosts reach this router, so stripping the first label is always right.
    middlewares[name] = {
      redirectRegex: {
        regex: '^(https?)://www\\.([^/]+)(.*)$',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Go regexp expansion (${n}), not a JS template
        replacement: '${1}://${2}${3}',
        permanent: true,
      },
    };
    addRouter('redirect-apex-https', hosts.toApex.filter(isHttps(hosts)), { https: true, middleware: name });
    addRouter('redirect-apex-http', hosts.toApex.filter(isHttpOnly(hosts)), {
      https: false,
      middleware: name,
    });
  }
  if (hosts.toWww.length > 0) {
    const name = appMiddlewareName(app.slug, 'redirect-www');
    // Only apex hosts reach this router, so prefixing is always right.
    middlewares[name] = {
      redirectRegex: {
        regex: '^(https?)://([^/]+)(.*)$',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Go regexp expansion (${n}), not a JS template
        replacement: '${1}://www.${2}${3}',
        permanent: true,
      },
    };
    addRouter('redirect-www-https', hosts.toWww.filter(isHttps(hosts)), { https: true, middleware: name });
    addRouter('redirect-www-http', hosts.toWww.filter(isHttpOnly(hosts)), { https: false, middleware: name });
  }

  const config: TraefikDynamicConfig = {};
  // An app with only TCP ports has no HTTP routers, and then no HTTP service either.
  if (app.domains.length > 0) {
    config.http = {
      routers,
      services: { [service]: { loadBalancer: { servers: [{ url: upstreamUrl(app.upstream) }] } } },
    };
    if (Object.keys(middlewares).length > 0) config.http.middlewares = middlewares;
  }
  const tcp = renderTcpRoutes(app, hosts);
  if (tcp) config.tcp = tcp;
  if (app.certificates.length > 0) {
    config.tls = {
      certificates: [...app.certificates]
        .sort((a, b) => compare(a.certFile, b.certFile) || compare(a.keyFile, b.keyFile))
        .map(({ certFile, keyFile }) => ({ certFile, keyFile })),
    };
  }
  return config;
}

/**
 * One TCP router and service per public port, on the entry point the deployer gives that port's Traefik:
 * - plain: HostSNI of `*` (the only rule a non-TLS TCP router can have; the port alone selects the app);
 * - tls: the app's TLS host names as HostSNI, TLS terminated with the certificate from the store (the app's,
 *   listed in this file), so clients verify the app's name; the container gets plain TCP.
 * The service is the container's address as the HTTP service has it (the deployer's upstream host), on the
 * target port or the app's port.
 */
function renderTcpRoutes(
  app: AppProxyInput,
  hosts: ClassifiedHosts,
): TraefikDynamicConfig['tcp'] | undefined {
  if (!app.tcp || app.tcp.length === 0) return undefined;
  const routers: Record<string, TraefikTcpRouter> = {};
  const services: Record<string, TraefikTcpLoadBalancerService> = {};
  const tlsNames = [...hosts.served, ...hosts.toApex, ...hosts.toWww].filter(isHttps(hosts)).sort();
  for (const route of [...app.tcp].sort((a, b) => a.publicPort - b.publicPort)) {
    const name = appTcpRouterName(app.slug, route.publicPort);
    if (route.tls && tlsNames.length === 0) {
      throw new TypeError(
        `TCP port ${route.publicPort} of app ${app.slug} terminates TLS but the app has no https domain to serve`,
      );
    }
    routers[name] = {
      entryPoints: [tcpProxyEntryPoint(route.publicPort)],
      rule: route.tls ? sniRule(tlsNames) : 'HostSNI(`*`)',
      service: name,
      ...(route.tls ? { tls: {} } : {}),
    };
    services[name] = {
      loadBalancer: {
        servers: [{ address: upstreamAddress(app.upstream.host, route.targetPort ?? app.upstream.port) }],
      },
    };
  }
  return { routers, services };
}

/** `HostSNI(`a`) || HostSNI(`b`)`; a wildcard `*.example.com` becomes a HostSNIRegexp for one extra label. */
function sniRule(hostnames: readonly string[]): string {
  return hostnames
    .map((name) =>
      name.startsWith('*.')
        ? `HostSNIRegexp(\`^[a-z0-9-]+\\.${name.slice(2).replaceAll('.', '\\.')}$\`)`
        : `HostSNI(\`${name}\`)`,
    )
    .join(' || ');
}

/**
 * The hosts an app answers on `websecure` (served hosts and redirect sources of its https domains), sorted:
 * the names its certificates must cover.
 */
export function tlsHostnames(domains: readonly AppDomain[]): string[] {
  const hosts = classifyHosts(domains);
  return [...hosts.served, ...hosts.toApex, ...hosts.toWww].filter(isHttps(hosts)).sort();
}

interface ClassifiedHosts {
  /** Sorted hosts routed to the app. */
  served: string[];
  /** Sorted `www.` hosts redirected to their apex. */
  toApex: string[];
  /** Sorted apex hosts redirected to their `www.` name. */
  toWww: string[];
  /** Hosts of any https domain (a host named by an https and an http domain is https). */
  https: Set<string>;
}

function classifyHosts(domains: readonly AppDomain[]): ClassifiedHosts {
  const served = new Set<string>();
  const toApex = new Set<string>();
  const toWww = new Set<string>();
  const https = new Set<string>();
  for (const domain of domains) {
    assertHostname(domain.hostname);
    const names: string[] = [domain.hostname];
    if (domain.www === 'none' || domain.hostname.startsWith('*.')) {
      served.add(domain.hostname);
    } else {
      const apex = domain.hostname.startsWith('www.') ? domain.hostname.slice(4) : domain.hostname;
      const www = `www.${apex}`;
      names.push(apex, www);
      switch (domain.www) {
        case 'redirect-to-apex':
          served.add(apex);
          toApex.add(www);
          break;
        case 'redirect-to-www':
          served.add(www);
          toWww.add(apex);
          break;
        case 'both':
          served.add(apex);
          served.add(www);
          break;
        default:
          assertNever(domain.www, 'www mode');
      }
    }
    if (domain.https) for (const name of names) https.add(name);
  }
  for (const name of served) {
    toApex.delete(name);
    toWww.delete(name);
  }
  return { served: [...served].sort(), toApex: [...toApex].sort(), toWww: [...toWww].sort(), https };
}

const isHttps = (hosts: ClassifiedHosts) => (name: string) => hosts.https.has(name);
const isHttpOnly = (hosts: ClassifiedHosts) => (name: string) => !hosts.https.has(name);

/** `Host(`a`) || Host(`b`)`; a wildcard `*.example.com` becomes a HostRegexp for one extra label. */
function hostRule(hostnames: readonly string[]): string {
  return hostnames
    .map((name) =>
      name.startsWith('*.')
        ? `HostRegexp(\`^[a-z0-9-]+\\.${name.slice(2).replaceAll('.', '\\.')}$\`)`
        : `Host(\`${name}\`)`,
    )
    .join(' || ');
}

const LABEL = '[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?';
const HOSTNAME = new RegExp(`^(\\*\\.)?${LABEL}(\\.${LABEL})*$`);

/** Rejects anything that could break out of a rule's backticks or a regex; the API only stores such names. */
export function assertHostname(hostname: string): void {
  if (hostname.length > 253 || !HOSTNAME.test(hostname)) {
    throw new TypeError(`'${hostname}' is not a lower-case ASCII host name`);
  }
}

function upstreamUrl(upstream: AppProxyInput['upstream']): string {
  return `http://${upstreamAddress(upstream.host, upstream.port)}`;
}

/** `host:port`, an IPv6 host in brackets. */
function upstreamAddress(hostname: string, port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`upstream port ${port} is not a TCP port`);
  }
  const host = hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
  return `${host}:${port}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
