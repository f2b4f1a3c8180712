import { ConfigError, type HostPort, hostPort, duration as milliseconds } from '@gatehouse/config';
import { z } from 'zod';

/**
 * On-demand TLS variables (see the README's "On-demand TLS" section). The terminator is off unless
 * ON_DEMAND_TLS_LISTEN is set; then ON_DEMAND_ASK_URL and ON_DEMAND_UPSTREAM are mandatory (checked by
 * `onDemandSettings`, since a field schema cannot see its neighbours).
 */
export const onDemandConfigShape = {
  /** host:port of the on-demand TLS terminator Traefik passes unknown names to (TLS passthrough); unset = off. */
  ON_DEMAND_TLS_LISTEN: hostPort.optional(),
  /**
   * The operator's permission endpoint: `GET <url>?domain=<name>`; only a 2xx answer lets a name get a
   * certificate. Mandatory with ON_DEMAND_TLS_LISTEN: without it anyone pointing DNS at this server could make
   * it order certificates for any name.
   */
  ON_DEMAND_ASK_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** host:port the terminator forwards decrypted connections to (the one backend on-demand sites share). */
  ON_DEMAND_UPSTREAM: hostPort.optional(),
  /** How long a first handshake is held while the name is asked for and its certificate issued. */
  ON_DEMAND_HANDSHAKE_TIMEOUT: milliseconds.prefault('30s'),
  /** How long the ask URL may take to answer; no answer in time denies (not cached). */
  ON_DEMAND_ASK_TIMEOUT: milliseconds.prefault('5s'),
  /** How long a denied name is refused without asking again (per replica, in memory). */
  ON_DEMAND_DENY_TTL: milliseconds.prefault('10m'),
  /** Per-name rate limit: at most one ask per name per this interval (per replica). */
  ON_DEMAND_ASK_INTERVAL: milliseconds.prefault('1m'),
  /** Global rate limit: new on-demand certificates per hour across all replicas (counted in Postgres). */
  ON_DEMAND_MAX_PER_HOUR: z.coerce.number().int().min(1).max(100_000).default(20),
};

export type OnDemandConfig = z.output<z.ZodObject<typeof onDemandConfigShape>>;

export interface OnDemandSettings {
  listen: HostPort;
  askUrl: URL;
  upstream: HostPort;
  handshakeTimeoutMs: number;
  askTimeoutMs: number;
  limits: OnDemandLimits;
}

/** The rate limits, as data. Names that fail them are refused at the handshake without asking or ordering. */
export interface OnDemandLimits {
  /** A denied name is not asked about again for this long (the ask endpoint is not hammered by scanners). */
  denyTtlMs: number;
  /** One ask per name per this interval: a name whose issuance failed is not re-asked on every retry. */
  askIntervalMs: number;
  /** New on-demand certificates per rolling hour, all replicas together: caps what a DNS flood can order. */
  maxNewPerHour: number;
}

/**
 * The terminator's settings, or undefined when it is off. Throws a ConfigError (exit 78 in main) when the
 * listener is set without the ask URL or the upstream: the feature refuses to start rather than issue for
 * any name.
 */
export function onDemandSettings(config: OnDemandConfig): OnDemandSettings | undefined {
  if (!config.ON_DEMAND_TLS_LISTEN) return undefined;
  const issues = [];
  if (!config.ON_DEMAND_ASK_URL) {
    issues.push({
      variable: 'ON_DEMAND_ASK_URL',
      message:
        'required when ON_DEMAND_TLS_LISTEN is set: on-demand TLS only issues for names this URL allows (GET <url>?domain=<name> answering 2xx)',
    });
  }
  if (!config.ON_DEMAND_UPSTREAM) {
    issues.push({
      variable: 'ON_DEMAND_UPSTREAM',
      message: 'required when ON_DEMAND_TLS_LISTEN is set: host:port the decrypted connections go to',
    });
  }
  if (!config.ON_DEMAND_ASK_URL || !config.ON_DEMAND_UPSTREAM) throw new ConfigError(issues);
  return {
    listen: config.ON_DEMAND_TLS_LISTEN,
    askUrl: new URL(config.ON_DEMAND_ASK_URL),
    upstream: config.ON_DEMAND_UPSTREAM,
    handshakeTimeoutMs: config.ON_DEMAND_HANDSHAKE_TIMEOUT,
    askTimeoutMs: config.ON_DEMAND_ASK_TIMEOUT,
    limits: {
      denyTtlMs: config.ON_DEMAND_DENY_TTL,
      askIntervalMs: config.ON_DEMAND_ASK_INTERVAL,
      maxNewPerHour: config.ON_DEMAND_MAX_PER_HOUR,
    },
  };
}
