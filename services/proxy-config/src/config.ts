import { duration, key256 } from '@gatehouse/config';
import { z } from 'zod';

/** host:port as Traefik writes a TCP server address (kept as text: it goes into the YAML as it is). */
const hostPortString = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, for example cert-issuer:8443');

/** proxy-config's own variables (see the README's configuration table). */
export const proxyConfigShape = {
  /** Directory Traefik's file provider watches; proxy-config owns `gatehouse-core.yml` and `app-*.yml` in it. */
  TRAEFIK_DYNAMIC_DIR: z.string().min(1).default('.gatehouse-dev/traefik/dynamic'),
  /** Directory for certificate and key PEM files (keys mode 0600). */
  TRAEFIK_CERTS_DIR: z.string().min(1).default('.gatehouse-dev/traefik/certs'),
  /** TRAEFIK_CERTS_DIR as Traefik's container sees it, when mounted at another path. */
  TRAEFIK_CERTS_DIR_IN_TRAEFIK: z.string().min(1).optional(),
  /** cert-issuer's HTTP-01 responder as Traefik reaches it. */
  HTTP01_UPSTREAM_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8081'),
  /**
   * cert-issuer's on-demand TLS terminator as Traefik reaches it (its ON_DEMAND_TLS_LISTEN), host:port. When set,
   * the core file routes TLS connections for names no app router has to it (a `HostSNI(*)` passthrough).
   */
  ON_DEMAND_TLS_UPSTREAM: hostPortString.optional(),
  /**
   * The backend on-demand hosts are served from once issued (the HTTP form of cert-issuer's ON_DEMAND_UPSTREAM).
   * When set, each issued on-demand host gets a normal Traefik router and certificate in `gatehouse-on-demand.yml`.
   */
  ON_DEMAND_UPSTREAM_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Decrypts certificate keys to write them for Traefik (32 bytes, base64 or hex; or `_FILE`). */
  GATEHOUSE_MASTER_KEY: key256,
  /** Name of this edge node; each node has its own durable consumers. */
  EDGE_NODE: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, dash and underscore only')
    .default('edge-1'),
  /**
   * How often the whole directory is compared with Postgres: orphans removed, lost files restored, rows
   * changed without an event (the operator's fallback certificate setting) applied. Changes are applied per
   * app as their events arrive; this pass is the safety net. Files are compared by the hashes of what this
   * process wrote, so a hand-edited file is restored only at the next start.
   */
  PROXY_FULL_SYNC_INTERVAL: duration.prefault('15m'),
  /** How soon a full pass follows a burst that failed (Postgres unreachable, a directory not writable). */
  PROXY_FULL_SYNC_RETRY: duration.prefault('5s'),
};
