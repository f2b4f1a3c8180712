import type { AppRow, DomainRow } from '@gatehouse/db';
import type { ChallengePreference, WwwMode } from './domain-url.ts';
import type { TcpPortSpec } from './tcp-ports.ts';

/** What the API shows for an env value unless asked to reveal it (`GET /v1/apps/{name}?reveal=env`). */
export const maskedEnvValue = '****';

/** An app as `GET /v1/apps/{name}` shows it (see the OpenAPI document's `App` schema). */
export interface AppView {
  name: string;
  image: string;
  port: number;
  env: Record<string, string>;
  command: string[] | null;
  www: WwwMode;
  /** Container memory limit (MiB), process limit and network (`shared` or `isolated`). */
  memoryMb: number;
  pidsLimit: number;
  network: string;
  /** Key type of the app's certificate. */
  keyType: string;
  revision: number;
  domains: Array<{
    url: string;
    hostname: string;
    https: boolean;
    challenge: ChallengePreference;
    /** How the domain gets its certificate: acme, custom, fallback-only or local-ca. */
    mode: string;
    /** The ACME profile asked for; null: the installation's default. */
    profile: string | null;
  }>;
  /** The deployer's newest report; null until it has acted on the app. */
  container: {
    state: string;
    containerId: string | null;
    upstream: { host: string; port: number } | null;
    error: { reason: string; message: string } | null;
  } | null;
  certificates: Array<{ id: string; status: string }>;
  /** TCP proxies, one per public port; `targetPort` null means the app's `port`. */
  tcp: TcpPortView[];
  createdAt: string;
  updatedAt: string;
}

/** A TCP port as shown: the declared proxy and what the deployer last observed of it. */
export interface TcpPortView extends TcpPortSpec {
  /** `starting` until the deployer has seen the proxy up for a while (also before it has acted at all). */
  status: 'starting' | 'running' | 'failed';
  /** Why it is failing (`port-in-use`: another process holds the port on the host); null unless failed. */
  error: { reason: string; message: string } | null;
  /** When the status last changed; null before the deployer has acted on the port. */
  since: string | null;
}

/** An app's TCP port row with the deployer's observation (null columns: none recorded yet). */
export interface TcpPortWithState {
  public_port: number;
  target_port: number | null;
  tls: boolean;
  status: 'starting' | 'running' | 'failed' | null;
  error_reason: string | null;
  error_message: string | null;
  changed_at: Date | null;
}

export function toTcpPortView(row: TcpPortWithState): TcpPortView {
  return {
    publicPort: row.public_port,
    targetPort: row.target_port,
    tls: row.tls,
    status: row.status ?? 'starting',
    error:
      row.status === 'failed' && row.error_reason !== null
        ? { reason: row.error_reason, message: row.error_message ?? '' }
        : null,
    since: row.changed_at?.toISOString() ?? null,
  };
}

export interface DeploymentSummary {
  status: string;
  container_id: string | null;
  upstream_host: string | null;
  upstream_port: number | null;
  error_reason: string | null;
  error_message: string | null;
}

export function toAppView(
  app: AppRow,
  /** The env as it may be shown (masked or revealed by the caller). */
  env: Record<string, string>,
  domains: readonly DomainRow[],
  deployment: DeploymentSummary | undefined,
  certificates: ReadonlyArray<{ id: string; status: string }>,
  tcp: readonly TcpPortWithState[] = [],
): AppView {
  return {
    name: app.name,
    image: app.image,
    port: app.port,
    env,
    command: app.command,
    www: app.www,
    memoryMb: app.memory_mb,
    pidsLimit: app.pids_limit,
    network: app.network,
    keyType: app.key_type,
    revision: app.revision,
    domains: domains.map((domain) => ({
      url: `${domain.https ? 'https' : 'http'}://${domain.hostname}`,
      hostname: domain.hostname,
      https: domain.https,
      challenge: domain.challenge,
      mode: domain.mode,
      profile: domain.profile,
    })),
    container: deployment
      ? {
          state: deployment.status,
          containerId: deployment.container_id,
          upstream:
            deployment.upstream_host !== null && deployment.upstream_port !== null
              ? { host: deployment.upstream_host, port: deployment.upstream_port }
              : null,
          error:
            deployment.error_reason !== null
              ? { reason: deployment.error_reason, message: deployment.error_message ?? '' }
              : null,
        }
      : null,
    certificates: certificates.map(({ id, status }) => ({ id, status })),
    tcp: tcp.map(toTcpPortView),
    createdAt: app.created_at.toISOString(),
    updatedAt: app.updated_at.toISOString(),
  };
}
