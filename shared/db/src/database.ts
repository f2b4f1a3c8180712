import type {
  CertificateMode,
  ChallengePreference,
  ChallengeType,
  IssuanceReason,
  IssueErrorKind,
  KeyType,
  WwwMode,
} from '@gatehouse/events';
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type {
  AppNetwork,
  AttemptOutcome,
  CertificateKeyType,
  CertificateSource,
  CertificateStatus,
  DeployFailureReason,
  DeploymentStatus,
  DnsProviderKind,
  IssuanceJobStatus,
  NotificationKind,
  NotificationStatus,
  OrderStatus,
  RenewReason,
  TcpProxyFailureReason,
  TcpProxyStatus,
} from './column-values.ts';

/** A timestamp column: read as Date, written as Date or ISO string; `now()` default when generated. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Json<T> = ColumnType<T, string, string>;

export interface AppsTable {
  id: string;
  name: string;
  image: string;
  port: number;
  /** Legacy plaintext env; `{}` once sealed (migration 0008). */
  env: ColumnType<Record<string, string>, string | undefined, string>;
  /** The env as JSON sealed with the master key, context `appEnvContext(id)` (migration 0008). */
  env_sealed: ColumnType<string | null, string | null | undefined, string | null>;
  /** Container memory limit in MiB (migration 0008). */
  memory_mb: Generated<number>;
  /** Container process limit (migration 0008). */
  pids_limit: Generated<number>;
  /** `shared` or `isolated` (a network of the app's own; migration 0008). */
  network: Generated<AppNetwork>;
  /** Key type the app's certificate is ordered with (migration 0012). */
  key_type: Generated<KeyType>;
  command: ColumnType<string[] | null, string | null, string | null>;
  revision: Generated<number>;
  /** App-level www mode (migration 0003); each domain row carries it too. */
  www: Generated<WwwMode>;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** Which certificates an app uses (migration 0003); deleting the app drops the link, not the certificate. */
export interface AppCertificatesTable {
  app_id: string;
  certificate_id: string;
  created_at: CreatedAt;
}

export interface DomainsTable {
  id: string;
  app_id: string;
  hostname: string;
  https: boolean;
  www: Generated<WwwMode>;
  challenge: Generated<ChallengePreference>;
  /** How the domain gets its certificate: acme, custom, fallback-only or local-ca (migration 0013). */
  mode: Generated<CertificateMode>;
  /** The ACME profile asked for (migration 0015); null: the installation's default. */
  profile: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: CreatedAt;
}

/** The local CA's root (one) and intermediates (the newest signs), keys sealed `local-ca:<id>` (migration 0013). */
export interface LocalCaCertificatesTable {
  id: string;
  kind: 'root' | 'intermediate';
  cert_pem: string;
  key_encrypted: string;
  not_before: Timestamp;
  not_after: Timestamp;
  created_at: CreatedAt;
}

/**
 * A TCP port an app exposes through a Traefik instance of its own (migration 0014). The public port is the key:
 * one holder across all apps.
 */
export interface AppTcpPortsTable {
  public_port: number;
  app_id: string;
  /** Null: the app's own `port`. */
  target_port: number | null;
  /** Terminate TLS with the app's certificate (HostSNI on its https domains); false: plain TCP. */
  tls: Generated<boolean>;
  created_at: CreatedAt;
}

/** The deployer's observation of one TCP proxy (migration 0019); see tcpProxyStatuses. */
export interface TcpProxyStatesTable {
  public_port: number;
  /** The app the port belonged to when observed. */
  app_id: string;
  status: TcpProxyStatus;
  error_reason: TcpProxyFailureReason | null;
  error_message: string | null;
  /** When `status` (or the failure's reason) last changed. */
  changed_at: Generated<Date>;
}

export interface DeploymentsTable {
  id: string;
  app_id: string;
  revision: number;
  container_id: string | null;
  status: DeploymentStatus;
  upstream_host: string | null;
  upstream_port: number | null;
  error_reason: DeployFailureReason | null;
  error_message: string | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface AcmeAccountsTable {
  id: string;
  directory_url: string;
  email: string;
  account_url: string | null;
  key_encrypted: string;
  eab_key_id: string | null;
  created_at: CreatedAt;
}

export interface CertificatesTable {
  id: string;
  names: string[];
  names_key: string;
  status: CertificateStatus;
  source: CertificateSource;
  key_type: Generated<CertificateKeyType>;
  issuer: string | null;
  acme_account_id: string | null;
  serial: string | null;
  chain_pem: string | null;
  private_key_encrypted: string | null;
  not_before: Timestamp | null;
  not_after: Timestamp | null;
  renew_at: Timestamp | null;
  renew_reason: RenewReason | null;
  ari_window_start: Timestamp | null;
  ari_window_end: Timestamp | null;
  ari_next_poll_at: Timestamp | null;
  failure_count: Generated<number>;
  next_retry_at: Timestamp | null;
  last_error_kind: IssueErrorKind | null;
  last_error_message: string | null;
  last_error_at: Timestamp | null;
  preflight: ColumnType<PreflightResult[] | null, string | null, string | null>;
  preflight_at: Timestamp | null;
  /** Self-signed stand-in served while `status` is `fallback` (migration 0004). */
  fallback_chain_pem: string | null;
  fallback_key_encrypted: string | null;
  fallback_activated_at: Timestamp | null;
  /** The `not_after` that `certs.expiring` was last emitted for (migration 0006). */
  expiring_notified_for: Timestamp | null;
  /** The ACME profile the current certificate's order carried (migration 0015); null: the CA's default. */
  profile: ColumnType<string | null, string | null | undefined, string | null>;
  /**
   * Since when no app uses this ACME or local CA certificate (migration 0020): it is not renewed, and is reused if
   * an app brings its names back before it expires. Null while in use.
   */
  released_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** One preflight check of one name, as stored on the certificate. */
export interface PreflightResult {
  name: string;
  check: string;
  ok: boolean;
  detail: string;
}

export interface IssuanceJobsTable {
  id: string;
  certificate_id: string;
  names_key: string;
  reason: IssuanceReason;
  challenge: ChallengePreference;
  key_type: KeyType;
  /** The ACME profile the request asked for (migration 0015); null: the installation's default. */
  profile: ColumnType<string | null, string | null | undefined, string | null>;
  status: IssuanceJobStatus;
  attempt: Generated<number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  lease_holder: string | null;
  lease_expires_at: Timestamp | null;
  deferred_reason: string | null;
  last_error_kind: IssueErrorKind | null;
  last_error_message: string | null;
  trace_headers: ColumnType<Record<string, string>, string | undefined, string>;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface RateLimitEventsTable {
  id: Generated<string>;
  limit_name: string;
  scope: string;
  occurred_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface OrdersTable {
  id: string;
  certificate_id: string;
  directory_url: string;
  acme_account_id: string | null;
  order_url: string | null;
  status: OrderStatus;
  challenge_type: ChallengeType | null;
  key_encrypted: string | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface OrderAttemptsTable {
  id: string;
  certificate_id: string;
  order_id: string | null;
  directory_url: string;
  acme_account_id: string | null;
  challenge_type: ChallengeType | null;
  outcome: AttemptOutcome;
  error_kind: IssueErrorKind | null;
  error_message: string | null;
  started_at: Timestamp;
  finished_at: Timestamp | null;
  duration_ms: number | null;
  /** The CA's RFC 8555 problem type (`urn:ietf:params:acme:error:…`) of a failed attempt (migration 0007). */
  problem_type: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface Http01TokensTable {
  token: string;
  key_authorization: string;
  hostname: string;
  order_id: string | null;
  expires_at: Timestamp;
  created_at: CreatedAt;
}

export interface DnsProvidersTable {
  id: string;
  zone: string;
  kind: DnsProviderKind;
  config: Json<Record<string, unknown>>;
  secret_encrypted: string | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface NotificationsTable {
  id: string;
  kind: NotificationKind;
  certificate_id: string | null;
  dedupe_key: string | null;
  subject: string;
  body: string;
  recipients: string[];
  status: NotificationStatus;
  attempts: Generated<number>;
  last_error: string | null;
  sent_at: Timestamp | null;
  created_at: CreatedAt;
  /** When the sender may try (next); while a send is in flight, its lease (migration 0005). */
  next_attempt_at: Timestamp | null;
  /** What the mail was built from (names, error kind, …), for the API and dashboard. */
  data: ColumnType<Record<string, unknown>, string | undefined, string>;
}

/** A certificate whose issuance or renewal is failing, as the notifier tracks it (migration 0005). */
export interface CertificateAlertsTable {
  certificate_id: string;
  started_at: Timestamp;
  error_kind: IssueErrorKind;
  error_message: string;
  retry_at: Timestamp | null;
  last_mailed_at: Timestamp;
  reminders: Generated<number>;
}

export interface SettingsTable {
  key: string;
  value: Json<unknown>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface OutboxTable {
  /** bigserial: pg returns it as a string. */
  seq: Generated<string>;
  event_id: string;
  type: string;
  subject: string;
  envelope: Json<unknown>;
  headers: Json<Record<string, string>>;
  created_at: CreatedAt;
  published_at: Timestamp | null;
}

export interface ProcessedEventsTable {
  consumer: string;
  event_id: string;
  processed_at: CreatedAt;
}

export interface DeadLettersTable {
  id: Generated<string>;
  consumer: string;
  nats_subject: string;
  stream_seq: string | null;
  event_id: string | null;
  payload: string;
  reason: string;
  recorded_at: CreatedAt;
}

export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: Timestamp;
}

/** A hostname that got its certificate at its first TLS handshake (on-demand TLS, migration 0010). */
export interface OnDemandHostsTable {
  hostname: string;
  certificate_id: string;
  created_at: CreatedAt;
}

export interface Database {
  apps: AppsTable;
  domains: DomainsTable;
  app_tcp_ports: AppTcpPortsTable;
  tcp_proxy_states: TcpProxyStatesTable;
  app_certificates: AppCertificatesTable;
  deployments: DeploymentsTable;
  acme_accounts: AcmeAccountsTable;
  certificates: CertificatesTable;
  local_ca_certificates: LocalCaCertificatesTable;
  orders: OrdersTable;
  order_attempts: OrderAttemptsTable;
  http01_tokens: Http01TokensTable;
  dns_providers: DnsProvidersTable;
  notifications: NotificationsTable;
  certificate_alerts: CertificateAlertsTable;
  settings: SettingsTable;
  outbox: OutboxTable;
  processed_events: ProcessedEventsTable;
  dead_letters: DeadLettersTable;
  leases: LeasesTable;
  issuance_jobs: IssuanceJobsTable;
  rate_limit_events: RateLimitEventsTable;
  on_demand_hosts: OnDemandHostsTable;
}

export type CertificateRow = Selectable<CertificatesTable>;
export type NewCertificate = Insertable<CertificatesTable>;
export type CertificateUpdate = Updateable<CertificatesTable>;
export type IssuanceJobRow = Selectable<IssuanceJobsTable>;
export type AppRow = Selectable<AppsTable>;
export type DomainRow = Selectable<DomainsTable>;
export type AppTcpPortRow = Selectable<AppTcpPortsTable>;
export type TcpProxyStateRow = Selectable<TcpProxyStatesTable>;
export type OutboxRow = Selectable<OutboxTable>;
export type DeadLetterRow = Selectable<DeadLettersTable>;
