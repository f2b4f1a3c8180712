import type { KeyType } from '@gatehouse/events';

/**
 * The values of the text columns that hold one of a fixed set (Postgres stores them as text; the set lives here
 * so the Kysely schema types each column as its union and a typo or an unknown state does not compile). A new
 * state is added here first. Sets that are also event fields (key type, challenge, www mode, error kind, job
 * reason) come from @gatehouse/events, where the bus contracts define them.
 */

/** pending → valid ↔ renewing; failed (never issued, or gave up); expired (past not_after); fallback (serving a stand-in). */
export const certificateStatuses = ['pending', 'valid', 'renewing', 'failed', 'expired', 'fallback'] as const;
export type CertificateStatus = (typeof certificateStatuses)[number];

/** Key types a certificate can have: what Gatehouse orders, and RSA 3072, which only an upload brings. */
export type CertificateKeyType = KeyType | 'rsa-3072';

/** Where a certificate came from (DESIGN.md): an ACME CA, an upload, a stand-in made here, or the local CA. */
export const certificateSources = ['acme', 'custom', 'self-signed', 'local-ca'] as const;
export type CertificateSource = (typeof certificateSources)[number];

/** Why `renew_at` holds its time: the lifetime rule or the CA's ARI window. */
export const renewReasons = ['lifetime', 'ari'] as const;
export type RenewReason = (typeof renewReasons)[number];

/** An issuance job: open while queued, running or deferred (waiting for its next attempt); then closed. */
export const issuanceJobStatuses = ['queued', 'running', 'deferred', 'done', 'failed', 'superseded'] as const;
export type IssuanceJobStatus = (typeof issuanceJobStatuses)[number];

/** An ACME order as cert-issuer tracks it: open until the certificate is downloaded or the order fails. */
export const orderStatuses = ['open', 'valid', 'invalid'] as const;
export type OrderStatus = (typeof orderStatuses)[number];

/** One attempt of an issuance round; `staging-success` is a dry run against a staging CA. */
export const attemptOutcomes = ['success', 'failure', 'staging-success'] as const;
export type AttemptOutcome = (typeof attemptOutcomes)[number];

/**
 * Deployment statuses. The api shows an app's newest row, so every attempt and every observation
 * (a death, a removal) is a new row; older rows only change status when their container is gone.
 * - `running`: this row's container serves the app;
 * - `failed`: the attempt (or the container, `container-died`) failed, see error_reason;
 * - `replaced`: a newer revision took over and this container was removed;
 * - `exited`: the container died and was reported by a `failed`/`container-died` row;
 * - `removed`: the app was deleted and its containers removed.
 */
export const deploymentStatuses = ['running', 'failed', 'replaced', 'exited', 'removed'] as const;
export type DeploymentStatus = (typeof deploymentStatuses)[number];

/** Why a deployment failed; stored as `deployments.error_reason` and sent in `deployments.failed`. */
export const deployFailureReasons = ['image-missing', 'start-failed', 'unhealthy', 'container-died'] as const;
export type DeployFailureReason = (typeof deployFailureReasons)[number];

/**
 * What the deployer observed of a TCP proxy: `starting` (started, not yet up for long), `running`, or `failed`.
 */
export const tcpProxyStatuses = ['starting', 'running', 'failed'] as const;
export type TcpProxyStatus = (typeof tcpProxyStatuses)[number];
/** Why a TCP proxy failed: its public port held by another process on the host, or anything else. */
export const tcpProxyFailureReasons = ['port-in-use', 'proxy-failed'] as const;
export type TcpProxyFailureReason = (typeof tcpProxyFailureReasons)[number];

/** An app's container network: the shared apps network, or one of its own that only Traefik joins. */
export const appNetworks = ['shared', 'isolated'] as const;
export type AppNetwork = (typeof appNetworks)[number];

export const dnsProviderKinds = ['rfc2136', 'cloudflare', 'webhook', 'exec'] as const;
export type DnsProviderKind = (typeof dnsProviderKinds)[number];

/** The mails the notifier records. */
export const notificationKinds = [
  'issue-failed',
  'reminder',
  'expiring',
  'fallback-activated',
  'recovered',
  'digest',
  /** A TCP proxy of an app cannot serve its public port (deployments.tcp-proxy-failed). */
  'tcp-proxy-failed',
] as const;
export type NotificationKind = (typeof notificationKinds)[number];

/** pending → sent | digested (went out inside a digest) | unsent (no SMTP or no address) | failed (gave up). */
export const notificationStatuses = ['pending', 'sent', 'digested', 'unsent', 'failed'] as const;
export type NotificationStatus = (typeof notificationStatuses)[number];
