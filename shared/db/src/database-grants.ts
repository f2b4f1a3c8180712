import { sql } from 'kysely';
import type { Db } from './create-db.ts';
import type { Database } from './database.ts';

/** The services that connect to Postgres, each with a role of its own in compose. */
export const databaseServices = [
  'api',
  'deployer',
  'cert-issuer',
  'renewal-scheduler',
  'proxy-config',
  'notifier',
] as const;
export type DatabaseService = (typeof databaseServices)[number];

export type TableName = keyof Database;

/** s: SELECT, i: INSERT, u: UPDATE, d: DELETE. */
export type Access = 's' | 'si' | 'su' | 'sd' | 'siu' | 'sid' | 'siud' | 'i';

/**
 * One table's privileges for one service: a string of letters, or SELECT on every column but `selectExcept`
 * (a column-level grant, re-rendered after each migration, so a column added later is readable unless listed).
 */
export type TableGrant = Access | { selectExcept: readonly string[] };

/**
 * What every service touches through the shared packages: shared/messaging writes events into the outbox, relays
 * and prunes them (its own rows when it has a NATS user), records processed events and dead letters.
 */
const everyService = {
  outbox: 'siud',
  processed_events: 'si',
  dead_letters: 'i',
} as const satisfies Partial<Record<TableName, TableGrant>>;

/**
 * Which tables each service may read and write, derived from its queries (kysely `selectFrom`/`insertInto`/
 * `updateTable`/`deleteFrom` and the raw `sql` in its src, plus the shared packages it calls). An upsert
 * (`on conflict do update`) needs UPDATE; `returning`, `where` and upserts need SELECT. Foreign-key checks and
 * cascades run as the table owner, so they need nothing here. Everything not listed is refused.
 */
export const databaseGrants: Record<DatabaseService, Partial<Record<TableName, TableGrant>>> = {
  // The API owns the desired state, reads everything it reports, and restores backups: a restore inserts every
  // backup table and takes `lock table … in exclusive mode` on apps, certificates, acme_accounts and
  // dns_providers, which needs UPDATE or DELETE on each (hence acme_accounts `siu`).
  api: {
    ...everyService,
    apps: 'siud',
    domains: 'sid',
    // TCP proxies an app declares (migration 0014): replaced with the app, restored from a backup.
    app_tcp_ports: 'sid',
    app_certificates: 'sid',
    certificates: 'siud',
    dns_providers: 'sid',
    settings: 'siud',
    acme_accounts: 'siu',
    rate_limit_events: 'si',
    deployments: 's',
    // The deployer's observation of each TCP proxy, shown on the app (migration 0019).
    tcp_proxy_states: 's',
    issuance_jobs: 's',
    order_attempts: 's',
    notifications: 's',
    // Lists on-demand hosts; a restore inserts them.
    on_demand_hosts: 'si',
    // Serves the local CA's root (GET /v1/local-ca/root.pem); a restore replaces an unused local CA by the archive's.
    local_ca_certificates: 'sid',
  },
  // Runs containers: reads the app (and its sealed env), writes deployments. No certificates, keys or credentials.
  deployer: {
    ...everyService,
    apps: 's',
    // Which TCP proxy containers to run (one per public port).
    app_tcp_ports: 's',
    deployments: 'siu',
    // What it observed of each TCP proxy (migration 0019); rows of ports no app declares are deleted.
    tcp_proxy_states: 'siud',
  },
  'cert-issuer': {
    ...everyService,
    acme_accounts: 'siu',
    // `i`: the on-demand terminator creates the certificate row of a name first seen at a handshake.
    certificates: 'siu',
    domains: 's',
    on_demand_hosts: 'si',
    // Creates the local CA's root once and each new intermediate; signs leaves with the newest.
    local_ca_certificates: 'si',
    dns_providers: 's',
    http01_tokens: 'siud',
    issuance_jobs: 'siu',
    orders: 'siu',
    order_attempts: 'si',
    rate_limit_events: 'sid',
    settings: 's',
  },
  // Decides renewals and switches expired certificates to their fallback (writes the fallback key it makes); counts
  // the notifier's reminders before doing so.
  'renewal-scheduler': {
    ...everyService,
    certificates: 'su',
    notifications: 's',
    settings: 's',
  },
  // Writes Traefik's files: needs the certificates with their keys, and stores the default certificate's setting.
  'proxy-config': {
    ...everyService,
    apps: 's',
    domains: 's',
    // TCP routers on the per-port entry points.
    app_tcp_ports: 's',
    app_certificates: 's',
    deployments: 's',
    certificates: 's',
    settings: 'si',
    // Routers for the names on-demand TLS issued.
    on_demand_hosts: 's',
  },
  // Mails about certificates: reads their facts, never their private keys (it has no master key either).
  notifier: {
    ...everyService,
    certificates: { selectExcept: ['private_key_encrypted', 'fallback_key_encrypted'] },
    order_attempts: 's',
    notifications: 'siu',
    certificate_alerts: 'siud',
    settings: 's',
  },
};

const privilegeNames = { s: 'select', i: 'insert', u: 'update', d: 'delete' } as const;

export interface DatabaseRole {
  service: DatabaseService;
  /** The Postgres role (cluster-wide, so tests give each database roles of its own). */
  role: string;
  /** Set or changed when given; a role without one cannot log in with a password. */
  password?: string;
}

export interface RolesSqlOptions {
  /** The database the roles may connect to. */
  database: string;
  roles: readonly DatabaseRole[];
}

const rolePattern = /^[a-z_][a-z0-9_]{0,62}$/;

/** `gatehouse_cert_issuer` for `cert-issuer` under the prefix `gatehouse_`. */
export function roleName(prefix: string, service: DatabaseService): string {
  return `${prefix}${service.replaceAll('-', '_')}`;
}

/**
 * Idempotent SQL that creates each role (LOGIN, nothing else: no superuser, no CREATE anywhere), takes away every
 * table privilege it had and grants exactly its row of `databaseGrants`, plus SELECT on Kysely's migration table
 * (a service that does not migrate waits for the schema it was built for). Run it as the schema owner after every
 * migration: a grant names tables that exist. Sequences: USAGE on all of them, for the bigserial keys of the
 * tables a role inserts into (nextval alone reveals nothing but a counter).
 */
export function renderRolesSql(options: RolesSqlOptions): string {
  const lines: string[] = [
    '-- Gatehouse: one Postgres role per service (generated from shared/db/src/database-grants.ts).',
    'begin;',
    // Postgres before 15 let every role create tables in public; nobody but the owner may change the schema.
    'revoke create on schema public from public;',
  ];
  for (const { service, role, password } of options.roles) {
    // Also keeps the names safe inside the quoted strings of the do-blocks below.
    if (!rolePattern.test(role)) throw new Error(`role name ${role} must match ${rolePattern}`);
    const id = quoteIdent(role);
    lines.push(
      '',
      `-- ${service}`,
      `do $$ begin if not exists (select from pg_roles where rolname = ${quoteLiteral(role)}) then ` +
        `create role ${id} login; end if; end $$;`,
      `alter role ${id} login nosuperuser nocreatedb nocreaterole noinherit nobypassrls;`,
    );
    if (password !== undefined) lines.push(`alter role ${id} password ${quoteLiteral(password)};`);
    lines.push(
      `grant connect on database ${quoteIdent(options.database)} to ${id};`,
      `grant usage on schema public to ${id};`,
      `revoke all on all tables in schema public from ${id};`,
      `revoke all on all sequences in schema public from ${id};`,
      `grant select on kysely_migration to ${id};`,
      `grant usage on all sequences in schema public to ${id};`,
    );
    const grants = databaseGrants[service];
    for (const table of Object.keys(grants).sort() as TableName[]) {
      const grant = grants[table]!;
      if (typeof grant === 'string') {
        const privileges = [...grant].map((letter) => privilegeNames[letter as keyof typeof privilegeNames]);
        lines.push(`grant ${privileges.join(', ')} on ${quoteIdent(table)} to ${id};`);
        continue;
      }
      // Every column but the excluded ones, as the table is now.
      const excluded = grant.selectExcept.map(quoteLiteral).join(', ');
      lines.push(
        `do $$ begin execute (select format('grant select (%s) on ${quoteIdent(table)} to ${id}', ` +
          `string_agg(quote_ident(column_name), ', ')) from information_schema.columns ` +
          `where table_schema = 'public' and table_name = ${quoteLiteral(table)} ` +
          `and column_name not in (${excluded})); end $$;`,
      );
    }
  }
  lines.push('', 'commit;', '');
  return lines.join('\n');
}

/** Applies `renderRolesSql` (as the schema owner, which must be allowed to create roles). */
export async function applyDatabaseRoles(db: Db, options: RolesSqlOptions): Promise<void> {
  // One simple-protocol query: the script has its own begin/commit and several statements.
  await sql.raw(renderRolesSql(options)).execute(db);
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
