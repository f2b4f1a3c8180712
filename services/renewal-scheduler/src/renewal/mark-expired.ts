import type { Db } from '@gatehouse/db';

export interface ExpiredCertificate {
  id: string;
  names: string[];
}

/**
 * Gives uploaded certificates that are past `not_after` the status `expired`, so the API, the dashboard and
 * `?status=expired` say what they are. Nothing renews an upload; the operator uploads a new one. Serving needs no
 * event: proxy-config never serves a certificate past its `not_after` (it falls back on its own clock), so this is
 * the record catching up with the time. ACME certificates in use never reach `expired`: at expiry they get a
 * fallback. Reads the `certificates_expiring_candidates` partial index (uploads are in it), so the cost follows the
 * uploads.
 */
export function markExpiredUploads(db: Db, options: { limit: number; now?: Date }) {
  return markExpired(db, options, 'uploads');
}

/**
 * Gives certificates no app uses (released, migration 0020) that are past `not_after` the status `expired`: nothing
 * renews them, and an app that brings their names back now gets a new certificate instead of an expired one (the api
 * reuses only valid, pending or renewing ones). No event and no mail: nobody was served by them. Reads the
 * `certificates_released_expiry` partial index, so the cost follows the released certificates still valid.
 */
export function markExpiredReleased(db: Db, options: { limit: number; now?: Date }) {
  return markExpired(db, options, 'released');
}

/** `valid` certificates of one kind past `not_after` become `expired`, a batch at a time, once each. */
async function markExpired(
  db: Db,
  options: { limit: number; now?: Date },
  kind: 'uploads' | 'released',
): Promise<ExpiredCertificate[]> {
  const now = options.now ?? new Date();
  return db
    .updateTable('certificates')
    .set({ status: 'expired', updated_at: now })
    .where('id', 'in', (select) =>
      select
        .selectFrom('certificates')
        .select('id')
        .where((eb) => (kind === 'uploads' ? eb('source', '=', 'custom') : eb('released_at', 'is not', null)))
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
