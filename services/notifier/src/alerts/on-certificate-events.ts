import { certsExpiring, certsFallbackActivated, certsIssued, certsIssueFailed } from '@gatehouse/events';
import { on, type Subscription } from '@gatehouse/messaging';
import { sql } from 'kysely';
import { expiringMail, fallbackMail, issueFailedMail, recoveredMail } from '../mail/compose.ts';
import { certificateFacts } from './certificate-facts.ts';
import { queueNotification } from './queue-notification.ts';

/**
 * One mail per certificate per change of state. A failure opens an episode (`certificate_alerts`) and mails
 * once; further failures of the same episode only update what the next reminder says; a success ends it
 * with a recovery mail. Fallbacks and expiry notices mail once each (dedupe keys).
 */
export function certificateEventSubscriptions(options: { holdMs: number }): Subscription[] {
  const { holdMs } = options;
  return [
    on(certsIssueFailed, async (event, { trx }) => {
      const data = event.data;
      const facts = await certificateFacts(trx, data.certificateId);
      if (!facts) return;
      const retryAt = data.retryAt ? new Date(data.retryAt) : null;
      const opened = await trx
        .insertInto('certificate_alerts')
        .values({
          certificate_id: data.certificateId,
          started_at: new Date(event.time),
          error_kind: data.kind,
          error_message: data.message,
          retry_at: retryAt,
          last_mailed_at: new Date(),
        })
        .onConflict((conflict) =>
          conflict.column('certificate_id').doUpdateSet({
            error_kind: data.kind,
            error_message: data.message,
            retry_at: retryAt,
          }),
        )
        // xmax is 0 only for a row this statement inserted: a new episode, not an update of an open one.
        .returning(sql<boolean>`xmax = 0`.as('opened'))
        .executeTakeFirstOrThrow();
      if (!opened.opened) return;
      const mail = issueFailedMail({
        certificateId: data.certificateId,
        names: data.names,
        errorKind: data.kind,
        errorMessage: data.message,
        retryAt,
        servingUntil: facts.servingUntil,
        attempts: facts.attempts,
      });
      await queueNotification(trx, {
        kind: 'issue-failed',
        certificateId: data.certificateId,
        mail,
        data: { names: data.names, errorKind: data.kind, errorMessage: data.message, retryAt: data.retryAt },
        dedupeKey: `issue-failed:${event.id}`,
        holdMs,
      });
    }),
    on(certsIssued, async (event, { trx }) => {
      const ended = await trx
        .deleteFrom('certificate_alerts')
        .where('certificate_id', '=', event.data.certificateId)
        .returning('started_at')
        .executeTakeFirst();
      if (!ended) return; // No failure before it: nothing to tell.
      await queueNotification(trx, {
        kind: 'recovered',
        certificateId: event.data.certificateId,
        mail: recoveredMail({
          certificateId: event.data.certificateId,
          names: event.data.names,
          since: ended.started_at,
          notAfter: new Date(event.data.notAfter),
        }),
        data: {
          names: event.data.names,
          since: ended.started_at.toISOString(),
          notAfter: event.data.notAfter,
        },
        dedupeKey: `recovered:${event.id}`,
        holdMs,
      });
    }),
    on(certsFallbackActivated, async (event, { trx }) => {
      const data = event.data;
      // A fallback is itself a failure state: reminders continue and a success mails the recovery.
      await trx
        .insertInto('certificate_alerts')
        .values({
          certificate_id: data.certificateId,
          started_at: new Date(event.time),
          error_kind: 'internal',
          error_message:
            data.reason === 'expired'
              ? 'the certificate expired without a successful renewal'
              : 'no certificate could be obtained',
          last_mailed_at: new Date(),
        })
        .onConflict((conflict) => conflict.column('certificate_id').doNothing())
        .execute();
      await queueNotification(trx, {
        kind: 'fallback-activated',
        certificateId: data.certificateId,
        mail: fallbackMail(data),
        data: { names: data.names, fallback: data.fallback, reason: data.reason },
        dedupeKey: `fallback:${event.id}`,
        holdMs,
      });
    }),
    on(certsExpiring, async (event, { trx }) => {
      const facts = await certificateFacts(trx, event.data.certificateId);
      if (!facts) return;
      await queueNotification(trx, {
        kind: 'expiring',
        certificateId: event.data.certificateId,
        mail: expiringMail({
          certificateId: event.data.certificateId,
          names: event.data.names,
          notAfter: new Date(event.data.notAfter),
          source: facts.source,
        }),
        data: { names: event.data.names, notAfter: event.data.notAfter, source: facts.source },
        dedupeKey: `expiring:${event.data.certificateId}:${event.data.notAfter}`,
        holdMs,
      });
    }),
  ];
}
