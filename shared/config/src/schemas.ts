import { z } from 'zod';

/** `host:port` with a port in 1–65535; IPv6 hosts in brackets (`[::1]:80`). */
export const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, for example 127.0.0.1:8080')
  .transform((value, ctx) => {
    const separator = value.lastIndexOf(':');
    const host = value.slice(0, separator).replace(/^\[|\]$/g, '');
    const port = Number(value.slice(separator + 1));
    if (port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: 'port must be between 1 and 65535' });
      return z.NEVER;
    }
    return { host, port };
  });
export type HostPort = z.output<typeof hostPort>;

const durationUnits: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as `500ms`, `30s`, `2m`, `1h` or `1d`, in milliseconds. */
export const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'expected a duration such as 500ms, 30s, 2m, 1h or 1d')
  .transform((value) => {
    const [, amount, unit] = /^(\d+)(ms|s|m|h|d)$/.exec(value)!;
    return Number(amount) * durationUnits[unit!]!;
  });

/** Comma-separated list of non-empty items, each parsed by `item`. */
export function commaList<Item extends z.ZodType<unknown, string>>(item: Item) {
  return z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== ''),
    )
    .pipe(z.array(item).min(1, 'expected at least one comma-separated value'));
}

export const postgresUrl = z
  .string()
  .regex(
    /^postgres(ql)?:\/\/.+/,
    'expected a postgres:// URL, for example postgres://user:pass@host:5432/db',
  );

export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/**
 * A 256-bit key given as base64 (44 characters) or hex (64 characters), for example the output of
 * `openssl rand -base64 32`.
 */
export const key256 = z.string().transform((value, ctx) => {
  const trimmed = value.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : /^[A-Za-z0-9+/]{43}=?$/.test(trimmed)
      ? Buffer.from(trimmed, 'base64')
      : undefined;
  if (bytes?.length !== 32) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected 32 random bytes as base64 or hex; create one with `openssl rand -base64 32`',
    });
    return z.NEVER;
  }
  return bytes;
});

/** Settings every service reads. Services extend this object with their own variables. */
export const serviceEnvShape = {
  /** Postgres, the source of truth. */
  DATABASE_URL: postgresUrl.default('postgres://postgres:postgres@127.0.0.1:5432/gatehouse'),
  /**
   * The password of DATABASE_URL's user, replacing the one in the URL; give it as DATABASE_PASSWORD_FILE (a
   * secret file) so the URL in the environment holds none (compose: each service's own role).
   */
  DATABASE_PASSWORD: z.string().min(1).optional(),
  /** NATS servers with JetStream, comma-separated. */
  NATS_URL: commaList(
    z.string().regex(/^(nats|tls|ws|wss):\/\/.+|^[^:/]+:\d+$/, 'expected nats://host:port'),
  ).default(['nats://127.0.0.1:4222']),
  /**
   * This service's NATS user (the server's `authorization` users, one per service with subject permissions:
   * see shared/messaging/src/nats-permissions.ts). Unset: no credentials (a development server without users).
   */
  NATS_USER: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'expected a user name such as deployer')
    .optional(),
  /** NATS_USER's password; give it as NATS_PASSWORD_FILE (a secret file) in production. */
  NATS_PASSWORD: z.string().min(1).optional(),
  /** pino level. */
  LOG_LEVEL: logLevel.default('info'),
  /** OTLP/HTTP endpoint (e.g. http://jaeger:4318); tracing export is off when unset. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
} as const;
