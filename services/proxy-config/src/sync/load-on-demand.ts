import type { Db } from '@gatehouse/db';
import { sql } from 'kysely';

/** An on-demand host with a servable certificate: what the on-demand file renders. */
export interface OnDemandHostModel {
  hostname: string;
  certificateId: string;
  chainPem: string;
  keySealed: string;
}

/**
 * On-demand hosts (cert-issuer's terminator created them) whose certificate has a chain: valid, or renewing
 * while the old one still serves. A name an app has since claimed as a domain is left to the app's file, so
 * two routers never share one host.
 */
export async function loadOnDemandHosts(db: Db): Promise<OnDemandHostModel[]> {
  const rows = await db
    .selectFrom('on_demand_hosts')
    .innerJoin('certificates', 'certificates.id', 'on_demand_hosts.certificate_id')
    .select([
      'on_demand_hosts.hostname',
      'certificates.id',
      'certificates.chain_pem',
      'certificates.private_key_encrypted',
    ])
    .where('certificates.chain_pem', 'is not', null)
    .where('certificates.private_key_encrypted', 'is not', null)
    .where('certificates.status', 'in', ['valid', 'renewing'])
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('domains')
            .select('domains.id')
            .whereRef('domains.hostname', '=', 'on_demand_hosts.hostname'),
        ),
      ),
    )
    .orderBy('on_demand_hosts.hostname')
    .execute();
  return rows.map((row) => ({
    hostname: row.hostname,
    certificateId: row.id,
    chainPem: row.chain_pem!,
    keySealed: row.private_key_encrypted!,
  }));
}

/** Whether any of these certificates belongs to an on-demand host (then its router must be written). */
export async function isOnDemandCertificate(db: Db, certificateId: string): Promise<boolean> {
  const { rows } = await sql<{ found: boolean }>`
    select exists(select 1 from on_demand_hosts where certificate_id = ${certificateId}) as found`.execute(
    db,
  );
  return rows[0]?.found === true;
}
