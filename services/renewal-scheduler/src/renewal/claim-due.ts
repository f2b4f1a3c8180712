import type { Database, Db } from '@gatehouse/db';
import { certsRenewalDue, createEvent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import { newTraceContext, withSpan } from '@gatehouse/telemetry';
import { sql, type Transaction } from 'kysely';

export interface ClaimedRenewal {
  id: string;
  names: string[];
  reason: string;
}

/**
 * Hands out the certificates whose `renew_at` has passed: marks them `renewing` and emits
 * `certs.renewal-due`, in one transaction. The scan reads the `renew_at` index and locks rows with
 * SKIP LOCKED, so replicas split the due set and its cost follows the number due, not the total.
 */
export async function claimDueRenewals(db: Db, limit: number, now = new Date()): Promise<ClaimedRenewal[]> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<ClaimedRenewal>`
      update certificates set status = 'renewing', updated_at = ${now}
      where id in (
        select id from certificates
        where renew_at <= ${now} and status = 'valid' and source in ('acme', 'local-ca')
        order by renew_at
        limit ${limit}
        for update skip locked
      )
      returning id, names, coalesce(renew_reason, 'lifetime') as reason`.execute(trx);
    for (const row of rows) await emitRenewalDue(trx, row);
    return rows;
  });
}

async function emitRenewalDue(trx: Transaction<Database>, row: ClaimedRenewal): Promise<void> {
  const reason =
    row.reason === 'ari' || row.reason === 'retry' || row.reason === 'manual' ? row.reason : 'lifetime';
  // One trace per renewal, rooted here: the event carries it to cert-issuer's round, its ACME calls and the
  // proxy's write, instead of every renewal of a tick sharing one trace (or none).
  await withSpan(
    'renewal due',
    {
      parent: newTraceContext(),
      attributes: { 'gatehouse.certificate_id': row.id, 'gatehouse.renew_reason': reason },
    },
    () =>
      enqueue(
        trx,
        createEvent(certsRenewalDue, {
          source: 'renewal-scheduler',
          subject: row.id,
          data: { certificateId: row.id, names: row.names, reason },
        }),
      ),
  );
}
