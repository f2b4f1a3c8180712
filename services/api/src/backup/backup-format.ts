import { z } from 'zod';

/**
 * The backup archive (`GET /v1/backup`, `POST /v1/restore`, `npm run backup`): newline-separated, streamable.
 *
 *   line 1      header, plain JSON (what this is, when, which schema): {format, version, createdAt, migrations}
 *   lines 2..n  one row each: base64 AES-256-GCM of {table, row}, sealed with the master key (context
 *               `backup:<createdAt>`, so a line of another archive does not open in this one)
 *   last line   the trailer, sealed the same way: {trailer: true, rows: n-2}, so a cut-off archive is refused
 *
 * Secrets inside rows (certificate and account keys, DNS credentials) stay sealed as stored: an archive is
 * only useful to an installation with the same master key, and the key check of the first row says so early.
 */
export const backupFormat = 'gatehouse-backup';
export const backupVersion = 1;

/**
 * What an installation is, in restore order (a row's references come before it). Left out on purpose: the outbox,
 * processed events and dead letters (delivery state of this installation's bus), leases and issuance jobs (work in
 * flight; the scheduler and the retry ladder derive it again), orders and attempts, notifications and alerts
 * (history), HTTP-01 tokens (live only during an order) and deployments (observed state: the deployer creates the
 * containers again).
 */
export const backupTables = [
  'settings',
  'acme_accounts',
  'dns_providers',
  // The local CA (migration 0013), keys still sealed: restored leaves keep verifying against the same root.
  'local_ca_certificates',
  'certificates',
  // Names the ask URL allowed for on-demand TLS (migration 0010): proxy-config's routers for them.
  'on_demand_hosts',
  'rate_limit_events',
  'apps',
  'domains',
  // TCP proxies of the apps (migration 0014); the deployer starts their containers again.
  'app_tcp_ports',
  'app_certificates',
] as const;
export type BackupTable = (typeof backupTables)[number];

/** Tables that must be empty for a restore: an installation that has any of these is not new. */
export const installationTables = ['apps', 'certificates', 'acme_accounts', 'dns_providers'] as const;

export const backupHeaderSchema = z.strictObject({
  format: z.literal(backupFormat),
  version: z.literal(backupVersion),
  createdAt: z.iso.datetime(),
  /** Names of the migrations applied where the backup was made; a restore needs exactly these. */
  migrations: z.array(z.string()).max(10_000),
});
export type BackupHeader = z.infer<typeof backupHeaderSchema>;

export const backupRowSchema = z.strictObject({
  table: z.enum(backupTables),
  row: z.record(z.string(), z.unknown()),
});
export const backupTrailerSchema = z.strictObject({
  trailer: z.literal(true),
  rows: z.number().int().min(0),
});

export function backupContext(header: Pick<BackupHeader, 'createdAt'>): string {
  return `backup:${header.createdAt}`;
}
