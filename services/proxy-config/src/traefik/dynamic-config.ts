/**
 * The subset of Traefik v3's file-provider dynamic configuration proxy-config emits. Field names are Traefik's;
 * validate.ts checks the rendered object against the real schema before anything is written.
 */

export interface TraefikRouter {
  entryPoints: string[];
  rule: string;
  service: string;
  middlewares?: string[];
  /** Non-negative: the v3 schema rejects negative priorities. Omitted = Traefik's rule-length default. */
  priority?: number;
  /** Present (even empty) = the router terminates TLS with a certificate from the store matching SNI. */
  tls?: Record<string, never>;
}

export interface TraefikLoadBalancerService {
  loadBalancer: { servers: Array<{ url: string }>; passHostHeader?: boolean };
}

export type TraefikMiddleware =
  | { redirectScheme: { scheme: string; permanent: boolean } }
  | { redirectRegex: { regex: string; replacement: string; permanent: boolean } };

export interface TraefikCertificateFiles {
  /** Path as Traefik sees it. */
  certFile: string;
  /** Path as Traefik sees it. */
  keyFile: string;
}

/**
 * A TCP router: the on-demand TLS catch-all (TLS passthrough to cert-issuer) and the apps' TCP proxies (plain,
 * or TLS terminated with a certificate from the store matching SNI: `tls: {}`).
 */
export interface TraefikTcpRouter {
  entryPoints: string[];
  rule: string;
  service: string;
  /** Orders TCP routers among themselves only; non-negative in the v3 schema. */
  priority?: number;
  tls?: { passthrough?: boolean };
}

export interface TraefikTcpLoadBalancerService {
  loadBalancer: { servers: Array<{ address: string }> };
}

export interface TraefikDynamicConfig {
  http?: {
    routers?: Record<string, TraefikRouter>;
    services?: Record<string, TraefikLoadBalancerService>;
    middlewares?: Record<string, TraefikMiddleware>;
  };
  tcp?: {
    routers?: Record<string, TraefikTcpRouter>;
    services?: Record<string, TraefikTcpLoadBalancerService>;
  };
  tls?: {
    certificates?: TraefikCertificateFiles[];
    stores?: Record<string, { defaultCertificate: TraefikCertificateFiles }>;
    options?: Record<string, { minVersion: string }>;
  };
}
