import { z } from 'zod';
import { defineEvent } from './envelope.ts';

// Field schemas shared by several contracts.
const id = z.string().min(1);
/** A qualified DNS name in ASCII (punycode) form, lower-case, possibly with a left-most `*`. */
const dnsName = z.string().regex(/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/);
/**
 * A name on a certificate: a DNS name as above, or an IP address (RFC 8738) in canonical form: IPv4 dotted-decimal,
 * IPv6 compressed lower-case without brackets (RFC 5952, as `normalizeName` in @gatehouse/pki writes it).
 */
const certificateName = z.union([
  dnsName,
  z.ipv4(),
  z
    .ipv6()
    .refine(
      (value) => new URL(`http://[${value}]`).hostname === `[${value}]`,
      'an IPv6 address in RFC 5952 form',
    ),
]);
const isoTime = z.iso.datetime();

/**
 * An ACME certificate profile name (draft-ietf-acme-profiles; Let's Encrypt: `classic`, `tlsserver`, `shortlived`).
 * The same rule as `ACME_PROFILE`.
 */
export const acmeProfilePattern = /^[A-Za-z0-9._-]{1,64}$/;
export const acmeProfileSchema = z
  .string()
  .regex(acmeProfilePattern, 'a profile name such as tlsserver or shortlived');

export const keyTypeSchema = z.enum(['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-4096']);
/** A certificate key type: ECDSA P-256 by default, RSA on request (DESIGN.md, Keys). */
export type KeyType = z.infer<typeof keyTypeSchema>;
export const challengeTypeSchema = z.enum(['http-01', 'dns-01']);
export type ChallengeType = z.infer<typeof challengeTypeSchema>;
export const challengePreferenceSchema = z.enum(['http-01', 'dns-01', 'auto']);
export type ChallengePreference = z.infer<typeof challengePreferenceSchema>;
export const wwwModeSchema = z.enum(['none', 'redirect-to-apex', 'redirect-to-www', 'both']);
export type WwwMode = z.infer<typeof wwwModeSchema>;
/**
 * How a domain gets its certificate (issue 15, DESIGN.md "per-domain mode"):
 * - `acme`: ordered from the configured ACME CA and renewed by Gatehouse (the default for public names);
 * - `custom`: an operator uploads it (`POST /v1/certificates`); Gatehouse never orders one;
 * - `fallback-only`: the operator's fallback wildcard, or a self-signed certificate; no CA is ever contacted;
 * - `local-ca`: signed by the installation's own CA (the default for internal names, which no public CA issues).
 */
export const certificateModeSchema = z.enum(['acme', 'custom', 'fallback-only', 'local-ca']);
export type CertificateMode = z.infer<typeof certificateModeSchema>;
/** Why a certificate is requested: a new domain, a due renewal, or an operator's renew button. */
export const issuanceReasonSchema = z.enum(['new', 'renewal', 'manual']);
export type IssuanceReason = z.infer<typeof issuanceReasonSchema>;

/**
 * Why an issuance attempt failed, decided by cert-issuer's classifier. Retry policy and admin mail
 * wording key off this, so new kinds are added here first.
 */
export const issueErrorKindSchema = z.enum([
  'rate-limited',
  'validation',
  'dns',
  'dns-provider-auth',
  'connection',
  'ca-server',
  'policy',
  'preflight',
  'internal',
]);
export type IssueErrorKind = z.infer<typeof issueErrorKindSchema>;

const appDomainSchema = z.object({
  /** Hostname in punycode. */
  hostname: dnsName,
  /** `https://` domains get certificates and an HTTP→HTTPS redirect; `http://` ones are served plain. */
  https: z.boolean(),
  www: wwwModeSchema,
  challenge: challengePreferenceSchema,
});

const appSpecSchema = z.object({
  /** Stable app id (UUID). */
  appId: id,
  /** URL-safe slug chosen by the operator. */
  name: z.string().min(1),
  /** Image reference the container runs. */
  image: z.string().min(1),
  /** Port the app listens on inside its container. */
  port: z.number().int().min(1).max(65535),
  domains: z.array(appDomainSchema),
  /**
   * No longer sent (issue 12): env values are secrets and stay sealed in Postgres, where the deployer reads them
   * by `appId`. Kept optional so events already in a stream still parse; consumers MUST NOT use it.
   */
  env: z.record(z.string(), z.string()).optional(),
  /** Docker `Cmd`, when the image's default is not wanted. */
  command: z.array(z.string()).nullable(),
  /** Increases with every change, so consumers can ignore an older spec that arrives late. */
  revision: z.number().int().nonnegative(),
});

export const appsCreated = defineEvent('apps.created', 1, appSpecSchema);
export const appsUpdated = defineEvent('apps.updated', 1, appSpecSchema);
export const appsDeleted = defineEvent(
  'apps.deleted',
  1,
  z.object({ appId: id, name: z.string().min(1), revision: z.number().int().nonnegative() }),
);

export const deploymentsStarted = defineEvent(
  'deployments.started',
  1,
  z.object({
    appId: id,
    deploymentId: id,
    containerId: z.string().min(1),
    /** Where the proxy should send this app's traffic. */
    upstream: z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }),
    revision: z.number().int().nonnegative(),
  }),
);
export const deploymentsFailed = defineEvent(
  'deployments.failed',
  1,
  z.object({
    appId: id,
    deploymentId: id,
    revision: z.number().int().nonnegative(),
    /** Machine-readable cause, e.g. `image-missing`, `start-failed`, `unhealthy`. */
    reason: z.string().min(1),
    /** What happened, for the operator. */
    message: z.string(),
  }),
);

/**
 * A TCP proxy (one container per public port) cannot serve its port. Emitted once per failure episode: when the
 * deployer first sees the proxy failing after it was starting or running; the deployer keeps retrying and records
 * `running` once the proxy stays up, without another event.
 */
export const deploymentsTcpProxyFailed = defineEvent(
  'deployments.tcp-proxy-failed',
  1,
  z.object({
    appId: id,
    /** The app's name, for the operator. */
    appName: z.string().min(1),
    /** The public port the proxy listens on. */
    publicPort: z.number().int().min(1).max(65535),
    /** `port-in-use`: another process on the host holds the port; `proxy-failed`: anything else. */
    reason: z.enum(['port-in-use', 'proxy-failed']),
    /** What happened, for the operator (no secrets: a port, an exit code, the proxy's last log line). */
    message: z.string(),
  }),
);

/** The app's containers were stopped and removed (the app was deleted). */
export const deploymentsRemoved = defineEvent(
  'deployments.removed',
  1,
  z.object({
    appId: id,
    /** Revision of the `apps.deleted` event that caused it. */
    revision: z.number().int().nonnegative(),
    /** Docker ids of the containers removed (empty when none was left). */
    containerIds: z.array(z.string().min(1)),
  }),
);

export const certsRequested = defineEvent(
  'certs.requested',
  1,
  z.object({
    certificateId: id,
    names: z.array(certificateName).min(1),
    keyType: keyTypeSchema,
    reason: issuanceReasonSchema,
    challenge: challengePreferenceSchema,
    /**
     * The ACME profile the domain asks for (added in version 1, optional: absent means no choice, as in events
     * written before it existed). cert-issuer sends it only to a CA that lists it; a renewal keeps it.
     */
    profile: acmeProfileSchema.optional(),
  }),
);
export const certsUploaded = defineEvent(
  'certs.uploaded',
  1,
  z.object({ certificateId: id, names: z.array(certificateName).min(1), notAfter: isoTime }),
);
/** An operator deleted an uploaded certificate; whatever it served falls to the next choice. */
export const certsRemoved = defineEvent(
  'certs.removed',
  1,
  z.object({ certificateId: id, names: z.array(certificateName).min(1) }),
);
/**
 * The operator set or cleared the fallback wildcard (`PUT|DELETE /v1/settings/fallback-certificate`): every
 * name on a fallback may now be served by another certificate. `certificateId` is the new one, or null.
 */
export const certsFallbackChanged = defineEvent(
  'certs.fallback-changed',
  1,
  z.object({ certificateId: id.nullable() }),
);
export const certsIssued = defineEvent(
  'certs.issued',
  1,
  z.object({
    certificateId: id,
    names: z.array(certificateName).min(1),
    /** CA directory URL it came from. */
    issuer: z.string().min(1),
    serial: z.string().min(1),
    notBefore: isoTime,
    notAfter: isoTime,
    /** The ACME profile the order carried (optional, added in version 1; absent: the CA's default profile). */
    profile: acmeProfileSchema.optional(),
  }),
);
export const certsIssueFailed = defineEvent(
  'certs.issue-failed',
  1,
  z.object({
    certificateId: id,
    names: z.array(certificateName).min(1),
    kind: issueErrorKindSchema,
    message: z.string(),
    /** How many attempts this certificate has had since its last success. */
    attempt: z.number().int().positive(),
    /** When the next attempt is planned, if any. */
    retryAt: isoTime.nullable(),
  }),
);
export const certsRenewalDue = defineEvent(
  'certs.renewal-due',
  1,
  z.object({
    certificateId: id,
    names: z.array(certificateName).min(1),
    /** Why now: `ari`, `lifetime`, `retry`, `manual`. */
    reason: z.enum(['ari', 'lifetime', 'retry', 'manual']),
  }),
);
export const certsExpiring = defineEvent(
  'certs.expiring',
  1,
  z.object({ certificateId: id, names: z.array(certificateName).min(1), notAfter: isoTime }),
);
export const certsFallbackActivated = defineEvent(
  'certs.fallback-activated',
  1,
  z.object({
    certificateId: id,
    names: z.array(certificateName).min(1),
    fallback: z.enum(['self-signed', 'custom-wildcard']),
    reason: z.enum(['expired', 'reminders-exhausted']),
  }),
);

export const routesApplied = defineEvent(
  'routes.applied',
  1,
  z.object({
    /** Edge node whose Traefik directory changed. */
    node: z.string().min(1),
    /** Traefik files written or removed in this burst. */
    changedFiles: z.array(z.string()),
  }),
);

export const notificationsSent = defineEvent(
  'notifications.sent',
  1,
  z.object({
    notificationId: id,
    kind: z.string().min(1),
    recipients: z.array(z.email()).min(1),
    certificateId: id.nullable(),
  }),
);

/** Every contract, for lookup by type on the consuming side. */
export const allContracts = [
  appsCreated,
  appsUpdated,
  appsDeleted,
  deploymentsStarted,
  deploymentsFailed,
  deploymentsTcpProxyFailed,
  deploymentsRemoved,
  certsRequested,
  certsUploaded,
  certsRemoved,
  certsFallbackChanged,
  certsIssued,
  certsIssueFailed,
  certsRenewalDue,
  certsExpiring,
  certsFallbackActivated,
  routesApplied,
  notificationsSent,
] as const;
