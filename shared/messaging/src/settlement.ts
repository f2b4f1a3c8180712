import type { Db } from '@gatehouse/db';
import type { Logger } from '@gatehouse/telemetry';
import type { JsMsg } from '@nats-io/jetstream';
import { deadLetterPayload } from './dead-letter-payload.ts';
import { consumerMetrics } from './metrics.ts';

export interface Settlement {
  ack(message: JsMsg): void;
  /** Redelivery after `delayMs`. */
  nak(message: JsMsg, delayMs: number): void;
  /**
   * Gives a message up: recorded in `dead_letters`, then terminated. If it cannot be recorded (Postgres down)
   * it is redelivered later instead, so the evidence is never lost.
   */
  terminate(message: JsMsg, reason: string, eventId: string | null, type: string): Promise<void>;
}

/** How a consumer acknowledges, redelivers and gives up messages. Nothing here throws. */
export function createSettlement(options: {
  db: Db;
  consumer: string;
  logger: Logger;
  retryDelayMs: (deliveryCount: number) => number;
}): Settlement {
  const { db, consumer, logger } = options;

  /** ack/nak/term on a closed connection throw; the broker will redeliver, so log and move on. */
  function settle(message: JsMsg, action: 'ack' | 'nak' | 'term', delayMs?: number): void {
    try {
      if (action === 'ack') message.ack();
      else if (action === 'nak') message.nak(delayMs);
      else message.term();
    } catch (error) {
      logger.warn(
        { err: error, action, stream_seq: message.seq },
        'cannot settle message, it will be redelivered',
      );
    }
  }

  return {
    ack: (message) => settle(message, 'ack'),
    nak: (message, delayMs) => settle(message, 'nak', delayMs),
    async terminate(message, reason, eventId, type) {
      try {
        await db
          .insertInto('dead_letters')
          .values({
            consumer,
            nats_subject: message.subject,
            stream_seq: String(message.seq),
            event_id: eventId,
            payload: deadLetterPayload(message.string()),
            reason: reason.slice(0, 4_000),
          })
          .execute();
      } catch (error) {
        logger.warn({ err: error, event_id: eventId }, 'dead letter not recorded, will retry');
        settle(message, 'nak', options.retryDelayMs(message.info.deliveryCount));
        return;
      }
      // No reason on the wire: NATS 2.9 ignores `+TERM <reason>`; the reason lives in dead_letters.
      settle(message, 'term');
      consumerMetrics.handled.inc({ consumer, type, outcome: 'dead-letter' });
      logger.error({ event_id: eventId, reason, nats_subject: message.subject }, 'event terminated');
    },
  };
}
