import { duration, key256 } from '@gatehouse/config';
import { z } from 'zod';

/** deployer's own variables (see the README's configuration table). */
export const deployerConfigShape = {
  /** Opens the apps' env, sealed by the api (32 bytes, base64 or hex; or `_FILE`); the api's key. */
  GATEHOUSE_MASTER_KEY: key256,
  /** Docker engine: unix:///var/run/docker.sock, or tcp://host:port. */
  DOCKER_HOST: z
    .string()
    .regex(/^(unix|tcp|http|https):\/\/.+/, 'expected unix:///path/to/docker.sock or tcp://host:port')
    .default('unix:///var/run/docker.sock'),
  /**
   * Docker network app containers join. Production uses a bridge network shared with Traefik
   * (`gatehouse-apps`, created by compose); tests use `host`, where containers listen on 127.0.0.1.
   */
  DOCKER_NETWORK: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected a Docker network name such as gatehouse-apps or host')
    .default('gatehouse-apps'),
  /**
   * Name of this Gatehouse installation, put on every container as `gatehouse.stack`. Deployer only
   * sees (and reconciles, and removes) its own stack's containers, so two stacks, or parallel test
   * runs, can share one Docker engine.
   */
  GATEHOUSE_STACK: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, dot, dash and underscore only')
    .default('gatehouse'),
  /**
   * Address the proxy reaches app containers at, sent in `deployments.started`. Unset: `127.0.0.1`
   * on the `host` network, otherwise the container's name (Docker DNS on the shared network).
   */
  UPSTREAM_HOST: z.string().min(1).optional(),
  /**
   * Traefik's container (name or id). Apps created with `network: isolated` get a network of their own, and
   * Traefik is joined to it so it can reach them; unset, isolated apps are reachable only if Traefik is joined
   * by other means.
   */
  TRAEFIK_CONTAINER: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected a container name such as gatehouse-traefik-1')
    .optional(),
  /**
   * How many app events (container starts) one deployer handles at once. A start mostly waits on dockerd and
   * on the container's first answer; each one in flight holds a pooled Postgres connection (10 per process).
   */
  DEPLOY_CONCURRENCY: z.coerce
    .number()
    .int('expected a whole number')
    .min(1, 'expected at least 1')
    .max(8, 'expected at most 8 (each start in flight holds one of the 10 pooled Postgres connections)')
    .default(8),
  /** How long a new container has to accept TCP connections on its port before it counts as unhealthy. */
  DEPLOY_READY_TIMEOUT: duration.prefault('30s'),
  /** `missing`: pull an image that is not present (bounded by IMAGE_PULL_TIMEOUT); `never`: fail at once. */
  IMAGE_PULL: z.enum(['missing', 'never']).default('missing'),
  /** Upper bound on one image pull. */
  IMAGE_PULL_TIMEOUT: duration.prefault('5m'),
  /**
   * Image of the TCP proxies: one Traefik per exposed app port (the version compose runs for the main Traefik).
   * Its entrypoint must take Traefik's flags as arguments.
   */
  TCP_PROXY_IMAGE: z.string().min(1).default('traefik:v3.5.3'),
  /** proxy-config's TRAEFIK_DYNAMIC_DIR as Docker mounts it into a TCP proxy: a volume name or a host path. */
  TCP_PROXY_DYNAMIC_DIR: z
    .string()
    .regex(/^(\/.*|[A-Za-z0-9][A-Za-z0-9_.-]*)$/, 'expected a Docker volume name or an absolute host path')
    .default('gatehouse_traefik-dynamic'),
  /** proxy-config's TRAEFIK_CERTS_DIR as Docker mounts it into a TCP proxy: a volume name or a host path. */
  TCP_PROXY_CERTS_DIR: z
    .string()
    .regex(/^(\/.*|[A-Za-z0-9][A-Za-z0-9_.-]*)$/, 'expected a Docker volume name or an absolute host path')
    .default('gatehouse_traefik-certs'),
  /** Where a TCP proxy sees the certificates: the directory the dynamic files name (Traefik's view of them). */
  TCP_PROXY_CERTS_PATH: z
    .string()
    .regex(/^\/[^:]*$/, 'expected an absolute path without a colon, such as /etc/traefik/certs')
    .default('/etc/traefik/certs'),
  /** How often the full reconcile (Postgres desired state vs Docker) runs besides start and Docker events. */
  RECONCILE_INTERVAL: duration.prefault('60s'),
};
