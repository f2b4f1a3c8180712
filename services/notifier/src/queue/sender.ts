import { randomUUID } from 'node:crypto';
import type { Db } from '@gatehouse/db';
import { createEvent, notificationsSent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import type { Logger } from '@gatehouse/telemetry';
import { sql } from 'kysely';
import { digestMail, type Mail } from '../mail/compose.ts';
import { notificationMetrics } from '../metrics.ts';
import { adminRecipients } from './recipients.ts';

/** Sends one mail; throws when the server refuses it or cannot be reached. */
export type SendMail = (mail: Mail & { to: string[] }) => Promise<void>;

export interface SenderOptions {
  db: Db;
  logger: Logger;
  /** Undefined when SMTP_URL is not set: notifications are recorded as `unsent`. */
  send: SendMail | undefined;
  adminEmails: readonly string[];
  digestThreshold: number;
  /** Delays after the 1st, 2nd, … failed send; the last repeats. */
  retryBackoffMs: readonly number[];
}

/** While a send is in flight the row is not due for other replicas; a crashed one's claim lapses. */
const LEASE_MS = 2 * 60_000;
/** A mail that could not go out for this long is given up (and stays visible through the API). */
const GIVE_UP_AFTER_MS = 24 * 3_600_000;

interface Claimed {
  id: string;
  kind: string;
  certificate_id: string | null;
  subject: string;
  body: string;
  attempts: number;
  created_at: Date;
}

/**
 * One pass of the send queue: claims what is due (SKIP LOCKED, leased by pushing `next_attempt_at`), and
 * mails it — one digest instead of many when more than `digestThreshold` are waiting (those still held in
 * the digest window included). Runs outside any consumer, so a slow or dead mail server never holds up
 * events; failures back off and retry for a day.
 */
export async function sendDueNotifications(options: SenderOptions): Promise<number> {
  const { db } = options;
  const batch = await db.transaction().execute(async (trx) => {
    const now = new Date();
    const due = await sql<Claimed>`
      select id, kind, certificate_id, subject, body, attempts, created_at from notifications
      where status = 'pending' and next_attempt_at <= ${now}
      order by next_attempt_at limit 500 for update skip locked`.execute(trx);
    if (due.rows.length === 0) return [];
    const held = await sql<Claimed>`
      select id, kind, certificate_id, subject, body, attempts, created_at from notifications
      where status = 'pending' and next_attempt_at > ${now}
      order by next_attempt_at limit 500 for update skip locked`.execute(trx);
    const claimed =
      due.rows.length + held.rows.length > options.digestThreshold ? [...due.rows, ...held.rows] : due.rows;
    await trx
      .updateTable('notifications')
      .set({ next_attempt_at: new Date(now.getTime() + LEASE_MS) })
      .where(
        'id',
        'in',
        claimed.map((row) => row.id),
      )
      .execute();
    return claimed;
  });
  if (batch.length === 0) return 0;

  const recipients = await adminRecipients(db, options.adminEmails);
  if (!options.send || recipients.length === 0) {
    const reason = !options.send
      ? 'SMTP_URL is not set: nothing is mailed'
      : 'no admin address: set ADMIN_EMAILS or PUT /v1/settings/admin-emails';
    await db
      .updateTable('notifications')
      .set({ status: 'unsent', last_error: reason, next_attempt_at: null })
      .where(
        'id',
        'in',
        batch.map((row) => row.id),
      )
      .execute();
    options.logger.warn({ count: batch.length, reason }, 'notifications recorded, not mailed');
    return batch.length;
  }

  if (batch.length > options.digestThreshold) {
    await sendDigest(options, batch, recipients);
  } else {
    for (const row of batch) await sendOne(options, row, recipients);
  }
  return batch.length;
}

async function sendOne(options: SenderOptions, row: Claimed, recipients: string[]): Promise<void> {
  try {
    await options.send!({ subject: row.subject, body: row.body, to: recipients });
  } catch (error) {
    await recordFailure(options, [row], error);
    return;
  }
  await options.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('notifications')
      .set({
        status: 'sent',
        sent_at: new Date(),
        recipients,
        attempts: row.attempts + 1,
        next_attempt_at: null,
      })
      .where('id', '=', row.id)
      .execute();
    await enqueue(
      trx,
      createEvent(notificationsSent, {
        source: 'notifier',
        subject: row.id,
        data: { notificationId: row.id, kind: row.kind, recipients, certificateId: row.certificate_id },
      }),
    );
  });
  notificationMetrics.sends.inc({ kind: row.kind, outcome: 'sent' });
  options.logger.info(
    { notification_id: row.id, kind: row.kind, cert_id: row.certificate_id },
    'notification sent',
  );
}

async function sendDigest(options: SenderOptions, rows: Claimed[], recipients: string[]): Promise<void> {
  const mail = digestMail(
    rows.map((row) => ({ kind: row.kind, subject: row.subject, createdAt: row.created_at })),
  );
  try {
    await options.send!({ ...mail, to: recipients });
  } catch (error) {
    await recordFailure(options, rows, error);
    return;
  }
  const digestId = randomUUID();
  await options.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('notifications')
      .values({
        id: digestId,
        kind: 'digest',
        certificate_id: null,
        subject: mail.subject,
        body: mail.body,
        recipients,
        status: 'sent',
        attempts: 1,
        sent_at: new Date(),
        data: JSON.stringify({ notificationIds: rows.map((row) => row.id) }),
      })
      .execute();
    await trx
      .updateTable('notifications')
      .set({ status: 'digested', recipients, sent_at: new Date(), next_attempt_at: null })
      .where(
        'id',
        'in',
        rows.map((row) => row.id),
      )
      .execute();
    await enqueue(
      trx,
      createEvent(notificationsSent, {
        source: 'notifier',
        subject: digestId,
        data: { notificationId: digestId, kind: 'digest', recipients, certificateId: null },
      }),
    );
  });
  notificationMetrics.sends.inc({ kind: 'digest', outcome: 'sent' });
  options.logger.info({ notification_id: digestId, count: rows.length }, 'digest sent');
}

async function recordFailure(options: SenderOptions, rows: Claimed[], error: unknown): Promise<void> {
  const message = (error as Error)?.message ?? String(error);
  for (const row of rows) {
    const attempts = row.attempts + 1;
    const giveUp = Date.now() - row.created_at.getTime() > GIVE_UP_AFTER_MS;
    const backoff = options.retryBackoffMs;
    const delay = backoff[Math.min(attempts, backoff.length) - 1] ?? 60_000;
    await options.db
      .updateTable('notifications')
      .set({
        status: giveUp ? 'failed' : 'pending',
        attempts,
        last_error: message,
        next_attempt_at: giveUp ? null : new Date(Date.now() + delay),
      })
      .where('id', '=', row.id)
      .execute();
    notificationMetrics.sends.inc({ kind: row.kind, outcome: giveUp ? 'given-up' : 'retrying' });
  }
  options.logger.warn({ count: rows.length, err: message }, 'mail could not be sent; will retry');
}
