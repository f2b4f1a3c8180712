import { randomUUID } from 'node:crypto';
import type { Database } from '@gatehouse/db';
import type { Transaction } from 'kysely';
import type { Mail } from '../mail/compose.ts';

export type NotificationKind =
  | 'issue-failed'
  | 'reminder'
  | 'expiring'
  | 'fallback-activated'
  | 'recovered'
  | 'digest'
  | 'tcp-proxy-failed';

/**
 * Records a notification as `pending` in the caller's transaction (the consumer's or the reminder loop's),
 * so it exists exactly when the event that caused it is marked handled. The sender mails it once
 * `holdMs` has passed (the digest window). A `dedupeKey` already used makes this a no-op.
 */
export async function queueNotification(
  trx: Transaction<Database>,
  notification: {
    kind: NotificationKind;
    certificateId: string | null;
    mail: Mail;
    data: Record<string, unknown>;
    dedupeKey?: string;
    holdMs: number;
  },
): Promise<boolean> {
  const result = await trx
    .insertInto('notifications')
    .values({
      id: randomUUID(),
      kind: notification.kind,
      certificate_id: notification.certificateId,
      dedupe_key: notification.dedupeKey ?? null,
      subject: notification.mail.subject,
      body: notification.mail.body,
      recipients: [],
      status: 'pending',
      next_attempt_at: new Date(Date.now() + notification.holdMs),
      data: JSON.stringify(notification.data),
    })
    .onConflict((conflict) => conflict.column('dedupe_key').where('dedupe_key', 'is not', null).doNothing())
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}
