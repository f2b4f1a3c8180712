import { execCommandReason, forbiddenHostReason, hostPort, type OutboundAllowlist } from '@gatehouse/config';
import { type DnsProviderKind, dnsProviderKinds } from '@gatehouse/db';
import { normalizeName } from '@gatehouse/pki';
import { z } from 'zod';

/**
 * What `POST /v1/dns-providers` accepts, per kind (DESIGN.md's API section). Each kind names which field is
 * the secret: it is sealed apart from the rest of the config and never shown in full again.
 */
/** `host:port` checked by the shared rule, stored as the operator wrote it (IPv6 in brackets). */
const server = hostPort.transform(({ host, port }) =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
);

const base64Secret = z
  .string()
  .min(16, 'expected the TSIG secret in base64 (tsig-keygen prints it)')
  .max(1024, 'is longer than 1024 characters')
  .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'expected base64, as in the `secret "…";` line of a BIND key file');

const configs = {
  rfc2136: z.strictObject({
    server: server.meta({ description: 'The primary server, host:port (IPv6 in brackets)' }),
    keyName: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[A-Za-z0-9._-]+\.?$/, 'expected a TSIG key name such as acme-key'),
    keyAlgorithm: z.enum(['hmac-sha256', 'hmac-sha512']),
    keySecret: base64Secret.meta({ description: 'Secret: stored sealed, never shown again' }),
  }),
  cloudflare: z.strictObject({
    apiToken: z
      .string()
      .min(20, 'expected a Cloudflare API token (Zone.DNS edit)')
      .max(256)
      .meta({ description: 'Secret: a token with Zone.DNS edit; stored sealed, never shown again' }),
    /** Skips the zone lookup when given. */
    zoneId: z
      .string()
      .regex(/^[0-9a-f]{32}$/, 'expected the 32-hex-digit zone id from the Cloudflare dashboard')
      .optional(),
  }),
  webhook: z.strictObject({
    url: z
      .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
      .max(2048, 'is longer than 2048 characters')
      .refine(
        (url) => !/[?#]/.test(url),
        'must not have a query or fragment: the action is appended to the path',
      )
      .refine((url) => {
        const parsed = URL.parse(url);
        return !parsed || (parsed.username === '' && parsed.password === '');
      }, 'must not carry credentials; put a secret in `token` (sent as a bearer token)'),
    /** Sent as `Authorization: Bearer <token>` when set. */
    token: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .meta({ description: 'Secret: sent as a bearer token; stored sealed, never shown again' }),
  }),
  exec: z.strictObject({
    command: z
      .string()
      .max(1024)
      .regex(/^\/\S+$/, 'expected an absolute path to an executable')
      .meta({ description: 'An executable inside the directory DNS_EXEC_DIR names' }),
  }),
} as const;

/** Which config field of each kind is secret. */
export const secretFieldOf: Record<DnsProviderKind, string | undefined> = {
  rfc2136: 'keySecret',
  cloudflare: 'apiToken',
  webhook: 'token',
  exec: undefined,
};

export interface DnsProviderInput {
  zone: string;
  kind: DnsProviderKind;
  /** Everything but the secret, stored in the clear. */
  config: Record<string, unknown>;
  secret: string | undefined;
}

export type ParsedInput =
  | { ok: true; input: DnsProviderInput }
  | { ok: false; errors: Array<{ field: string; message: string }> };

/**
 * What the operator allows registered providers to do; the cert-issuer enforces the same rules when it runs
 * them (its own DNS_EXEC_DIR and DNS_WEBHOOK_ALLOW), this only refuses early with a 400.
 */
export interface DnsProviderPolicy {
  /** `DNS_EXEC_DIR`; undefined refuses exec providers. */
  execDir?: string | undefined;
  /** `DNS_WEBHOOK_ALLOW`. */
  webhookAllow?: OutboundAllowlist | undefined;
}

/** The body's envelope; `config` is checked by the kind's own schema once the kind is known. */
const envelopeSchema = z.strictObject({
  zone: z.string().meta({ description: 'The DNS zone it answers for, e.g. example.com' }),
  kind: z.enum(dnsProviderKinds),
  config: z.record(z.string(), z.unknown()),
});

const requestOfKind = <Kind extends DnsProviderKind>(kind: Kind) =>
  envelopeSchema.extend({ kind: z.literal(kind), config: configs[kind] });

/** What the OpenAPI document shows: the envelope with each kind's config, from the same schemas. */
export const dnsProviderRequestSchema = z.discriminatedUnion('kind', [
  requestOfKind('rfc2136'),
  requestOfKind('cloudflare'),
  requestOfKind('webhook'),
  requestOfKind('exec'),
]);

export function parseDnsProviderInput(body: unknown, policy: DnsProviderPolicy = {}): ParsedInput {
  const errors: Array<{ field: string; message: string }> = [];
  const shape = envelopeSchema.safeParse(body);
  if (!shape.success) {
    for (const issue of shape.error.issues) {
      const field =
        issue.path.length > 0
          ? issue.path.join('.')
          : issue.code === 'unrecognized_keys'
            ? issue.keys.join(', ')
            : '(body)';
      errors.push({
        field,
        message: issue.code === 'unrecognized_keys' ? 'is not a known field' : issue.message,
      });
    }
    return { ok: false, errors };
  }
  const { kind } = shape.data;
  const zone = normalizeName(shape.data.zone.replace(/\.$/, ''));
  if (!zone.ok || zone.isIp || zone.name.startsWith('*.')) {
    errors.push({
      field: 'zone',
      message: `must be a DNS zone such as example.com${zone.ok ? '' : ` (${zone.reason})`}`,
    });
  }
  const config = configs[kind].safeParse(shape.data.config);
  if (!config.success) {
    for (const issue of config.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys)
          errors.push({ field: `config.${key}`, message: `is not a setting of a ${kind} provider` });
      } else {
        errors.push({ field: ['config', ...issue.path].join('.'), message: issue.message });
      }
    }
  }
  if (config.success) {
    const data = config.data as Record<string, unknown>;
    if (kind === 'exec') {
      const reason = execCommandReason(policy.execDir, String(data.command));
      if (reason) errors.push({ field: 'config.command', message: reason });
    }
    if (kind === 'webhook') {
      const url = new URL(String(data.url));
      const reason = forbiddenHostReason(policy.webhookAllow, url.hostname);
      if (reason)
        errors.push({
          field: 'config.url',
          message: `points at ${reason}; the operator can allow it with DNS_WEBHOOK_ALLOW`,
        });
    }
  }
  if (errors.length > 0 || !config.success || !zone.ok) return { ok: false, errors };
  const secretField = secretFieldOf[kind];
  const { [secretField ?? '']: secret, ...rest } = config.data as Record<string, unknown>;
  return {
    ok: true,
    input: {
      zone: zone.name,
      kind,
      config: secretField ? rest : (config.data as Record<string, unknown>),
      secret: secretField && typeof secret === 'string' ? secret : undefined,
    },
  };
}
