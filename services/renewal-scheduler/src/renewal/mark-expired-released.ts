import type { Db } from '@gatehouse/db';

export interface ExpiredReleased {
  id: string;
  names: string[];
}

/**
 * Gives certificates no app uses (released, migration 0020) that are past `not_after` the status `expired`: nothing
 * renews them, and an app that brings their names back now gets a new certificate instead of an expired one (the api
 * reuses only valid, pending or renewing ones). No event and no mail: nobody was served by them. Reads the
 * `certificates_released_expiry` partial index, so the cost follows the released certificates still valid.
 */
export async function markExpiredReleased(
  db: Db,
  options: { limit: number; now?: Date },
): Promise<ExpiredReleased[]> {
  const now = options.now ?? new Date();
  return db
    .updateTable('certificates')
    .set({ status: 'expired', updated_at: now })
    .where('id', 'in', (select) =>
      select
        .selectFrom('certificates')
        .select('id')
        .where('released_at', 'is not', null)
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
