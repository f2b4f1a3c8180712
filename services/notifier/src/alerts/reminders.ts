import type { Db } from '@gatehouse/db';
import { reminderMail } from '../mail/compose.ts';
import { certificateFacts } from './certificate-facts.ts';
import { queueNotification } from './queue-notification.ts';

/**
 * Queues a reminder for every failure episode whose last mail is `intervalMs` old, and counts it on the
 * episode; an episode of a certificate that is gone or that no app uses any more ends quietly. Episodes are
 * claimed with SKIP LOCKED and the mail is queued in the same transaction, so replicas never remind twice. Each
 * reminder is a `notifications` row of kind `reminder` with the certificate's id: renewal-scheduler counts those
 * to fall back after N of them.
 */
export async function queueDueReminders(
  db: Db,
  options: { intervalMs: number; holdMs: number; limit: number },
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const due = await trx
      .selectFrom('certificate_alerts')
      .selectAll()
      .where('last_mailed_at', '<=', new Date(Date.now() - options.intervalMs))
      .orderBy('last_mailed_at')
      .limit(options.limit)
      .forUpdate()
      .skipLocked()
      .execute();
    for (const alert of due) {
      const facts = await certificateFacts(trx, alert.certificate_id);
      if (!facts || facts.released) {
        // The certificate is gone, or no app uses it (its app was deleted): the episode ends without a mail.
        await trx
          .deleteFrom('certificate_alerts')
          .where('certificate_id', '=', alert.certificate_id)
          .execute();
        continue;
      }
      const reminder = alert.reminders + 1;
      await queueNotification(trx, {
        kind: 'reminder',
        certificateId: alert.certificate_id,
        mail: reminderMail({
          certificateId: alert.certificate_id,
          names: facts.names,
          errorKind: alert.error_kind,
          errorMessage: alert.error_message,
          retryAt: alert.retry_at,
          servingUntil: facts.servingUntil,
          attempts: facts.attempts,
          since: alert.started_at,
          reminder,
        }),
        data: {
          names: facts.names,
          reminder,
          errorKind: alert.error_kind,
          since: alert.started_at.toISOString(),
        },
        holdMs: options.holdMs,
      });
      await trx
        .updateTable('certificate_alerts')
        .set({ last_mailed_at: new Date(), reminders: reminder })
        .where('certificate_id', '=', alert.certificate_id)
        .execute();
    }
    return due.length;
  });
}
