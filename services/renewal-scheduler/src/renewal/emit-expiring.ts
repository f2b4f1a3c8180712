import type { Db } from '@gatehouse/db';
import { certsExpiring, createEvent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import { sql } from 'kysely';

export interface ExpiringCertificate {
  id: string;
  names: string[];
  not_after: Date;
}

/**
 * Emits `certs.expiring` once per certificate version (`expiring_notified_for` remembers the `not_after`)
 * for what will expire within `withinMs` with nothing on the way to replace it: an uploaded certificate
 * (never renewed automatically) or an ACME one whose renewal has failed since it was issued. A healthy
 * short-lived certificate (6 days, always "within 7 days") is not reported, nor is one no app uses (released). The scan reads the partial
 * index of candidates (custom, or not `valid`), so its cost follows those rows, not the fleet.
 */
export async function emitExpiring(
  db: Db,
  options: { withinMs: number; limit: number; now?: Date },
): Promise<ExpiringCertificate[]> {
  const now = options.now ?? new Date();
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<ExpiringCertificate>`
      update certificates set expiring_notified_for = not_after
      where id in (
        select id from certificates
        where (source = 'custom' or status <> 'valid')
          and not_after is not null
          and not_after > ${now} and not_after <= ${new Date(now.getTime() + options.withinMs)}
          and expiring_notified_for is distinct from not_after
          and released_at is null
          and (
            (source = 'custom' and status = 'valid')
            or (source = 'acme' and status = 'renewing' and last_error_at > coalesce(not_before, 'epoch'::timestamptz))
          )
        order by not_after
        limit ${options.limit}
        for update skip locked
      )
      returning id, names, not_after`.execute(trx);
    for (const row of rows) {
      await enqueue(
        trx,
        createEvent(certsExpiring, {
          source: 'renewal-scheduler',
          subject: row.id,
          data: { certificateId: row.id, names: row.names, notAfter: row.not_after.toISOString() },
        }),
      );
    }
    return rows;
  });
}
