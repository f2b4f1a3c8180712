import {
  commaList,
  execDirectory,
  hostPort,
  key256,
  duration as milliseconds,
  outboundAllowlist,
} from '@gatehouse/config';
import { acmeProfilePattern } from '@gatehouse/events';
import { z } from 'zod';
import { parseChallengeAliases } from './challenges/challenge-record.ts';
import { parseLadder } from './issuance/retry-ladder.ts';
import { onDemandConfigShape } from './on-demand/on-demand-config.ts';

const duration = z.string().transform((value, ctx) => {
  try {
    return parseLadder(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const eabSchema = z.record(
  z.url(),
  z.object({
    keyId: z.string().min(1),
    hmacKey: z.string().regex(/^[A-Za-z0-9_-]+=*$/, 'expected base64url'),
  }),
);

/** cert-issuer's own variables (see the README's configuration table). */
export const certIssuerConfigShape = {
  /** host:port of the HTTP-01 responder Traefik sends `/.well-known/acme-challenge/` to. */
  HTTP01_LISTEN: hostPort.prefault('127.0.0.1:8081'),
  /** Encrypts ACME account and certificate keys at rest (32 bytes, base64 or hex; or `_FILE`). */
  GATEHOUSE_MASTER_KEY: key256,
  /** ACME directories in fallback order, comma-separated. */
  ACME_DIRECTORY_URL: commaList(z.url({ protocol: /^https?$/ })).prefault(
    'https://acme-staging-v02.api.letsencrypt.org/directory',
  ),
  /** A staging CA to prove a fix on after a failure, before production is tried again (as Caddy does). */
  ACME_STAGING_DIRECTORY_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Contact address for the ACME accounts. */
  ACME_EMAIL: z.email().optional(),
  /** PEM file with extra CAs to trust for the ACME server's HTTPS (a private or test CA). */
  ACME_CA_BUNDLE: z.string().min(1).optional(),
  /** External Account Binding per directory, JSON: {"<directory URL>": {"keyId": "…", "hmacKey": "…"}}. */
  ACME_EAB: z
    .string()
    .transform((value, ctx) => {
      try {
        return eabSchema.parse(JSON.parse(value));
      } catch {
        ctx.addIssue({
          code: 'custom',
          message: 'expected JSON {"<directory URL>": {"keyId": "…", "hmacKey": "…"}}',
        });
        return z.NEVER;
      }
    })
    .optional(),
  /** Issuer common name of the chain to prefer when a CA offers alternates. */
  ACME_PREFERRED_CHAIN: z.string().min(1).optional(),
  /**
   * Certificate profile to order (draft-ietf-acme-profiles; Let's Encrypt: `classic`, `tlsserver`, `shortlived`).
   * Sent only to CAs whose directory lists it in `meta.profiles`; a CA that answers `invalidProfile` gets the
   * order again without it. Unset: every CA's default profile.
   */
  ACME_PROFILE: z
    .string()
    .regex(acmeProfilePattern, 'a profile name such as tlsserver or shortlived')
    .optional(),
  /** Rate-limit overrides per directory, JSON (see shared/rate-limits/src/rules.ts). */
  ACME_RATE_LIMITS: z.string().optional(),
  /** Orders this replica works on at once. */
  ISSUANCE_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
  /** Delays between failed issuance rounds, e.g. `1m,5m,15m,1h,3h,6h,12h,1d`. */
  ISSUANCE_RETRY_LADDER: duration.optional(),
  /** Wait before the one quick retry within a round. */
  ISSUANCE_QUICK_RETRY: duration.prefault('2s'),
  /** How long a replica's claim on a job lasts without renewal (a crashed replica's work resumes after it). */
  ISSUANCE_LEASE: duration.prefault('60s'),
  /**
   * DNS-01 for every zone without a provider registered through /v1/dns-providers, for tests and local
   * development against Pebble: `challtestsrv:<management URL>`.
   */
  DNS01_PROVIDER: z
    .string()
    .regex(/^challtestsrv:https?:\/\/.+/, 'expected challtestsrv:http://host:port')
    .optional(),
  /** How long a DNS-01 record may take to appear on every authoritative nameserver of its zone. */
  DNS01_PROPAGATION_TIMEOUT: milliseconds.prefault('2m'),
  /** Between checks of the authoritative nameservers. */
  DNS01_PROPAGATION_INTERVAL: milliseconds.prefault('2s'),
  /** Port the authoritative nameservers are asked on (53; another port only in test setups). */
  DNS01_NAMESERVER_PORT: z.coerce.number().int().min(1).max(65535).default(53),
  /**
   * Challenge aliases, `zone=alias,…`: records for names in `zone` go to the same name under `alias`
   * (`_acme-challenge.a.example.com` → `_acme-challenge.a.<alias>`) without looking for a CNAME.
   */
  DNS01_ALIASES: z
    .string()
    .transform((value, ctx) => {
      try {
        return parseChallengeAliases(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  /**
   * The only directory exec DNS providers' programs may run from (their real path, symbolic links resolved).
   * Unset: exec providers are refused. Programs get a minimal environment (PATH, LANG) and a timeout.
   */
  DNS_EXEC_DIR: execDirectory.optional(),
  /**
   * Hosts, addresses and CIDR networks webhook DNS providers may reach although they are loopback, private,
   * link-local or Gatehouse's own services (all refused otherwise), comma-separated: `hooks.lan,10.1.0.0/16`.
   */
  DNS_WEBHOOK_ALLOW: outboundAllowlist.optional(),
  /** `enforce` (default) defers an order whose preflight fails; `advisory` only records; `off` skips it. */
  PREFLIGHT: z.enum(['enforce', 'advisory', 'off']).default('enforce'),
  /** Port the CA connects to for HTTP-01 (80 in production; Pebble's httpPort in tests). */
  PREFLIGHT_HTTP_PORT: z.coerce.number().int().min(1).max(65535).default(80),
  /** DNS servers (host:port, comma-separated) for preflight; the system's when unset. */
  DNS_RESOLVERS: commaList(hostPort).optional(),
  /** This server's public addresses; when set, preflight checks names resolve to one of them. */
  PUBLIC_IPS: commaList(z.union([z.ipv4(), z.ipv6()])).optional(),
  ...onDemandConfigShape,
};
