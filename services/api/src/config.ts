import { execDirectory, hostPort, key256, outboundAllowlist } from '@gatehouse/config';
import { parseRateLimitOverrides, type RateLimitOverrides } from '@gatehouse/rate-limits';
import { z } from 'zod';

/** The api service's own variables (see the README's configuration table). */
export const apiConfigShape = {
  /** host:port the HTTP API listens on. */
  API_LISTEN: hostPort.prefault('127.0.0.1:8080'),
  /** Bearer token every `/v1` request must carry; at least 32 characters (`openssl rand -base64 32`). */
  GATEHOUSE_API_TOKEN: z
    .string()
    .min(32, 'expected at least 32 characters; create one with `openssl rand -base64 32`'),
  /** Seals the private keys of uploaded certificates (32 bytes, base64 or hex; or `_FILE`); the same key as cert-issuer's. */
  GATEHOUSE_MASTER_KEY: key256,
  /**
   * The same `ACME_RATE_LIMITS` JSON cert-issuer runs with (optional), so a manual renewal's 429 and
   * `GET /v1/rate-limits` use the budgets cert-issuer reserves from; unset: the CA's published limits.
   */
  ACME_RATE_LIMITS: z
    .string()
    .optional()
    .transform((value, ctx): RateLimitOverrides | undefined => {
      if (value === undefined || value.trim() === '') return undefined;
      try {
        return parseRateLimitOverrides(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** Exec DNS providers may name programs only inside this directory; unset refuses them (as cert-issuer's). */
  DNS_EXEC_DIR: execDirectory.optional(),
  /**
   * Public TCP ports apps may not expose (comma-separated), besides Traefik's 80 and 443 and the api's own port,
   * which are always refused: the other ports the host publishes (compose: Jaeger's and Mailpit's UIs, and
   * HTTP_PORT/HTTPS_PORT when Traefik was moved).
   */
  TCP_RESERVED_PORTS: z
    .string()
    .default('8025,16686')
    .transform((value, ctx) => {
      const ports: number[] = [];
      for (const part of value.split(',').map((item) => item.trim())) {
        if (part === '') continue;
        const port = Number(part);
        if (!/^\d{1,5}$/.test(part) || port < 1 || port > 65535) {
          ctx.addIssue({
            code: 'custom',
            message: `${part} is not a port (1-65535); expected a list such as 8025,16686`,
          });
          return z.NEVER;
        }
        ports.push(port);
      }
      return ports;
    }),
  /** Internal hosts/networks webhook DNS providers may point at (as cert-issuer's); others are refused. */
  DNS_WEBHOOK_ALLOW: outboundAllowlist.optional(),
};
