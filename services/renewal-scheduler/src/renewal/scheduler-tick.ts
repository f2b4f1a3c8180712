import type { Db } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import type { Logger } from '@gatehouse/telemetry';
import { activateExpiredFallbacks, activateFallbacksAfterReminders } from './activate-fallback.ts';
import type { AriClient } from './ari-client.ts';
import { pollDueAri } from './ari-poll.ts';
import { claimDueRenewals } from './claim-due.ts';
import { emitExpiring } from './emit-expiring.ts';
import { markExpiredReleased, markExpiredUploads } from './mark-expired.ts';

export interface TickOptions {
  db: Db;
  box: SecretBox;
  ari: AriClient;
  logger: Logger;
  batchSize: number;
  remindersBeforeFallback: number;
  expiringWithinMs: number;
  /** Stop between batches (the service is draining). */
  stopping?: () => boolean;
}

export interface TickResult {
  renewalsDue: number;
  ariPolled: number;
  ariRescheduled: number;
  expiring: number;
  fallbacks: number;
  expiredUploads: number;
  expiredReleased: number;
}

/**
 * One pass of the scheduler's clock. Every stage drains what is due a batch at a time through its own
 * index, so a tick costs in proportion to the work due, not to the number of certificates.
 */
export async function schedulerTick(options: TickOptions): Promise<TickResult> {
  const { db, logger, batchSize } = options;
  const stopping = options.stopping ?? (() => false);
  const result: TickResult = {
    renewalsDue: 0,
    ariPolled: 0,
    ariRescheduled: 0,
    expiring: 0,
    fallbacks: 0,
    expiredUploads: 0,
    expiredReleased: 0,
  };

  // ARI first: a window that says "now" (a revocation) should be claimed in this same tick.
  for (;;) {
    const polled = await pollDueAri(db, options.ari, { limit: batchSize, logger });
    result.ariPolled += polled.polled;
    result.ariRescheduled += polled.rescheduled;
    if (polled.polled < batchSize || stopping()) break;
  }
  for (;;) {
    const claimed = await claimDueRenewals(db, batchSize);
    for (const renewal of claimed)
      logger.info({ cert_id: renewal.id, reason: renewal.reason }, 'renewal due');
    result.renewalsDue += claimed.length;
    if (claimed.length < batchSize || stopping()) break;
  }
  for (;;) {
    const expiring = await emitExpiring(db, { withinMs: options.expiringWithinMs, limit: batchSize });
    for (const certificate of expiring)
      logger.warn(
        { cert_id: certificate.id, names: certificate.names, not_after: certificate.not_after.toISOString() },
        'certificate expires soon and has not been renewed',
      );
    result.expiring += expiring.length;
    if (expiring.length < batchSize || stopping()) break;
  }
  // Expired without a successful renewal, or never issued after many reminders: serve a fallback, not nothing.
  for (;;) {
    const activated = [
      ...(await activateExpiredFallbacks(db, options.box, batchSize)),
      ...(await activateFallbacksAfterReminders(db, options.box, {
        limit: batchSize,
        reminders: options.remindersBeforeFallback,
      })),
    ];
    for (const fallback of activated)
      logger.warn(
        { cert_id: fallback.id, names: fallback.names, fallback: fallback.fallback },
        'fallback activated',
      );
    result.fallbacks += activated.length;
    if (activated.length < batchSize || stopping()) break;
  }
  for (;;) {
    const expired = await markExpiredUploads(db, { limit: batchSize });
    for (const upload of expired)
      logger.warn({ cert_id: upload.id, names: upload.names }, 'uploaded certificate expired');
    result.expiredUploads += expired.length;
    if (expired.length < batchSize || stopping()) break;
  }
  for (;;) {
    const expired = await markExpiredReleased(db, { limit: batchSize });
    for (const certificate of expired)
      logger.info({ cert_id: certificate.id, names: certificate.names }, 'certificate no app uses expired');
    result.expiredReleased += expired.length;
    if (expired.length < batchSize || stopping()) break;
  }
  return result;
}
