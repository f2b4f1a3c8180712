import type { Db } from '@gatehouse/db';
import { contextFromHeaders, type Logger, SpanKind, withSpan } from '@gatehouse/telemetry';
import type { DeliveredEvent } from './decode-message.ts';

export type ApplyOutcome = 'handled' | 'duplicate';

/**
 * Applies events in ONE transaction, in the given order: records `(consumer, event_id)` for all of them in
 * `processed_events` (one statement), then runs the handler of each event recorded for the first time. A
 * redelivered or republished event is therefore acknowledged without a second effect. Any handler error
 * rolls back every effect and record of the call and is rethrown; `afterCommit` callbacks run only after a
 * commit.
 *
 * Each handler runs in a span that is a child of its producer's (W3C trace context in the message headers).
 */
export async function applyEvents(
  db: Db,
  consumer: string,
  events: readonly DeliveredEvent[],
  logger: Logger,
): Promise<ApplyOutcome[]> {
  const committed: Array<() => void> = [];
  const outcomes = await db.transaction().execute(async (trx) => {
    const recorded = await trx
      .insertInto('processed_events')
      .values(events.map(({ event }) => ({ consumer, event_id: event.id })))
      .onConflict((conflict) => conflict.doNothing())
      .returning('event_id')
      .execute();
    const fresh = new Set(recorded.map((row) => row.event_id));
    const outcomes: ApplyOutcome[] = [];
    for (const { event, message, subscription } of events) {
      // The same event twice in one batch (a redelivery overtaking its ack) has one effect.
      if (!fresh.delete(event.id)) {
        outcomes.push('duplicate');
        continue;
      }
      await withSpan(
        `consume ${event.type}`,
        {
          kind: SpanKind.CONSUMER,
          parent: contextFromHeaders(traceHeadersOf(message.headers)),
          attributes: { 'messaging.consumer.group.name': consumer, 'messaging.message.id': event.id },
        },
        () =>
          subscription.handler(event, {
            trx,
            logger: logger.child({ event_id: event.id, event_type: event.type }),
            deliveryCount: message.info.deliveryCount,
            afterCommit: (callback) => committed.push(callback),
          }),
      );
      outcomes.push('handled');
    }
    return outcomes;
  });
  for (const callback of committed) {
    try {
      callback();
    } catch (error) {
      logger.warn({ err: error }, 'after-commit callback failed');
    }
  }
  return outcomes;
}

function traceHeadersOf(headers: DeliveredEvent['message']['headers']): Record<string, string> {
  const traceHeaders: Record<string, string> = {};
  for (const key of ['traceparent', 'tracestate']) {
    const value = headers?.get(key);
    if (value) traceHeaders[key] = value;
  }
  return traceHeaders;
}
