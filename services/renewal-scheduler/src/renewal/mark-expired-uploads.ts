import type { Db } from '@gatehouse/db';

export interface ExpiredUpload {
  id: string;
  names: string[];
}

/**
 * Gives uploaded certificates that are past `not_after` the status `expired`, so the API, the dashboard and
 * `?status=expired` say what they are. Nothing renews an upload; the operator uploads a new one. Serving needs no
 * event: proxy-config never serves a certificate past its `not_after` (it falls back on its own clock), so this is
 * the record catching up with the time. ACME certificates never reach `expired`: at expiry they get a fallback.
 * Reads the `certificates_expiring_candidates` partial index (uploads are in it), so the cost follows the uploads.
 */
export async function markExpiredUploads(
  db: Db,
  options: { limit: number; now?: Date },
): Promise<ExpiredUpload[]> {
  const now = options.now ?? new Date();
  return db
    .updateTable('certificates')
    .set({ status: 'expired', updated_at: now })
    .where('id', 'in', (select) =>
      select
        .selectFrom('certificates')
        .select('id')
        .where('source', '=', 'custom')
        .where('status', '=', 'valid')
        .where('not_after', '<=', now)
        .orderBy('not_after')
        .limit(options.limit)
        .forUpdate()
        .skipLocked(),
    )
    .returning(['id', 'names'])
    .execute();
}
