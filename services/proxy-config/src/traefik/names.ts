import { createHash } from 'node:crypto';

/**
 * The one place Traefik object names and proxy-config's file names come from. Every name an app owns starts
 * with `app-<slug>`, so names never collide across the per-app files Traefik merges from the directory.
 */

/** The kinds of router an app file may hold; see render-app.ts for what each one routes. */
export type AppRouterKind =
  | 'https'
  | 'http'
  | 'to-https'
  | 'redirect-apex-https'
  | 'redirect-apex-http'
  | 'redirect-www-https'
  | 'redirect-www-http';

/** The kinds of middleware an app file may hold (HTTP→HTTPS is shared: REDIRECT_TO_HTTPS_MIDDLEWARE). */
export type AppMiddlewareKind = 'redirect-apex' | 'redirect-www';

const SLUG = /^[a-z0-9][a-z0-9-]*$/;

/** Throws unless `slug` is safe inside Traefik names and file names (no `@`, `.`, `/` or upper case). */
export function assertAppSlug(slug: string): void {
  if (!SLUG.test(slug)) {
    throw new TypeError(
      `app slug '${slug}' must be lower-case letters, digits and '-', starting with a letter or digit`,
    );
  }
}

export function appServiceName(slug: string): string {
  assertAppSlug(slug);
  return `app-${slug}`;
}

export function appRouterName(slug: string, kind: AppRouterKind): string {
  assertAppSlug(slug);
  return `app-${slug}-${kind}`;
}

export function appMiddlewareName(slug: string, kind: AppMiddlewareKind): string {
  assertAppSlug(slug);
  return `app-${slug}-${kind}`;
}

/** An app's TCP router for one public port, and the service it forwards to (same name, other namespace). */
export function appTcpRouterName(slug: string, publicPort: number): string {
  assertAppSlug(slug);
  if (!Number.isInteger(publicPort) || publicPort < 1 || publicPort > 65535) {
    throw new RangeError(`${publicPort} is not a TCP port`);
  }
  return `app-${slug}-tcp-${publicPort}`;
}

/** The dynamic-config file holding one app's routers, services, middlewares and certificates. */
export function appFileName(slug: string): string {
  assertAppSlug(slug);
  return `app-${slug}.yml`;
}

/** App files proxy-config owns in the dynamic directory (for orphan removal). The core file does not match. */
export const APP_FILE_PATTERN = /^app-[a-z0-9][a-z0-9-]*\.yml$/;

/** The file with the challenge route, default certificate and TLS options. */
export const CORE_FILE_NAME = 'gatehouse-core.yml';

/** Router for ACME HTTP-01 challenges on port 80, and the service pointing at cert-issuer's responder. */
export const ACME_HTTP01_ROUTER_NAME = 'gatehouse-acme-http01';
export const ACME_HTTP01_SERVICE_NAME = 'gatehouse-http01';

/** The HTTP→HTTPS redirect, defined once in the core file. */
export const REDIRECT_TO_HTTPS_MIDDLEWARE_NAME = 'gatehouse-redirect-to-https';

/** How an app file names it: Traefik qualifies names from the file provider with `@file` across files. */
export const REDIRECT_TO_HTTPS_MIDDLEWARE_REF = `${REDIRECT_TO_HTTPS_MIDDLEWARE_NAME}@file`;

/** Hex digits of SHA-256 kept in a PEM file name: 128 bits, no collision among any realistic number of files. */
const PEM_HASH_LENGTH = 32;

/**
 * Content-addressed names for a certificate chain and its key: `<sha256 prefix>.crt` / `.key`, each hashed
 * from its own bytes. A renewed certificate gets a new name, so the YAML that references it changes and
 * Traefik (which watches the YAML, not the PEM files) reloads.
 */
export function pemFileNames(certPem: string, keyPem: string): { certFile: string; keyFile: string } {
  return { certFile: `${contentHash(certPem)}.crt`, keyFile: `${contentHash(keyPem)}.key` };
}

/** PEM files proxy-config owns in the certificate directory (for orphan removal). */
export const PEM_FILE_PATTERN = new RegExp(`^[0-9a-f]{${PEM_HASH_LENGTH}}\\.(crt|key)$`);

function contentHash(content: string): string {
  return createHash('sha256').update(content).digest('hex').slice(0, PEM_HASH_LENGTH);
}

/** The on-demand TLS catch-all (a TCP router in the core file) and the terminator service it passes to. */
export const ON_DEMAND_TLS_ROUTER_NAME = 'gatehouse-on-demand-tls';
export const ON_DEMAND_TLS_SERVICE_NAME = 'gatehouse-on-demand-terminator';

/** The file with a normal HTTPS router and certificate per issued on-demand host, and their shared upstream. */
export const ON_DEMAND_FILE_NAME = 'gatehouse-on-demand.yml';
export const ON_DEMAND_UPSTREAM_SERVICE_NAME = 'gatehouse-on-demand-upstream';

/** An on-demand host's router: hashed, since a host name's dots do not belong in Traefik names. */
export function onDemandRouterName(hostname: string): string {
  return `gatehouse-on-demand-${contentHash(hostname).slice(0, 16)}`;
}
