import { type Db, settingKeys } from '@gatehouse/db';
import { certificateKeyContext } from '@gatehouse/pki';
import { sql } from 'kysely';
import { type AppDomain, type AppTcpRoute, tlsHostnames } from '../traefik/index.ts';
import {
  type AppCertificateRow,
  type CertificateChoice,
  type CustomCertificateRow,
  selectCertificates,
} from './select-certificates.ts';

/** Everything proxy-config needs to render one app, read from Postgres (the source of truth). */
export interface AppModel {
  id: string;
  slug: string;
  upstream: { host: string; port: number } | undefined;
  domains: AppDomain[];
  /** TCP proxies (app_tcp_ports), by public port. */
  tcp: AppTcpRoute[];
  /** The certificates to list, keys still sealed (see select-certificates.ts for the choice). */
  certificates: CertificateChoice[];
}

/**
 * Loads the given apps (all apps when `appIds` is undefined) with a fixed number of set-based queries —
 * apps, domains, latest running deployment, linked certificates, custom certificates, the fallback setting —
 * whatever the number of apps: per-app queries made a 10,000-app rebuild take most of a minute.
 */
export async function loadAppModels(
  db: Db,
  appIds?: readonly string[],
  now = new Date(),
): Promise<AppModel[]> {
  if (appIds?.length === 0) return [];
  const ids = appIds ? [...new Set(appIds)] : undefined;
  const [apps, domains, deployments, linked, fallbackSetting, tcpPorts] = await Promise.all([
    db
      .selectFrom('apps')
      .select(['id', 'name'])
      .$if(ids !== undefined, (q) => q.where('id', 'in', ids!))
      .orderBy('name')
      .execute(),
    db
      .selectFrom('domains')
      .select(['app_id', 'hostname', 'https', 'www'])
      .$if(ids !== undefined, (q) => q.where('app_id', 'in', ids!))
      .orderBy('app_id')
      .orderBy('hostname')
      .execute(),
    db
      .selectFrom('deployments')
      .distinctOn('app_id')
      .select(['app_id', 'upstream_host', 'upstream_port'])
      .where('status', '=', 'running')
      .$if(ids !== undefined, (q) => q.where('app_id', 'in', ids!))
      .orderBy('app_id')
      .orderBy('created_at', 'desc')
      .execute(),
    db
      .selectFrom('app_certificates')
      .innerJoin('certificates', 'certificates.id', 'app_certificates.certificate_id')
      .select([
        'app_certificates.app_id',
        'certificates.id',
        'certificates.names',
        'certificates.status',
        'certificates.source',
        'certificates.chain_pem',
        'certificates.private_key_encrypted',
        'certificates.not_after',
        'certificates.fallback_chain_pem',
        'certificates.fallback_key_encrypted',
      ])
      .$if(ids !== undefined, (q) => q.where('app_certificates.app_id', 'in', ids!))
      .execute(),
    db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', settingKeys.fallbackCertificateId)
      .executeTakeFirst(),
    db
      .selectFrom('app_tcp_ports')
      .select(['app_id', 'public_port', 'target_port', 'tls'])
      .$if(ids !== undefined, (q) => q.where('app_id', 'in', ids!))
      .orderBy('public_port')
      .execute(),
  ]);

  // For a few apps, only custom certificates that could cover their names (the GIN index on names): a scan
  // of every certificate would make one app's update cost grow with the number of certificates.
  let custom = db
    .selectFrom('certificates')
    .select(['id', 'names', 'chain_pem', 'private_key_encrypted', 'not_after'])
    .where('source', '=', 'custom')
    .where('status', '=', 'valid')
    .where('chain_pem', 'is not', null)
    .where('private_key_encrypted', 'is not', null)
    .where('not_after', '>', now);
  if (ids) {
    const names = namesThatCouldCover(domains);
    custom = custom.where(sql<boolean>`names && ${names}::text[]`);
  }
  const customCertificates: CustomCertificateRow[] = (await custom.execute()).map((row) => ({
    id: row.id,
    names: row.names,
    chainPem: row.chain_pem!,
    keySealed: row.private_key_encrypted!,
    notAfter: new Date(row.not_after!),
  }));
  const fallbackId = fallbackSetting?.value;
  // Only a valid custom certificate qualifies; anything else in the setting is ignored, not served.
  const operatorFallback =
    typeof fallbackId === 'string' ? customCertificates.find((row) => row.id === fallbackId) : undefined;

  const domainsByApp = groupBy(domains, (row) => row.app_id);
  const upstreamByApp = new Map(deployments.map((row) => [row.app_id, row]));
  const certificatesByApp = groupBy(linked, (row) => row.app_id);
  const tcpByApp = groupBy(tcpPorts, (row) => row.app_id);

  return apps.map((app) => {
    const appDomains = (domainsByApp.get(app.id) ?? []).map(toAppDomain);
    const deployment = upstreamByApp.get(app.id);
    const appCertificates: AppCertificateRow[] = (certificatesByApp.get(app.id) ?? []).map((row) => ({
      id: row.id,
      names: row.names,
      status: row.status,
      source: row.source,
      chainPem: row.chain_pem,
      keySealed: row.private_key_encrypted,
      notAfter: row.not_after === null ? null : new Date(row.not_after),
      fallbackChainPem: row.fallback_chain_pem,
      fallbackKeySealed: row.fallback_key_encrypted,
    }));
    return {
      id: app.id,
      slug: app.name,
      upstream:
        deployment?.upstream_host && deployment.upstream_port
          ? { host: deployment.upstream_host, port: deployment.upstream_port }
          : undefined,
      domains: appDomains,
      tcp: (tcpByApp.get(app.id) ?? []).map((row) => ({
        publicPort: row.public_port,
        targetPort: row.target_port,
        tls: row.tls,
      })),
      certificates: chooseCertificates(appDomains, (hostnames) =>
        selectCertificates({ hostnames, appCertificates, customCertificates, operatorFallback, now }),
      ),
    };
  });
}

/**
 * An app whose domains cannot be rendered (a host name no router may hold) gets no certificates here rather
 * than failing the whole load: rendering its file fails with the same error, for that app alone.
 */
function chooseCertificates(
  domains: AppDomain[],
  choose: (hostnames: string[]) => CertificateChoice[],
): CertificateChoice[] {
  let hostnames: string[];
  try {
    hostnames = tlsHostnames(domains);
  } catch {
    return [];
  }
  return choose(hostnames);
}

/** The secret-box context of a chosen certificate's key: the real key and the fallback's share it. */
export function choiceKeyContext(choice: CertificateChoice): string {
  return certificateKeyContext(choice.certificateId);
}

/** Every TLS host name of these domains and the one-label wildcard that would cover it. */
function namesThatCouldCover(domains: ReadonlyArray<{ app_id: string } & AppDomainRow>): string[] {
  const out = new Set<string>();
  for (const appDomains of groupBy(domains, (row) => row.app_id).values()) {
    let hostnames: string[];
    try {
      hostnames = tlsHostnames(appDomains.map(toAppDomain));
    } catch {
      continue; // rendering this app fails on its own; it needs no certificate
    }
    for (const name of hostnames) {
      out.add(name);
      const dot = name.indexOf('.');
      if (!name.startsWith('*.') && dot > 0) out.add(`*.${name.slice(dot + 1)}`);
    }
  }
  return [...out];
}

interface AppDomainRow {
  hostname: string;
  https: boolean;
  www: string;
}

function toAppDomain(row: AppDomainRow): AppDomain {
  return { hostname: row.hostname, https: row.https, www: row.www as AppDomain['www'] };
}

function groupBy<T>(rows: readonly T[], keyOf: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const list = out.get(keyOf(row));
    if (list) list.push(row);
    else out.set(keyOf(row), [row]);
  }
  return out;
}

/** Ids of the apps linked to any of these certificates (a certificate event's blast radius). */
export async function findAppIdsByCertificates(db: Db, certificateIds: readonly string[]): Promise<string[]> {
  if (certificateIds.length === 0) return [];
  const rows = await db
    .selectFrom('app_certificates')
    .select('app_id')
    .distinct()
    .where('certificate_id', 'in', [...certificateIds])
    .execute();
  return rows.map((row) => row.app_id);
}
