import type { Db } from '@gatehouse/db';
import type { Logger } from '@gatehouse/telemetry';
import { sql } from 'kysely';
import type { AriClient } from './ari-client.ts';
import { nextAriPollAt, type Random, timeInWindow } from './renewal-time.ts';

/** While a replica polls, the row is not due for others; a crashed replica's claim lapses after this. */
const POLL_LEASE_MS = 5 * 60_000;
/** After a failed poll: the lifetime time stays, and the CA is asked again later. */
const RETRY_AFTER_FAILURE_MS = 3_600_000;

interface DuePoll {
  id: string;
  serial: string;
  issuer: string;
  chain_pem: string;
  not_before: Date;
  not_after: Date;
  ari_window_start: Date | null;
  ari_window_end: Date | null;
}

export interface AriPollResult {
  polled: number;
  /** Certificates whose renew_at moved into a (new) suggested window. */
  rescheduled: number;
}

/**
 * Asks the CA for the renewal window of every certificate whose ARI poll is due. Rows are claimed through
 * the `ari_next_poll_at` index with SKIP LOCKED and leased by pushing `ari_next_poll_at` ahead, so the HTTP
 * calls run outside any transaction and replicas never poll the same certificate twice. The answer is
 * written only while the row still holds the polled serial (a renewal in between wins).
 */
export async function pollDueAri(
  db: Db,
  client: AriClient,
  options: { limit: number; logger: Logger; now?: Date; random?: Random },
): Promise<AriPollResult> {
  const now = options.now ?? new Date();
  const { rows } = await sql<DuePoll>`
    update certificates set ari_next_poll_at = ${new Date(now.getTime() + POLL_LEASE_MS)}
    where id in (
      select id from certificates
      where ari_next_poll_at <= ${now} and status = 'valid' and source = 'acme'
        and chain_pem is not null and issuer is not null and serial is not null and released_at is null
      order by ari_next_poll_at
      limit ${options.limit}
      for update skip locked
    )
    returning id, serial, issuer, chain_pem, not_before, not_after, ari_window_start, ari_window_end`.execute(
    db,
  );

  let rescheduled = 0;
  await Promise.all(
    rows.map(async (row) => {
      try {
        const info = await client.renewalInfo(row.issuer, row.chain_pem);
        if (!info) {
          // The CA offers no ARI: the lifetime rule stands, and nothing is polled for this certificate.
          await db
            .updateTable('certificates')
            .set({ ari_next_poll_at: null })
            .where('id', '=', row.id)
            .where('serial', '=', row.serial)
            .execute();
          return;
        }
        const sameWindow =
          row.ari_window_start?.getTime() === info.window.start.getTime() &&
          row.ari_window_end?.getTime() === info.window.end.getTime();
        const nextPoll = nextAriPollAt(info.retryAfter, new Date());
        if (sameWindow) {
          await db
            .updateTable('certificates')
            .set({ ari_next_poll_at: nextPoll })
            .where('id', '=', row.id)
            .where('serial', '=', row.serial)
            .execute();
          return;
        }
        // A window that reaches past expiry is the CA's mistake; renewing after expiry never is right.
        const latest = row.not_after.getTime() - (row.not_after.getTime() - row.not_before.getTime()) / 10;
        const chosen = timeInWindow(info.window, new Date(), options.random);
        const renewAt = new Date(Math.min(chosen.getTime(), latest));
        const updated = await db
          .updateTable('certificates')
          .set({
            renew_at: renewAt,
            renew_reason: 'ari',
            ari_window_start: info.window.start,
            ari_window_end: info.window.end,
            ari_next_poll_at: nextPoll,
            updated_at: new Date(),
          })
          .where('id', '=', row.id)
          .where('serial', '=', row.serial)
          .where('status', '=', 'valid')
          .executeTakeFirst();
        if (updated.numUpdatedRows > 0n) {
          rescheduled++;
          options.logger.info(
            {
              cert_id: row.id,
              window_start: info.window.start.toISOString(),
              window_end: info.window.end.toISOString(),
              renew_at: renewAt.toISOString(),
              explanation: info.explanationUrl,
            },
            'renewal scheduled in the CA’s ARI window',
          );
        }
      } catch (error) {
        options.logger.warn(
          { cert_id: row.id, issuer: row.issuer, err: (error as Error).message },
          'ARI poll failed; the lifetime renewal time stands',
        );
        await db
          .updateTable('certificates')
          .set({ ari_next_poll_at: new Date(Date.now() + RETRY_AFTER_FAILURE_MS) })
          .where('id', '=', row.id)
          .where('serial', '=', row.serial)
          .execute();
      }
    }),
  );
  return { polled: rows.length, rescheduled };
}
