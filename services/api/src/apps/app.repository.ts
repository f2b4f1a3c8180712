import { randomUUID } from 'node:crypto';
import type {
  AppNetwork,
  AppRow,
  AppTcpPortRow,
  Database,
  DomainRow,
  TcpProxyFailureReason,
  TcpProxyStatus,
} from '@gatehouse/db';
import type { KeyType } from '@gatehouse/events';
import { type Kysely, type RawBuilder, sql, type Transaction } from 'kysely';
import { type DomainSpec, type WwwMode, wwwCounterpart } from './domain-url.ts';
import type { TcpPortSpec } from './tcp-ports.ts';

type Queryable = Kysely<Database> | Transaction<Database>;

/**
 * Advisory lock every app write takes first. Name and host-name uniqueness (www counterparts included, which
 * no index can express) and certificate find-or-create are check-then-insert, so writers go one at a time;
 * app writes are rare, so one lock for all of them costs nothing.
 */
/**
 * Advisory lock classes (the first key of the two-key form), so an app name and a host name never share a
 * lock by accident of spelling.
 */
const appNameLockClass = 7101;
const hostnameLockClass = 7102;

/**
 * Serializes writes to the app called `name` until the transaction ends. Every app write takes it first and
 * alone, before any host name lock: a transaction never waits for a name lock while holding a host name lock,
 * which (with the sorted host name order below) rules out deadlocks. Unrelated apps no longer wait on each
 * other (one global lock made 100 parallel POSTs queue for the pool until they timed out).
 */
export async function lockAppName(trx: Transaction<Database>, name: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${appNameLockClass}, hashtext(${name}))`.execute(trx);
}

/**
 * Serializes claims of these host names until the transaction ends: two apps that could conflict (their
 * claimed names, www counterparts included, overlap) share at least one lock, and the same set also guards
 * the pending certificate for those names. Locks are taken in ascending hash order, one global order.
 */
export async function lockHostnames(trx: Transaction<Database>, hostnames: readonly string[]): Promise<void> {
  if (hostnames.length === 0) return;
  // unnest() yields the sorted array in order, so the locks are taken in that order.
  await sql`
    select pg_advisory_xact_lock(${hostnameLockClass}, h)
    from unnest(array(select distinct hashtext(n) from unnest(${[...hostnames]}::text[]) as n order by 1)) as h`.execute(
    trx,
  );
}

export async function findAppByName(db: Queryable, name: string): Promise<AppRow | undefined> {
  return db.selectFrom('apps').selectAll().where('name', '=', name).executeTakeFirst();
}

/** Apps by name (the unique index serves the keyset), at most `limit`, after `afterName` when given. */
export async function listAppRows(
  db: Queryable,
  page: { limit: number; afterName?: string | undefined },
): Promise<AppRow[]> {
  let query = db.selectFrom('apps').selectAll();
  if (page.afterName !== undefined) query = query.where('name', '>', page.afterName);
  return query.orderBy('name', 'asc').limit(page.limit).execute();
}

export async function listDomainRows(db: Queryable, appIds: readonly string[]): Promise<DomainRow[]> {
  if (appIds.length === 0) return [];
  return db
    .selectFrom('domains')
    .selectAll()
    .where('app_id', 'in', [...appIds])
    .orderBy('created_at', 'asc')
    .orderBy('hostname', 'asc')
    .execute();
}

/**
 * Host names in `claimed` that another app already occupies, directly or as the www counterpart its mode adds,
 * with that app's name. `exceptAppId` is the app being changed.
 */
export async function findHostnameConflicts(
  db: Queryable,
  claimed: readonly string[],
  exceptAppId?: string,
): Promise<Array<{ hostname: string; app: string }>> {
  if (claimed.length === 0) return [];
  const wanted = new Set(claimed);
  // A stored name conflicts if it is wanted, or if its counterpart is; the latter are `www.<wanted>` and the
  // apex of a wanted `www.` name. Fetch those candidates, then decide with the same function that claims.
  const candidates = new Set(claimed);
  for (const name of claimed) {
    candidates.add(`www.${name}`);
    if (name.startsWith('www.')) candidates.add(name.slice(4));
  }
  let query = db
    .selectFrom('domains')
    .innerJoin('apps', 'apps.id', 'domains.app_id')
    .select(['domains.hostname', 'domains.www', 'apps.name'])
    .where('domains.hostname', 'in', [...candidates]);
  if (exceptAppId !== undefined) query = query.where('domains.app_id', '!=', exceptAppId);
  const rows = await query.execute();
  const conflicts: Array<{ hostname: string; app: string }> = [];
  for (const row of rows) {
    const counterpart = wwwCounterpart(row.hostname, row.www);
    if (wanted.has(row.hostname)) conflicts.push({ hostname: row.hostname, app: row.name });
    else if (counterpart !== undefined && wanted.has(counterpart))
      conflicts.push({ hostname: counterpart, app: row.name });
  }
  return conflicts;
}

export async function insertApp(
  trx: Transaction<Database>,
  app: {
    id: string;
    name: string;
    image: string;
    port: number;
    /** The env sealed with `sealAppEnv`; the plaintext column stays `{}`. */
    envSealed: string;
    command: string[] | null;
    www: WwwMode;
    memoryMb: number;
    pidsLimit: number;
    network: AppNetwork;
    keyType: KeyType;
  },
): Promise<AppRow> {
  return trx
    .insertInto('apps')
    .values({
      id: app.id,
      name: app.name,
      image: app.image,
      port: app.port,
      env: '{}',
      env_sealed: app.envSealed,
      command: app.command === null ? null : JSON.stringify(app.command),
      www: app.www,
      memory_mb: app.memoryMb,
      pids_limit: app.pidsLimit,
      network: app.network,
      key_type: app.keyType,
      revision: 1,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Sets the changed fields and bumps the revision by one. */
export async function updateAppRow(
  trx: Transaction<Database>,
  id: string,
  changes: {
    image?: string;
    port?: number;
    /** The new env sealed with `sealAppEnv`. */
    envSealed?: string;
    command?: string[] | null;
    www?: WwwMode;
    memoryMb?: number;
    pidsLimit?: number;
    network?: AppNetwork;
    keyType?: KeyType;
  },
): Promise<AppRow> {
  return trx
    .updateTable('apps')
    .set({
      ...(changes.image !== undefined ? { image: changes.image } : {}),
      ...(changes.port !== undefined ? { port: changes.port } : {}),
      ...(changes.envSealed !== undefined ? { env: '{}', env_sealed: changes.envSealed } : {}),
      ...(changes.command !== undefined
        ? { command: changes.command === null ? null : JSON.stringify(changes.command) }
        : {}),
      ...(changes.www !== undefined ? { www: changes.www } : {}),
      ...(changes.memoryMb !== undefined ? { memory_mb: changes.memoryMb } : {}),
      ...(changes.pidsLimit !== undefined ? { pids_limit: changes.pidsLimit } : {}),
      ...(changes.network !== undefined ? { network: changes.network } : {}),
      ...(changes.keyType !== undefined ? { key_type: changes.keyType } : {}),
      revision: sql<number>`revision + 1`,
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Replaces the app's domains; each row carries the app's www mode. */
export async function replaceDomains(
  trx: Transaction<Database>,
  appId: string,
  domains: readonly DomainSpec[],
  www: WwwMode,
): Promise<void> {
  await trx.deleteFrom('domains').where('app_id', '=', appId).execute();
  await insertDomains(trx, appId, domains, www);
}

/** The domains of an app that has none yet (one created in this transaction). */
export async function insertDomains(
  trx: Transaction<Database>,
  appId: string,
  domains: readonly DomainSpec[],
  www: WwwMode,
): Promise<void> {
  if (domains.length === 0) return;
  await trx
    .insertInto('domains')
    .values(
      domains.map((domain) => ({
        id: randomUUID(),
        app_id: appId,
        hostname: domain.hostname,
        https: domain.https,
        www,
        challenge: domain.challenge,
        mode: domain.mode,
        profile: domain.profile,
      })),
    )
    .execute();
}

/**
 * Points the app at exactly these certificates (none when it has no https domain), in one statement: each query
 * is a round trip, and an app create is a burst of them. A certificate the app lets go that nothing else uses is
 * released ({@link releaseIfUnused}).
 */
export async function replaceCertificateLinks(
  trx: Transaction<Database>,
  appId: string,
  certificateIds: readonly string[],
): Promise<void> {
  const ids = sql`${sql.val([...certificateIds])}::uuid[]`;
  // Data-modifying CTEs run even though nothing reads them; the insert skips the links that stay.
  await sql`
    with unlinked as (
      delete from app_certificates where app_id = ${appId} and certificate_id <> all(${ids})
      returning certificate_id
    ), released as (
      ${releaseIfUnused(sql`select certificate_id from unlinked`, appId)}
    )
    insert into app_certificates (app_id, certificate_id)
    select ${appId}, id from unnest(${ids}) as id
    on conflict do nothing`.execute(trx);
}

/**
 * Deletes the app; its domains and certificate links go with it (cascade). Its certificates stay, released when
 * nothing else uses them, so a returning name reuses one instead of ordering again.
 */
export async function deleteAppRow(trx: Transaction<Database>, id: string): Promise<void> {
  await sql`
    with released as (
      ${releaseIfUnused(sql`select certificate_id from app_certificates where app_id = ${id}`, id)}
    )
    delete from apps where id = ${id}`.execute(trx);
}

/**
 * Locks the app's ACME and local CA certificates before its links change (a patch of its names, a delete). A
 * certificate another app links meanwhile as covering its names (`listCoveringCandidates`, which locks it too)
 * is then either linked before the release looks at it (and kept), or looked at after the release (and skipped).
 */
export async function lockAppCertificates(trx: Transaction<Database>, appId: string): Promise<void> {
  await sql`
    select c.id from certificates c
    where c.id in (select certificate_id from app_certificates where app_id = ${appId})
      and c.source in ('acme', 'local-ca')
    order by c.id
    for update of c`.execute(trx);
}

/**
 * The update that releases the ACME and local CA certificates among `certificateIds` (a subquery) that `appId` lets
 * go and that no other app and no on-demand host uses: `released_at` is set and the renewal schedule cleared, so
 * nothing renews, polls ARI for, or mails about a certificate whose names may point elsewhere now (migration 0020).
 * Uploads and self-signed stand-ins are never renewed anyway. Run inside the statement that removes the links (its
 * snapshot still shows them), after {@link lockAppCertificates}: another app takes an ACME certificate with the same
 * names only once this app's change has committed (the host names are this app's until then), and one that covers
 * its names only under the lock.
 */
function releaseIfUnused(certificateIds: RawBuilder<unknown>, appId: string): RawBuilder<unknown> {
  return sql`
    update certificates c
    set released_at = now(), renew_at = null, ari_next_poll_at = null, updated_at = now()
    where c.id in (${certificateIds})
      and c.source in ('acme', 'local-ca')
      and c.released_at is null
      and not exists (select 1 from app_certificates o where o.certificate_id = c.id and o.app_id <> ${appId})
      and not exists (select 1 from on_demand_hosts h where h.certificate_id = c.id)`;
}

/** The newest deployment row of each app (the deployer's observed state). */
export async function latestDeployments(
  db: Queryable,
  appIds: readonly string[],
): Promise<
  Array<{
    app_id: string;
    status: string;
    container_id: string | null;
    upstream_host: string | null;
    upstream_port: number | null;
    error_reason: string | null;
    error_message: string | null;
  }>
> {
  if (appIds.length === 0) return [];
  return db
    .selectFrom('deployments')
    .distinctOn('app_id')
    .select([
      'app_id',
      'status',
      'container_id',
      'upstream_host',
      'upstream_port',
      'error_reason',
      'error_message',
    ])
    .where('app_id', 'in', [...appIds])
    .orderBy('app_id')
    .orderBy('created_at', 'desc')
    .orderBy('updated_at', 'desc')
    .execute();
}

const tcpPortLockClass = 7103;

/**
 * Serializes claims of these public TCP ports until the transaction ends, in ascending order (one global order,
 * taken after the app name lock like host names). The primary key on `public_port` is the backstop.
 */
export async function lockTcpPorts(trx: Transaction<Database>, ports: readonly number[]): Promise<void> {
  if (ports.length === 0) return;
  await sql`
    select pg_advisory_xact_lock(${tcpPortLockClass}, p)
    from unnest(array(select distinct unnest(${[...ports]}::int[]) order by 1)) as p`.execute(trx);
}

/** Public ports in `ports` that another app holds, with that app's name. */
export async function findTcpPortConflicts(
  db: Queryable,
  ports: readonly number[],
  exceptAppId?: string,
): Promise<Array<{ publicPort: number; app: string }>> {
  if (ports.length === 0) return [];
  let query = db
    .selectFrom('app_tcp_ports')
    .innerJoin('apps', 'apps.id', 'app_tcp_ports.app_id')
    .select(['app_tcp_ports.public_port', 'apps.name'])
    .where('app_tcp_ports.public_port', 'in', [...ports]);
  if (exceptAppId !== undefined) query = query.where('app_tcp_ports.app_id', '!=', exceptAppId);
  const rows = await query.orderBy('app_tcp_ports.public_port').execute();
  return rows.map((row) => ({ publicPort: row.public_port, app: row.name }));
}

export async function listTcpPortRows(db: Queryable, appIds: readonly string[]): Promise<AppTcpPortRow[]> {
  if (appIds.length === 0) return [];
  return db
    .selectFrom('app_tcp_ports')
    .selectAll()
    .where('app_id', 'in', [...appIds])
    .orderBy('public_port', 'asc')
    .execute();
}

/** An app's TCP port with what the deployer last observed of its proxy (no row yet: nothing observed). */
export interface TcpPortStateRow {
  app_id: string;
  public_port: number;
  target_port: number | null;
  tls: boolean;
  status: TcpProxyStatus | null;
  error_reason: TcpProxyFailureReason | null;
  error_message: string | null;
  changed_at: Date | null;
}

/**
 * The apps' TCP ports with the deployer's observation of each proxy (migration 0019). A state recorded for
 * another app (the port moved) is not this app's and is left out.
 */
export async function listTcpPortStateRows(
  db: Queryable,
  appIds: readonly string[],
): Promise<TcpPortStateRow[]> {
  if (appIds.length === 0) return [];
  return db
    .selectFrom('app_tcp_ports as p')
    .leftJoin('tcp_proxy_states as s', (join) =>
      join.onRef('s.public_port', '=', 'p.public_port').onRef('s.app_id', '=', 'p.app_id'),
    )
    .select([
      'p.app_id',
      'p.public_port',
      'p.target_port',
      'p.tls',
      's.status',
      's.error_reason',
      's.error_message',
      's.changed_at',
    ])
    .where('p.app_id', 'in', [...appIds])
    .orderBy('p.public_port', 'asc')
    .execute();
}

/** Replaces the app's TCP ports. */
export async function replaceTcpPorts(
  trx: Transaction<Database>,
  appId: string,
  ports: readonly TcpPortSpec[],
): Promise<void> {
  await trx.deleteFrom('app_tcp_ports').where('app_id', '=', appId).execute();
  await insertTcpPorts(trx, appId, ports);
}

/** The TCP ports of an app that has none yet (one created in this transaction). */
export async function insertTcpPorts(
  trx: Transaction<Database>,
  appId: string,
  ports: readonly TcpPortSpec[],
): Promise<void> {
  if (ports.length === 0) return;
  await trx
    .insertInto('app_tcp_ports')
    .values(
      ports.map((port) => ({
        public_port: port.publicPort,
        app_id: appId,
        target_port: port.targetPort,
        tls: port.tls,
      })),
    )
    .execute();
}
