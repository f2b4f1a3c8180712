import { randomUUID } from 'node:crypto';
import { type Db, lockNames } from '@gatehouse/db';
import { sql } from 'kysely';
import { enqueueIssuance } from '../issuance/job-queue.ts';

/** A certificate the terminator can serve: valid, with its chain and sealed key. */
export interface ServableCertificate {
  id: string;
  chainPem: string;
  keySealed: string;
  notAfter: Date;
}

/**
 * The valid certificate (ACME or uploaded) that lists exactly `name`, longest-lived first; undefined when
 * none does. Wildcards are left to Traefik's own routers: a name a wildcard covers is configured already.
 */
export async function findServableCertificate(
  db: Db,
  name: string,
): Promise<ServableCertificate | undefined> {
  const row = await db
    .selectFrom('certificates')
    .select(['id', 'chain_pem', 'private_key_encrypted', 'not_after'])
    .where(sql<boolean>`names @> ${sql.val([name])}::text[]`)
    .where('source', 'in', ['acme', 'custom'])
    .where('status', '=', 'valid')
    .where('chain_pem', 'is not', null)
    .where('private_key_encrypted', 'is not', null)
    .where('not_after', '>', new Date())
    .orderBy('not_after', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row?.chain_pem || !row.private_key_encrypted || !row.not_after) return undefined;
  return {
    id: row.id,
    chainPem: row.chain_pem,
    keySealed: row.private_key_encrypted,
    notAfter: row.not_after,
  };
}

/**
 * The certificate already on its way for `name` without asking again: one the terminator created before
 * (an on-demand host, on any replica) or an ACME certificate for exactly this name that an app requested.
 */
export async function findCertificateUnderway(
  db: Db,
  name: string,
): Promise<{ id: string; status: string } | undefined> {
  const onDemand = await db
    .selectFrom('on_demand_hosts')
    .innerJoin('certificates', 'certificates.id', 'on_demand_hosts.certificate_id')
    .select(['certificates.id', 'certificates.status'])
    .where('on_demand_hosts.hostname', '=', name)
    .executeTakeFirst();
  if (onDemand) return onDemand;
  return db
    .selectFrom('certificates')
    .select(['id', 'status'])
    .where('names_key', '=', name)
    .where('source', '=', 'acme')
    .where('status', 'in', ['pending', 'renewing'])
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export type ClaimResult =
  | { kind: 'created'; certificateId: string }
  | { kind: 'existing'; certificateId: string }
  | { kind: 'rate-limited'; maxNewPerHour: number };

/**
 * Creates the certificate for an allowed on-demand name — the certificate row, the on-demand host and the
 * issuance job, the same job `certs.requested` creates — unless another handshake or replica did first.
 * Check → lock → check again: the advisory lock serializes creators across replicas, and the check under it
 * sees every row committed before; the global hourly limit is counted under the same lock, so it holds
 * across replicas too.
 */
export async function claimOnDemandCertificate(
  db: Db,
  name: string,
  maxNewPerHour: number,
): Promise<ClaimResult> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${lockNames.onDemand}))`.execute(trx);
    const existing = await trx
      .selectFrom('on_demand_hosts')
      .select('certificate_id')
      .where('hostname', '=', name)
      .executeTakeFirst();
    if (existing) return { kind: 'existing', certificateId: existing.certificate_id };
    const { count } = await trx
      .selectFrom('on_demand_hosts')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('created_at', '>', new Date(Date.now() - 3_600_000))
      .executeTakeFirstOrThrow();
    if (Number(count) >= maxNewPerHour) return { kind: 'rate-limited', maxNewPerHour };
    const certificateId = randomUUID();
    await trx
      .insertInto('certificates')
      .values({ id: certificateId, names: [name], names_key: name, status: 'pending', source: 'acme' })
      .execute();
    await trx
      .insertInto('on_demand_hosts')
      .values({ hostname: name, certificate_id: certificateId })
      .execute();
    await enqueueIssuance(trx, {
      certificateId,
      namesKey: name,
      reason: 'new',
      // HTTP-01 works for any name that reaches this server; DNS-01 needs a provider for the zone.
      challenge: 'auto',
      keyType: 'ecdsa-p256',
    });
    return { kind: 'created', certificateId };
  });
}

/** Status, chain and sealed key of one certificate (what the terminator polls while a handshake waits). */
export async function certificateState(db: Db, id: string) {
  return db
    .selectFrom('certificates')
    .select(['id', 'status', 'chain_pem', 'private_key_encrypted', 'not_after', 'last_error_message'])
    .where('id', '=', id)
    .executeTakeFirst();
}
