import { randomUUID } from 'node:crypto';
import { type Db, lockNames } from '@gatehouse/db';
import { sql } from 'kysely';
import { enqueueIssuance } from '../issuance/job-queue.ts';

/** Whether an app has `name` as a domain: then it is configured in advance, never on demand. */
export async function isAppDomain(db: Db, name: string): Promise<boolean> {
  const row = await db.selectFrom('domains').select('id').where('hostname', '=', name).executeTakeFirst();
  return row !== undefined;
}

/** The on-demand host's certificate id, when the name was allowed before (by any replica). */
export async function findOnDemandCertificateId(db: Db, name: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('on_demand_hosts')
    .select('certificate_id')
    .where('hostname', '=', name)
    .executeTakeFirst();
  return row?.certificate_id;
}

export type ClaimResult =
  | { kind: 'created'; certificateId: string }
  /** An ACME certificate for exactly this name existed (an app's, since removed): linked, not ordered again. */
  | { kind: 'adopted'; certificateId: string }
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
    const reusable = await trx
      .selectFrom('certificates')
      .select('id')
      .where('names_key', '=', name)
      .where('source', '=', 'acme')
      .where('status', 'in', ['valid', 'pending', 'renewing'])
      // One an app let go is not renewed (migration 0020); the lock orders this against a release by the api.
      .where('released_at', 'is', null)
      .orderBy(sql`case status when 'valid' then 0 else 1 end`)
      .orderBy('created_at', 'desc')
      .limit(1)
      .forUpdate()
      .executeTakeFirst();
    if (reusable) {
      await trx
        .insertInto('on_demand_hosts')
        .values({ hostname: name, certificate_id: reusable.id })
        .execute();
      return { kind: 'adopted', certificateId: reusable.id };
    }
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
