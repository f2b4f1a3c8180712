import { randomUUID } from 'node:crypto';
import type { AppRow, Database, Db, DomainRow } from '@gatehouse/db';
import { appsCreated, appsDeleted, appsUpdated, createEvent, type Envelope } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import { openAppEnv, type SecretBox, sealAppEnv } from '@gatehouse/pki';
import type { Transaction } from 'kysely';
import { listAppCertificates } from '../certificates/certificate.repository.ts';
import { ApiError } from '../errors.ts';
import {
  deleteAppRow,
  findAppByName,
  findHostnameConflicts,
  findTcpPortConflicts,
  insertApp,
  insertDomains,
  insertTcpPorts,
  latestDeployments,
  listAppRows,
  listDomainRows,
  listTcpPortRows,
  listTcpPortStateRows,
  lockAppCertificates,
  lockAppName,
  lockHostnames,
  lockTcpPorts,
  replaceDomains,
  replaceTcpPorts,
  updateAppRow,
} from './app.repository.ts';
import type { CreateAppInput, PatchAppInput } from './app-input.ts';
import { type AppView, maskedEnvValue, toAppView } from './app-representation.ts';
import { claimedHostnames, type DomainSpec, type WwwMode } from './domain-url.ts';
import { certificateLinkKey, linkAppCertificates } from './link-certificates.ts';
import { type TcpPortSpec, tlsWithoutCertificate } from './tcp-ports.ts';

/** Event `source` of everything the api emits. */
const source = 'api';

/**
 * Creates an app in one transaction: the app and its domains (revision 1), `apps.created`, and the certificate
 * for its https names (found or requested, see findOrRequestCertificate). Refused with `conflict` when the name
 * or a host name (www counterparts included) is taken; then nothing is written.
 */
export async function createApp(db: Db, box: SecretBox, input: CreateAppInput): Promise<AppView> {
  // The view is read inside the transaction: read after the commit on a second pooled connection, a busy
  // pool answered 503 "nothing was changed" for an app that had been created (a retry then got 409).
  return db.transaction().execute(async (trx) => {
    await lockAppName(trx, input.name);
    await lockHostnames(trx, claimedHostnames(input.domains, input.www));
    if (await findAppByName(trx, input.name)) {
      throw new ApiError('conflict', `an app named ${input.name} already exists; choose another name`);
    }
    await refuseTakenHostnames(trx, input.domains, input.www);
    refuseTlsWithoutCertificate(input.tcp, input.domains);
    await lockTcpPorts(trx, publicPorts(input.tcp));
    await refuseTakenTcpPorts(trx, input.tcp);
    const id = randomUUID();
    const { env, tcp, ...fields } = input;
    const app = await insertApp(trx, { id, ...fields, envSealed: sealAppEnv(box, id, env) });
    await insertDomains(trx, app.id, input.domains, input.www);
    await insertTcpPorts(trx, app.id, tcp);
    const requests = await linkAppCertificates(trx, box, {
      id: app.id,
      domains: input.domains,
      www: input.www,
      keyType: input.keyType,
      eventSource: source,
    });
    await enqueue(
      trx,
      ...requests,
      createEvent(appsCreated, { source, subject: app.id, data: appSpec(app, input.domains) }),
    );
    // Nothing else can have written for this app yet: its row is at hand, and it has no deployment and no TCP
    // port beyond the ones just inserted (every query is a round trip, and creates come in bursts).
    const [view] = await viewsOf(trx, box, [app], false, { created: { hasTcpPorts: tcp.length > 0 } });
    return view!;
  });
}

/**
 * Applies a validated patch in one transaction: revision + 1 and `apps.updated`. When the names the
 * certificates must cover change, or a domain's certificate mode, the app is pointed at the certificates for
 * the new sets (found or requested, see linkAppCertificates); proxy-config re-renders on `apps.updated`, so a
 * mode change takes effect without a restart.
 */
export async function updateApp(
  db: Db,
  box: SecretBox,
  name: string,
  patch: PatchAppInput,
): Promise<AppView> {
  // The answer is read inside the transaction, as createApp does: a read on a second pooled connection after the
  // commit can time out on a busy pool and turn a change that was made into a 503.
  return db.transaction().execute(async (trx) => {
    await lockAppName(trx, name);
    const current = await findAppByName(trx, name);
    if (!current) throw notFound(name);
    const currentWww = current.www;
    const currentDomains = toDomainSpecs(await listDomainRows(trx, [current.id]));
    const www = patch.www ?? currentWww;
    const domains = patch.domains ?? currentDomains;
    const keyType = patch.keyType ?? current.key_type;
    const domainsChanged = patch.domains !== undefined || www !== currentWww;
    let namesChanged = false;
    if (domainsChanged) {
      await lockHostnames(trx, claimedHostnames(domains, www));
      await refuseTakenHostnames(trx, domains, www, current.id);
      await replaceDomains(trx, current.id, domains, www);
      namesChanged = certificateLinkKey(currentDomains, currentWww) !== certificateLinkKey(domains, www);
    }
    // Another name set or mode, or another key type: the app points at the certificates for that.
    const requests: Envelope[] = [];
    if (namesChanged || keyType !== current.key_type) {
      await lockAppCertificates(trx, current.id);
      requests.push(
        ...(await linkAppCertificates(trx, box, {
          id: current.id,
          domains,
          www,
          keyType,
          eventSource: source,
        })),
      );
    }
    // The TCP ports as they will be: a patch of only the domains must not leave a TLS port without a certificate.
    const tcp = patch.tcp ?? toTcpPortSpecs(await listTcpPortRows(trx, [current.id]));
    if (patch.tcp !== undefined || domainsChanged) refuseTlsWithoutCertificate(tcp, domains);
    if (patch.tcp !== undefined) {
      await lockTcpPorts(trx, publicPorts(tcp));
      await refuseTakenTcpPorts(trx, tcp, current.id);
      await replaceTcpPorts(trx, current.id, tcp);
    }
    const { env, tcp: _tcp, ...changes } = patch;
    const app = await updateAppRow(trx, current.id, {
      ...changes,
      ...(env !== undefined ? { envSealed: sealAppEnv(box, current.id, keepMasked(env, current, box)) } : {}),
    });
    await enqueue(
      trx,
      ...requests,
      createEvent(appsUpdated, { source, subject: app.id, data: appSpec(app, domains) }),
    );
    return getAppOrThrow(trx, box, name);
  });
}

/**
 * A value sent back exactly as the API showed it masked keeps the stored value of that variable, so a client
 * that GETs an app, changes one variable and PATCHes the env back does not overwrite the others with the mask.
 */
function keepMasked(env: Record<string, string>, current: AppRow, box: SecretBox): Record<string, string> {
  if (!Object.values(env).includes(maskedEnvValue)) return env;
  const stored = openAppEnv(box, current);
  return Object.fromEntries(
    Object.entries(env).map(([key, value]) => [
      key,
      value === maskedEnvValue && stored[key] !== undefined ? stored[key] : value,
    ]),
  );
}

/**
 * Deletes the app and its domains and emits `apps.deleted` (revision + 1, so it orders after the last update).
 * Certificates stay, released when nothing else uses them (not renewed): if the names come back before one expires,
 * it is reused instead of ordered again.
 */
export async function deleteApp(db: Db, name: string): Promise<{ name: string; revision: number }> {
  return db.transaction().execute(async (trx) => {
    await lockAppName(trx, name);
    const app = await findAppByName(trx, name);
    if (!app) throw notFound(name);
    await lockAppCertificates(trx, app.id);
    await deleteAppRow(trx, app.id);
    const revision = app.revision + 1;
    await enqueue(
      trx,
      createEvent(appsDeleted, {
        source,
        subject: app.id,
        data: { appId: app.id, name: app.name, revision },
      }),
    );
    return { name: app.name, revision };
  });
}

/**
 * Emits `apps.created` for every app in `trx`, as if each had just been posted: after a restore, this is how the
 * deployer starts their containers again and proxy-config writes their routes and certificates.
 */
export async function announceAllApps(trx: Transaction<Database>): Promise<void> {
  let afterName: string | undefined;
  for (;;) {
    const apps = await listAppRows(trx, { limit: 500, afterName });
    const domains = await listDomainRows(
      trx,
      apps.map((app) => app.id),
    );
    for (const app of apps) {
      const own = toDomainSpecs(domains.filter((domain) => domain.app_id === app.id));
      await enqueue(trx, createEvent(appsCreated, { source, subject: app.id, data: appSpec(app, own) }));
    }
    if (apps.length < 500) return;
    afterName = apps.at(-1)!.name;
  }
}

/** The app as the API shows it; env values masked unless `revealEnv`. */
export async function getAppOrThrow(
  db: Db,
  box: SecretBox,
  name: string,
  options: { revealEnv?: boolean } = {},
): Promise<AppView> {
  const app = await findAppByName(db, name);
  if (!app) throw notFound(name);
  const [view] = await viewsOf(db, box, [app], options.revealEnv ?? false);
  return view!;
}

/** The app's www mode, for validating a patch before the write; throws not-found. */
export async function getAppWwwOrThrow(db: Db, name: string): Promise<WwwMode> {
  const app = await findAppByName(db, name);
  if (!app) throw notFound(name);
  return app.www;
}

/** One page of apps by name, after `afterName` (exclusive); env values masked. */
export async function listApps(
  db: Db,
  box: SecretBox,
  page: { limit: number; afterName?: string | undefined },
): Promise<AppView[]> {
  return viewsOf(db, box, await listAppRows(db, page), false);
}

/**
 * The views of `apps`. `created`: the apps were inserted in the caller's transaction, so they have no deployment
 * yet, and TCP ports only if the create gave some; those reads are skipped.
 */
async function viewsOf(
  db: Db,
  box: SecretBox,
  apps: readonly AppRow[],
  revealEnv: boolean,
  options: { created?: { hasTcpPorts: boolean } } = {},
): Promise<AppView[]> {
  const ids = apps.map((app) => app.id);
  const { created } = options;
  const [domains, deployments, certificates, tcpPorts] = await Promise.all([
    listDomainRows(db, ids),
    created ? [] : latestDeployments(db, ids),
    listAppCertificates(db, ids),
    created && !created.hasTcpPorts ? [] : listTcpPortStateRows(db, ids),
  ]);
  // Grouped once, so a page of 1000 apps costs linear time, not 1000 scans of each list.
  const domainsOf = groupBy(domains, (domain) => domain.app_id);
  const certificatesOf = groupBy(certificates, (certificate) => certificate.app_id);
  const tcpPortsOf = groupBy(tcpPorts, (port) => port.app_id);
  const deploymentOf = new Map(deployments.map((deployment) => [deployment.app_id, deployment]));
  return apps.map((app) =>
    toAppView(
      app,
      envView(box, app, revealEnv),
      domainsOf.get(app.id) ?? [],
      deploymentOf.get(app.id),
      certificatesOf.get(app.id) ?? [],
      tcpPortsOf.get(app.id) ?? [],
    ),
  );
}

function groupBy<Row>(rows: readonly Row[], keyOf: (row: Row) => string): Map<string, Row[]> {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  return groups;
}

/** 409 naming the app that holds each public port already taken (the ports are locked by the caller). */
async function refuseTakenTcpPorts(
  trx: Transaction<Database>,
  ports: readonly TcpPortSpec[],
  exceptAppId?: string,
): Promise<void> {
  const conflicts = await findTcpPortConflicts(trx, publicPorts(ports), exceptAppId);
  if (conflicts.length === 0) return;
  const list = conflicts.map(({ publicPort, app }) => `${publicPort} (app ${app})`).join(', ');
  throw new ApiError('conflict', `TCP ports already used by another app: ${list}; remove them there first`, {
    errors: conflicts.map(({ publicPort, app }) => ({
      field: `tcp[${ports.findIndex((port) => port.publicPort === publicPort)}].publicPort`,
      message: `port ${publicPort} is used by app ${app}`,
    })),
  });
}

function refuseTlsWithoutCertificate(ports: readonly TcpPortSpec[], domains: readonly DomainSpec[]): void {
  const errors = tlsWithoutCertificate(
    ports,
    domains.some((domain) => domain.https),
  );
  if (errors.length === 0) return;
  throw new ApiError(
    'validation',
    `the request has invalid fields: ${errors.map((e) => e.field).join(', ')}; see errors`,
    {
      errors,
    },
  );
}

function publicPorts(ports: readonly TcpPortSpec[]): number[] {
  return ports.map((port) => port.publicPort);
}

function toTcpPortSpecs(
  rows: ReadonlyArray<{ public_port: number; target_port: number | null; tls: boolean }>,
): TcpPortSpec[] {
  return rows.map((row) => ({ publicPort: row.public_port, targetPort: row.target_port, tls: row.tls }));
}

async function refuseTakenHostnames(
  trx: Transaction<Database>,
  domains: readonly DomainSpec[],
  www: WwwMode,
  exceptAppId?: string,
): Promise<void> {
  const conflicts = await findHostnameConflicts(trx, claimedHostnames(domains, www), exceptAppId);
  if (conflicts.length === 0) return;
  const list = conflicts.map(({ hostname, app }) => `${hostname} (app ${app})`).join(', ');
  throw new ApiError('conflict', `host names already used by another app: ${list}; remove them there first`, {
    errors: conflicts.map(({ hostname, app }) => ({
      field: 'domains',
      message: `${hostname} is used by app ${app}`,
    })),
  });
}

/**
 * The `apps.*` event data. The env is left out: its values are secrets, and the bus is not a place for them
 * (events are kept in streams, dead letters and traces). The deployer reads the sealed env from Postgres.
 */
function appSpec(app: AppRow, domains: readonly DomainSpec[]) {
  return {
    appId: app.id,
    name: app.name,
    image: app.image,
    port: app.port,
    // The certificate mode stays off the bus: the `apps.*` contract (v1) carries none, and readers of modes
    // (proxy-config, cert-issuer) read the domains from Postgres.
    domains: domains.map(({ mode: _mode, ...domain }) => ({ ...domain, www: app.www })),
    command: app.command,
    revision: app.revision,
  };
}

/** The env as shown: every value masked unless revealed; a sealed env that no longer opens shows as `{}`. */
function envView(box: SecretBox, app: AppRow, reveal: boolean): Record<string, string> {
  let env: Record<string, string>;
  try {
    env = openAppEnv(box, app);
  } catch {
    return {};
  }
  if (reveal) return env;
  return Object.fromEntries(Object.keys(env).map((key) => [key, maskedEnvValue]));
}

/**
 * Seals the env of apps written before migration 0008 (plaintext `env`, no `env_sealed`), once, at the api's
 * start. Idempotent; returns how many rows it sealed.
 */
export async function sealLegacyAppEnv(db: Db, box: SecretBox): Promise<number> {
  const rows = await db.selectFrom('apps').select(['id', 'env']).where('env_sealed', 'is', null).execute();
  for (const row of rows) {
    await db
      .updateTable('apps')
      .set({ env: '{}', env_sealed: sealAppEnv(box, row.id, row.env ?? {}) })
      .where('id', '=', row.id)
      .where('env_sealed', 'is', null)
      .execute();
  }
  return rows.length;
}

function toDomainSpecs(rows: readonly DomainRow[]): DomainSpec[] {
  return rows.map((row) => ({
    hostname: row.hostname,
    https: row.https,
    challenge: row.challenge,
    mode: row.mode,
    profile: row.profile,
  }));
}

function notFound(name: string): ApiError {
  return new ApiError('not-found', `there is no app named ${name}; GET /v1/apps lists them`);
}
