import type { Db } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import type { AppDomain } from '../traefik/index.ts';
import type { PemPair } from './default-certificate.ts';

/** Everything proxy-config needs to render one app, read from Postgres (the source of truth). */
export interface AppModel {
  id: string;
  slug: string;
  upstream: { host: string; port: number } | undefined;
  domains: AppDomain[];
  certificates: PemPair[];
}

export async function loadAppModels(db: Db, box: SecretBox, appIds?: string[]): Promise<AppModel[]> {
  let query = db.selectFrom('apps').select(['id', 'name']);
  if (appIds) {
    if (appIds.length === 0) return [];
    query = query.where('id', 'in', appIds);
  }
  const apps = await query.orderBy('name').execute();
  const models: AppModel[] = [];
  for (const app of apps) {
    const [domains, deployment, certificates] = await Promise.all([
      db
        .selectFrom('domains')
        .select(['hostname', 'https', 'www'])
        .where('app_id', '=', app.id)
        .orderBy('hostname')
        .execute(),
      db
        .selectFrom('deployments')
        .select(['upstream_host', 'upstream_port'])
        .where('app_id', '=', app.id)
        .where('status', '=', 'running')
        .orderBy('created_at', 'desc')
        .executeTakeFirst(),
      db
        .selectFrom('app_certificates')
        .innerJoin('certificates', 'certificates.id', 'app_certificates.certificate_id')
        .select(['certificates.id', 'certificates.chain_pem', 'certificates.private_key_encrypted'])
        .where('app_certificates.app_id', '=', app.id)
        .where('certificates.chain_pem', 'is not', null)
        .where('certificates.not_after', '>', new Date())
        .orderBy('certificates.id')
        .execute(),
    ]);
    models.push({
      id: app.id,
      slug: app.name,
      upstream:
        deployment?.upstream_host && deployment.upstream_port
          ? { host: deployment.upstream_host, port: deployment.upstream_port }
          : undefined,
      domains: domains.map((domain) => ({
        hostname: domain.hostname,
        https: domain.https,
        www: domain.www as AppDomain['www'],
      })),
      certificates: certificates.map((certificate) => ({
        certPem: certificate.chain_pem!,
        keyPem: box.openText(certificate.private_key_encrypted!, `certificate:${certificate.id}`),
      })),
    });
  }
  return models;
}
